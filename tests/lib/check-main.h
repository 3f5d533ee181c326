/* SPDX-License-Identifier: MIT */
/* The main() of a Check suite: CHECK_MAIN(suite_function) runs it and exits 1 on any failure. */
#ifndef KLDLOAD_TESTS_CHECK_MAIN_H
#define KLDLOAD_TESTS_CHECK_MAIN_H

#include <check.h>

#define CHECK_MAIN(make_suite)                                                                     \
	int main(void)                                                                             \
	{                                                                                          \
		SRunner *sr = srunner_create(make_suite());                                        \
		int failed;                                                                        \
                                                                                                   \
		srunner_run_all(sr, CK_NORMAL);                                                    \
		failed = srunner_ntests_failed(sr);                                                \
		srunner_free(sr);                                                                  \
		return failed ? 1 : 0;                                                             \
	}

#endif
