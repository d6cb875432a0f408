// SPDX-License-Identifier: GPL-2.0
// TC_ACT_OK and nothing else: the floor of a tc BPF_PROG_TEST_RUN sample (podcost.ts), measured in
// the same rounds as the programs, so the method's fixed part can be told from the program's.
// No headers: nothing here needs more than the verdict value (TC_ACT_OK is 0 in the UAPI).
struct __sk_buff;

__attribute__((section("tc"), used)) int kpb_bench_tc_pass(struct __sk_buff *ctx)
{
	return 0; /* TC_ACT_OK */
}

char LICENSE[] __attribute__((section("license"), used)) = "GPL";
