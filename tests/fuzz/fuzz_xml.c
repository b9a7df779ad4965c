/* libFuzzer target: EC2 answers. The bytes are parsed as the client parses
 * a response body (np_xml_parse), read as a DescribeInstances/RunInstances
 * and as a DescribeInstanceTypes answer, and read as an error document. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "aws/internal.h"
#include "nestplan/ec2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a parsed answer promises the planner (issue 16.5): every instance
 * has an id, a type and a state, and its numbers are in range. */
static void check_instances(const struct np_instance *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!v[i].instance_id || !v[i].instance_type || !v[i].state ||
		    v[i].core_count < 0 || v[i].core_count > 4096 || v[i].threads_per_core < 0 ||
		    v[i].threads_per_core > 16)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xmlDoc *doc = np_xml_parse((const char *)data, size);
	struct np_err err = NP_ERR_INIT;

	if (doc) {
		struct np_instance *v = NULL;
		size_t n = 0, alloc = 0;
		struct np_catalog cat = NP_CATALOG_INIT;
		char *next = NULL;

		if (np_ec2_parse_instances(doc, "DescribeInstances", &v, &n, &alloc, &next, &err) <
			0 &&
		    n)
			abort(); /* a refused answer appends nothing */
		check_instances(v, n);
		free(next);
		next = NULL;
		np_ec2_parse_instances(doc, "RunInstances", &v, &n, &alloc, &next, &err);
		check_instances(v, n);
		np_instances_free(v, n);
		free(next);
		next = NULL;
		np_ec2_parse_instance_types(doc, &cat, &next, &err);
		for (size_t i = 0; i < cat.n; i++)
			if (np_catalog_find(&cat, cat.v[i].name) == NULL)
				abort();
		np_catalog_release(&cat);
		free(next);
		xmlFreeDoc(doc);
	}
	np_aws_error_from_response("DescribeInstances", 400, (const char *)data, size, &err);
	np_aws_error_from_response("RunInstances", 503, (const char *)data, size, &err);
	return 0;
}
