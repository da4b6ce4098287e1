/*
 * tool.h — the subcommands of the `ariadne` command. Each takes the
 * arguments after its name (argv[0] is the subcommand) and returns the
 * process exit status: 0 success, 1 failure, 2 usage error.
 * They are plain functions so tests can call them in-process.
 */
#ifndef ARIADNE_TOOL_H
#define ARIADNE_TOOL_H

int tool_topo_main(int argc, char **argv);
int tool_sim_main(int argc, char **argv);
int tool_run_main(int argc, char **argv);
int tool_bench_main(int argc, char **argv);
int tool_keygen_main(int argc, char **argv);

#endif /* ARIADNE_TOOL_H */
