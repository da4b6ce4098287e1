/*
 * test_list.h — every test, once. TEST(name, timeout_seconds): the runner
 * calls test_<name>() in a forked child and kills it past the timeout
 * (scaled by ARI_TEST_TIMEOUT_SCALE for sanitizer builds).
 */
/* status and global addresses */
TEST(status_names, 5)
TEST(gva_fields_roundtrip, 5)
TEST(gva_page_identity, 5)
TEST(gva_tag_rule, 5)
TEST(gva_text_roundtrip, 5)
TEST(gva_text_errors, 5)
/* wire format */
TEST(msg_roundtrip_every_type, 20)
TEST(msg_fields_survive, 5)
TEST(msg_exact_bytes, 5)
TEST(msg_decode_errors, 5)
TEST(msg_check_rules, 5)
TEST(msg_batch_and_hops, 5)
TEST(msg_decode_random_bytes, 60)
/* path cache table */
TEST(pcache_capacity, 5)
TEST(pcache_churn, 10)
TEST(pcache_lru_victim, 5)
TEST(pcache_ttl, 5)
TEST(pcache_generations, 5)
/* the path-cache protocol in the simulator */
TEST(sim_property_mixed, 120)
TEST(sim_property_directory, 60)
TEST(sim_deterministic, 20)
TEST(sim_workloads, 30)
TEST(sim_checks_catch_faults, 30)
TEST(sim_bad_config, 10)
TEST(sim_trace_errors, 5)
TEST(sim_trace_replay, 10)
/* topologies and routing */
TEST(topo_known_values, 10)
TEST(topo_moore_bound, 5)
TEST(topo_figures_agree, 20)
TEST(topo_generator_shapes, 20)
TEST(topo_deterministic, 10)
TEST(topo_opt_improves, 20)
TEST(topo_bad_specs, 5)
TEST(topo_file_errors, 5)
TEST(topo_file_valid, 5)
TEST(topo_garbage_inputs, 20)
TEST(topo_tool_json, 10)
TEST(topo_tool_dot, 5)
TEST(topo_tool_errors, 5)
TEST(route_all_pairs_shortest, 20)
TEST(route_deterministic, 20)
TEST(route_cache_lru, 5)
TEST(route_large_regular, 10)
/* the DPU, hand-driven */
TEST(dpu_reads_merge, 5)
TEST(dpu_tree_and_unref, 5)
TEST(dpu_unref_crossing_data, 5)
TEST(dpu_malformed_input, 5)
TEST(dpu_bad_requests, 5)
