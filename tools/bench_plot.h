/*
 * bench_plot — the SVG charts of `ariadne bench --plot DIR`, written as
 * plain text (no library): latency CDFs on a logarithmic time axis,
 * horizontal bars for rates, and lines of a rate against a count (lock
 * throughput against contenders). Each series is coloured by its system
 * (ariadne, mpi, shmem, limit) the same way in every chart.
 */
#ifndef ARIADNE_BENCH_PLOT_H
#define ARIADNE_BENCH_PLOT_H

#include <stddef.h>

/* Points of a line chart's series. */
#define PLOT_POINTS_MAX 64

/* One latency distribution: `values` ascending, in ns. */
typedef struct {
    const char *system;  /* colours it */
    const char *label;   /* the legend's text */
    const double *values;
    size_t count;
} plot_cdf_series_t;

/* One bar: the median, and the slow tail as a whisker (0: none). */
typedef struct {
    const char *system;
    const char *label;
    double value, tail;
} plot_bar_t;

/* One line of (x, y) points. */
typedef struct {
    const char *system;
    const char *label;
    double x[PLOT_POINTS_MAX], y[PLOT_POINTS_MAX];
    size_t count;
} plot_line_t;

/* Each writes one SVG file; 0, or -1 with errno when the file cannot be
 * written. */
int plot_cdf(const char *path, const char *title, const plot_cdf_series_t *series,
             size_t count);
int plot_bars(const char *path, const char *title, const char *unit, const plot_bar_t *bars,
              size_t count);
int plot_lines(const char *path, const char *title, const char *x_label, const char *y_unit,
               const plot_line_t *lines, size_t count);

#endif /* ARIADNE_BENCH_PLOT_H */
