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
