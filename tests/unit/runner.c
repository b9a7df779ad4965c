/* One Check runner. Built once with every suite (make check) and once per
 * suite with -DNP_ONE_SUITE=check_<module>_suite for working on one module. */
#include <check.h>
#include <stdlib.h>

#ifdef NP_ONE_SUITE
Suite *NP_ONE_SUITE(void);
#else
#define NP_SUITE(name) Suite *check_##name##_suite(void);
#include "suites.h"
#undef NP_SUITE
#endif

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

#ifdef NP_ONE_SUITE
	srunner_add_suite(sr, NP_ONE_SUITE());
#else
#define NP_SUITE(name) srunner_add_suite(sr, check_##name##_suite());
#include "suites.h"
#undef NP_SUITE
#endif
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
