/* EC2 answers nestplan does not understand are errors, never data (issue
 * 16.5 and 16.13): the root element, required fields, numbers in range,
 * bounds; and text from EC2 escaped before it reaches a terminal. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "aws/internal.h"
#include "nestplan/alloc.h"
#include "nestplan/buf.h"
#include "nestplan/ec2.h"

/* One DescribeInstances page holding one instance, ITEM the elements of its
 * instancesSet item. */
static char *page(const char *item)
{
	return np_xasprintf("<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/"
			    "2016-11-15/\"><reservationSet><item><ownerId>123456789012</ownerId>"
			    "<instancesSet><item>%s</item></instancesSet></item></reservationSet>"
			    "</DescribeInstancesResponse>",
			    item);
}

#define ID    "<instanceId>i-0123456789abcdef0</instanceId>"
#define TYPE  "<instanceType>m8i.2xlarge</instanceType>"
#define STATE "<instanceState><code>16</code><name>running</name></instanceState>"

/* Parse text as a DescribeInstances answer: 0 with one instance in *out,
 * or -1 with the message in err and nothing appended. */
static int parse_text(const char *text, struct np_instance **v, size_t *n, struct np_err *err)
{
	xmlDoc *doc = np_xml_parse(text, strlen(text));
	size_t alloc = 0;
	char *next = NULL;
	int rc;

	*v = NULL;
	*n = 0;
	np_err_clear(err);
	rc = np_ec2_parse_instances(doc, "DescribeInstances", v, n, &alloc, &next, err);
	free(next);
	xmlFreeDoc(doc);
	if (rc < 0)
		ck_assert_uint_eq(*n, 0);
	return rc;
}

static void refused(const char *item, const char *want)
{
	char *text = page(item);
	struct np_instance *v;
	size_t n;
	struct np_err err = NP_ERR_INIT;

	ck_assert_msg(parse_text(text, &v, &n, &err) == -1, "accepted: %s", item);
	ck_assert_msg(strstr(err.msg, "DescribeInstances: "), "got: %s", err.msg);
	ck_assert_msg(strstr(err.msg, want), "want '%s', got: %s", want, err.msg);
	np_instances_free(v, n);
	free(text);
}

START_TEST(test_ec2_answer_root_must_be_the_actions_response)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "<Response><Errors><Error><Code>InternalError</Code><Message>boom</Message></"
		  "Error>"
		  "</Errors><RequestID>r</RequestID></Response>",
		  "an error document came with a success status (InternalError: boom)" },
		{ "<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>",
		  "an error document came with a success status (Throttling" },
		{ "<html><body><h1>Log in</h1></body></html>", "an HTML page came" },
		{ "<HTML><BODY/></HTML>", "an HTML page came" },
		{ "<RunInstancesResponse/>", "the answer is <RunInstancesResponse>, not "
					     "<DescribeInstancesResponse>" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		xmlDoc *doc = np_xml_parse(cases[i].body, strlen(cases[i].body));
		struct np_err err = NP_ERR_INIT;

		ck_assert_ptr_nonnull(doc);
		ck_assert_int_eq(np_ec2_answer_root(doc, "DescribeInstances", NULL, &err), -1);
		ck_assert_msg(strstr(err.msg, "DescribeInstances: "), "got: %s", err.msg);
		ck_assert_msg(strstr(err.msg, cases[i].want), "case %zu: %s", i, err.msg);
		/* The quoted code is never one a caller would act on. */
		ck_assert_str_eq(err.code, "");
		xmlFreeDoc(doc);
	}
	{
		const char *ok = "<DescribeInstancesResponse xmlns=\"x\"><reservationSet/>"
				 "</DescribeInstancesResponse>";
		xmlDoc *doc = np_xml_parse(ok, strlen(ok));
		xmlNode *root = NULL;

		ck_assert_int_eq(np_ec2_answer_root(doc, "DescribeInstances", &root, NULL), 0);
		ck_assert_ptr_nonnull(root);
		xmlFreeDoc(doc);
	}
	ck_assert_int_eq(np_ec2_answer_root(NULL, "StopInstances", NULL, NULL), -1);
}
END_TEST

START_TEST(test_ec2_numbers_out_of_range_are_errors)
{
	/* atoi read 2^63 as -1 and "8x" as 8: each one was a planned change. */
	refused(ID TYPE STATE "<cpuOptions><coreCount>9223372036854775808</coreCount>"
			      "<threadsPerCore>2</threadsPerCore></cpuOptions>",
		"cpuOptions.coreCount '9223372036854775808' is not a number from 1 to 4096");
	refused(ID TYPE STATE "<cpuOptions><coreCount>-1</coreCount></cpuOptions>", "coreCount");
	refused(ID TYPE STATE "<cpuOptions><coreCount>8x</coreCount></cpuOptions>", "coreCount");
	refused(ID TYPE STATE "<cpuOptions><coreCount/></cpuOptions>", "coreCount");
	refused(ID TYPE STATE "<cpuOptions><coreCount>4</coreCount><threadsPerCore>0"
			      "</threadsPerCore></cpuOptions>",
		"threadsPerCore");
	refused(ID TYPE STATE "<amiLaunchIndex>-1</amiLaunchIndex>", "amiLaunchIndex");
	refused(ID TYPE "<instanceState><code>99999</code></instanceState>", "instanceState.code");
	refused(ID TYPE "<instanceState><code>7</code><name>sleeping</name></instanceState>",
		"instanceState is neither a known code nor a known name");
}
END_TEST

START_TEST(test_ec2_missing_fields_the_plan_needs_are_errors)
{
	refused(TYPE STATE, "an instance without instanceId");
	refused(ID STATE, "no instanceType in the answer");
	refused(ID TYPE, "no instanceState in the answer");
	refused(ID "<instanceType>m8i large</instanceType>" STATE, "instanceType is not");
	refused("<instanceId>i-../../x</instanceId>" TYPE STATE, "is not an instance id");
}
END_TEST

START_TEST(test_ec2_owner_id_must_be_an_account_id)
{
	char *text = np_xasprintf("<DescribeInstancesResponse><reservationSet><item><ownerId>"
				  "12345&#27;[2J</ownerId><instancesSet><item>" ID TYPE STATE
				  "</item></instancesSet></item></reservationSet>"
				  "</DescribeInstancesResponse>");
	struct np_instance *v;
	size_t n;
	struct np_err err = NP_ERR_INIT;

	/* (libxml2 refuses &#27; outright; the digits check covers the rest) */
	if (np_xml_parse(text, strlen(text))) {
		ck_assert_int_eq(parse_text(text, &v, &n, &err), -1);
		np_instances_free(v, n);
	}
	free(text);
	text = np_xasprintf("<DescribeInstancesResponse><reservationSet><item><ownerId>acct"
			    "</ownerId><instancesSet><item>" ID TYPE STATE "</item></instancesSet>"
			    "</item></reservationSet></DescribeInstancesResponse>");
	ck_assert_int_eq(parse_text(text, &v, &n, &err), -1);
	ck_assert_msg(strstr(err.msg, "ownerId 'acct' is not an AWS account id"), "%s", err.msg);
	np_instances_free(v, n);
	free(text);
}
END_TEST

START_TEST(test_ec2_a_good_instance_still_parses)
{
	char *text = page(ID TYPE STATE "<cpuOptions><coreCount>4096</coreCount><threadsPerCore>2"
					"</threadsPerCore></cpuOptions><amiLaunchIndex>0"
					"</amiLaunchIndex>");
	struct np_instance *v;
	size_t n;
	struct np_err err = NP_ERR_INIT;

	ck_assert_msg(parse_text(text, &v, &n, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(v[0].core_count, 4096);
	ck_assert_int_eq(v[0].state, NP_RUN_RUNNING);
	ck_assert_str_eq(v[0].owner_id, "123456789012");
	np_instances_free(v, n);
	free(text);
}
END_TEST

START_TEST(test_ec2_depth_and_text_length_are_bounded)
{
	struct np_buf b = NP_BUF_INIT;
	struct np_instance *v;
	size_t n;
	struct np_err err = NP_ERR_INIT;
	char *text;

	np_buf_puts(&b, "<DescribeInstancesResponse>");
	for (int i = 0; i < 40; i++)
		np_buf_puts(&b, "<x>");
	for (int i = 0; i < 40; i++)
		np_buf_puts(&b, "</x>");
	np_buf_puts(&b, "</DescribeInstancesResponse>");
	ck_assert_int_eq(parse_text(b.ptr, &v, &n, &err), -1);
	ck_assert_msg(strstr(err.msg, "nests deeper than 32"), "%s", err.msg);
	np_buf_release(&b);

	np_buf_puts(&b, ID TYPE STATE "<tagSet><item><key>k</key><value>");
	for (int i = 0; i < 9000; i++)
		np_buf_putc(&b, 'v');
	np_buf_puts(&b, "</value></item></tagSet>");
	text = page(b.ptr);
	ck_assert_int_eq(parse_text(text, &v, &n, &err), -1);
	ck_assert_msg(strstr(err.msg, "a text of more than 8192 bytes"), "%s", err.msg);
	free(text);
	np_buf_release(&b);
}
END_TEST

START_TEST(test_ec2_instance_type_numbers_are_range_checked)
{
	const char *fmt = "<DescribeInstanceTypesResponse><instanceTypeSet><item><instanceType>"
			  "m8i.large</instanceType><vCpuInfo>%s</vCpuInfo></item></instanceTypeSet>"
			  "</DescribeInstanceTypesResponse>";
	static const char *const bad[] = {
		"<defaultVCpus>9223372036854775808</defaultVCpus>",
		"<defaultCores>0</defaultCores>",
		"<validCores><item>2</item><item>-1</item></validCores>",
		"<validThreadsPerCore><item>x</item></validThreadsPerCore>",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text = np_xasprintf(fmt, bad[i]);
		xmlDoc *doc = np_xml_parse(text, strlen(text));
		struct np_catalog cat = NP_CATALOG_INIT;
		struct np_err err = NP_ERR_INIT;

		ck_assert_int_eq(np_ec2_parse_instance_types(doc, &cat, NULL, &err), -1);
		ck_assert_msg(strstr(err.msg, "DescribeInstanceTypes: type 'm8i.large'"), "%s",
			      err.msg);
		np_catalog_release(&cat);
		xmlFreeDoc(doc);
		free(text);
	}
}
END_TEST

START_TEST(test_ec2_error_messages_are_escaped)
{
	const char *doc = "<Response><Errors><Error><Code>InvalidParameterValue</Code><Message>"
			  "bad&#13;&#10;\xc2\x9b"
			  "2J\xe2\x80\xae"
			  "end</Message></Error></Errors>"
			  "</Response>";
	struct np_err err = NP_ERR_INIT;

	np_aws_error_from_response("DescribeInstances", 400, doc, strlen(doc), &err);
	ck_assert_str_eq(err.code, "InvalidParameterValue");
	ck_assert_msg(strstr(err.msg, "bad\\x0d\\x0a\\u009b2J\\u202eend"), "%s", err.msg);
}
END_TEST

START_TEST(test_util_visible_escapes_what_a_terminal_would_obey)
{
	static const struct {
		const char *in, *out;
		size_t max;
	} cases[] = {
		{ "plain text, ünïcödé ✓", "plain text, ünïcödé ✓", 0 },
		{ "\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m", 0 },
		{ "a\tb\nc\rd\x7f", "a\\x09b\\x0ac\\x0dd\\x7f", 0 },
		{ "csi \xc2\x9b"
		  "2J",
		  "csi \\u009b2J", 0 },
		{ "rlo \xe2\x80\xae"
		  "x \xe2\x81\xa6"
		  "y",
		  "rlo \\u202ex \\u2066y", 0 },
		{ "bad \xff\xc0\xaf utf8", "bad \\xff\\xc0\\xaf utf8", 0 },
		{ "surrogate \xed\xa0\x80", "surrogate \\xed\\xa0\\x80", 0 },
		{ "abcdef", "abc...", 3 },
		{ "ab\xc3\xa9", "ab...", 3 }, /* the cut never splits a character */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct np_buf b = NP_BUF_INIT;

		np_buf_add_visible(&b, cases[i].in, cases[i].max);
		ck_assert_str_eq(b.ptr, cases[i].out);
		np_buf_release(&b);
	}
	ck_assert_ptr_null(np_visible(NULL));
}
END_TEST

/* ---- Dedicated Hosts (issue 18) ---- */

static bool has_param(const struct np_query *q, const char *name, const char *value)
{
	const char *v = np_query_get(q, name);

	return v && !strcmp(v, value);
}

START_TEST(test_ec2_allocate_hosts_query_matches_the_model)
{
	struct np_host h = { .instance_family = "m8i",
			     .availability_zone = "us-east-1a",
			     .auto_placement = NP_BOOL_FALSE,
			     .host_recovery = NP_BOOL_TRUE };
	struct np_tags tags = { 0 };
	struct np_ec2_allocate req = { .host = &h, .tags = &tags, .client_token = "np-x-kvm-0-g1" };
	struct np_query q = NP_QUERY_INIT;

	np_tags_set(&tags, NP_TAG_ADDRESS, "kvm-hosts[0]");
	np_tags_set(&tags, "team", "ci");
	np_ec2_allocate_hosts_query(&q, &req);
	ck_assert(has_param(&q, "ClientToken", "np-x-kvm-0-g1"));
	ck_assert(has_param(&q, "Quantity", "1"));
	ck_assert(has_param(&q, "InstanceFamily", "m8i"));
	ck_assert_ptr_null(np_query_get(&q, "InstanceType"));
	ck_assert(has_param(&q, "AvailabilityZone", "us-east-1a"));
	ck_assert(has_param(&q, "AutoPlacement", "off"));
	ck_assert(has_param(&q, "HostRecovery", "on"));
	ck_assert(has_param(&q, "TagSpecification.1.ResourceType", "dedicated-host"));
	ck_assert(has_param(&q, "TagSpecification.1.Tag.1.Key", NP_TAG_ADDRESS));
	ck_assert(has_param(&q, "TagSpecification.1.Tag.1.Value", "kvm-hosts[0]"));
	ck_assert(has_param(&q, "TagSpecification.1.Tag.2.Key", "team"));
	/* EC2's model has no DryRun on AllocateHosts. */
	ck_assert_ptr_null(np_query_get(&q, "DryRun"));
	np_query_release(&q);

	/* A type host; unset flags are EC2's defaults, not sent; no tags, no
	 * TagSpecification. */
	h = (struct np_host){ .instance_type = "m8i.4xlarge", .availability_zone = "us-east-1b" };
	req = (struct np_ec2_allocate){ .host = &h, .quantity = 2 };
	np_ec2_allocate_hosts_query(&q, &req);
	ck_assert(has_param(&q, "InstanceType", "m8i.4xlarge"));
	ck_assert(has_param(&q, "Quantity", "2"));
	ck_assert_ptr_null(np_query_get(&q, "InstanceFamily"));
	ck_assert_ptr_null(np_query_get(&q, "AutoPlacement"));
	ck_assert_ptr_null(np_query_get(&q, "HostRecovery"));
	ck_assert_ptr_null(np_query_get(&q, "ClientToken"));
	ck_assert_ptr_null(np_query_get(&q, "TagSpecification.1.ResourceType"));
	np_query_release(&q);
	np_tags_release(&tags);
}
END_TEST

#define HOST_ID    "<hostId>h-0123456789abcdef0</hostId>"
#define HOST_STATE "<state>available</state>"

/* A DescribeHosts answer as the simulator (tests/ec2sim) writes EC2's shape. */
static char *hosts_page(const char *items, const char *next)
{
	return np_xasprintf("<DescribeHostsResponse xmlns=\"http://ec2.amazonaws.com/doc/"
			    "2016-11-15/\"><requestId>r</requestId><hostSet>%s</hostSet>%s%s%s"
			    "</DescribeHostsResponse>",
			    items, next ? "<nextToken>" : "", next ? next : "",
			    next ? "</nextToken>" : "");
}

static int parse_hosts_text(const char *text, struct np_host **v, size_t *n, char **next,
			    struct np_err *err)
{
	xmlDoc *doc = np_xml_parse(text, strlen(text));
	size_t alloc = 0;
	int rc;

	*v = NULL;
	*n = 0;
	np_err_clear(err);
	rc = np_ec2_parse_hosts(doc, v, n, &alloc, next, err);
	xmlFreeDoc(doc);
	if (rc < 0)
		ck_assert_uint_eq(*n, 0);
	return rc;
}

static void host_refused(const char *item, const char *want)
{
	char *items = np_xasprintf("<item>%s</item>", item);
	char *text = hosts_page(items, NULL);
	struct np_host *v;
	size_t n;
	struct np_err err = NP_ERR_INIT;

	ck_assert_msg(parse_hosts_text(text, &v, &n, NULL, &err) == -1, "accepted: %s", item);
	ck_assert_msg(strstr(err.msg, "DescribeHosts: "), "got: %s", err.msg);
	ck_assert_msg(strstr(err.msg, want), "want '%s', got: %s", want, err.msg);
	np_hosts_free(v, n);
	free(text);
	free(items);
}

START_TEST(test_ec2_parse_hosts_reads_every_field)
{
	static const char item[] =
	    "<item>" HOST_ID "<autoPlacement>off</autoPlacement><hostRecovery>on</hostRecovery>"
	    "<hostMaintenance>on</hostMaintenance><availabilityZone>us-east-1a</availabilityZone>"
	    "<availableCapacity><availableInstanceCapacity>"
	    "<item><availableCapacity>22</availableCapacity><instanceType>m8i.4xlarge"
	    "</instanceType><totalCapacity>24</totalCapacity></item>"
	    "<item><availableCapacity>1</availableCapacity><instanceType>m8i.96xlarge"
	    "</instanceType><totalCapacity>1</totalCapacity></item>"
	    "</availableInstanceCapacity><availableVCpus>352</availableVCpus></availableCapacity>"
	    "<clientToken>np-7c1e-kvm-0-g1</clientToken>"
	    "<hostProperties><cores>192</cores><instanceFamily>m8i</instanceFamily>"
	    "<sockets>2</sockets><totalVCpus>384</totalVCpus></hostProperties>"
	    "<instances><item><instanceId>i-0aaaaaaaaaaaaaaa1</instanceId><instanceType>"
	    "m8i.4xlarge</instanceType><ownerId>123456789012</ownerId></item>"
	    "<item><instanceId>i-0aaaaaaaaaaaaaaa2</instanceId></item></instances>" HOST_STATE
	    "<allocationTime>2026-12-02T00:00:00.000Z</allocationTime>"
	    "<tagSet><item><key>nestplan:address</key><value>kvm-hosts[1]</value></item>"
	    "<item><key>nestplan:lineage</key><value>7c1e</value></item>"
	    "<item><key>team</key><value>ci</value></item></tagSet>"
	    "<allowsMultipleInstanceTypes>on</allowsMultipleInstanceTypes>"
	    "<ownerId>123456789012</ownerId></item>"
	    /* a single-type host, released: hostProperties names its type */
	    "<item><hostId>h-0123456789abcdef1</hostId><state>released</state>"
	    "<hostProperties><cores>192</cores><instanceFamily>m8i</instanceFamily>"
	    "<instanceType>m8i.4xlarge</instanceType></hostProperties></item>";
	char *text = hosts_page(item, "tok-2");
	struct np_host *v;
	size_t n;
	char *next = NULL;
	struct np_err err = NP_ERR_INIT;

	ck_assert_msg(parse_hosts_text(text, &v, &n, &next, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(next, "tok-2");
	ck_assert_str_eq(v[0].host_id, "h-0123456789abcdef0");
	ck_assert_int_eq(v[0].state, NP_HOST_AVAILABLE);
	ck_assert_int_eq(v[0].auto_placement, NP_BOOL_FALSE);
	ck_assert_int_eq(v[0].host_recovery, NP_BOOL_TRUE);
	ck_assert_str_eq(v[0].availability_zone, "us-east-1a");
	ck_assert_str_eq(v[0].client_token, "np-7c1e-kvm-0-g1");
	ck_assert_str_eq(v[0].allocation_time, "2026-12-02T00:00:00.000Z");
	ck_assert_str_eq(v[0].owner_id, "123456789012");
	ck_assert_str_eq(v[0].instance_family, "m8i");
	ck_assert_ptr_null(v[0].instance_type);
	ck_assert_int_eq(v[0].cores, 192);
	ck_assert_int_eq(v[0].sockets, 2);
	ck_assert_int_eq(v[0].total_vcpus, 384);
	ck_assert_int_eq(v[0].available_vcpus, 352);
	ck_assert_uint_eq(v[0].n_capacity, 2);
	ck_assert_str_eq(v[0].capacity[0].instance_type, "m8i.4xlarge");
	ck_assert_int_eq(v[0].capacity[0].available, 22);
	ck_assert_int_eq(v[0].capacity[0].total, 24);
	ck_assert_str_eq(v[0].capacity[1].instance_type, "m8i.96xlarge");
	ck_assert_uint_eq(v[0].instance_ids.n, 2);
	ck_assert_str_eq(v[0].instance_ids.v[1], "i-0aaaaaaaaaaaaaaa2");
	/* The state tags go to address and lineage, never into tags. */
	ck_assert_str_eq(v[0].address, "kvm-hosts[1]");
	ck_assert_str_eq(v[0].lineage, "7c1e");
	ck_assert(v[0].tags_set);
	ck_assert_uint_eq(v[0].tags.n, 1);
	ck_assert_str_eq(np_tags_get(&v[0].tags, "team"), "ci");
	ck_assert_ptr_null(np_tags_get(&v[0].tags, NP_TAG_ADDRESS));

	ck_assert_int_eq(v[1].state, NP_HOST_RELEASED);
	ck_assert_str_eq(v[1].instance_type, "m8i.4xlarge");
	ck_assert_ptr_null(v[1].instance_family);
	ck_assert_ptr_null(v[1].address);
	ck_assert_uint_eq(v[1].n_capacity, 0);
	np_hosts_free(v, n);
	free(next);
	free(text);
}
END_TEST

START_TEST(test_ec2_parse_hosts_refuses_what_it_does_not_understand)
{
	struct np_buf many = NP_BUF_INIT;
	struct np_host *v;
	size_t n;
	struct np_err err = NP_ERR_INIT;
	char *text;

	host_refused(HOST_STATE "<autoPlacement>on</autoPlacement>", "a host without hostId");
	host_refused("<hostId>h-../../x</hostId>" HOST_STATE, "is not a host id");
	host_refused(HOST_ID, "no state in the answer");
	host_refused(HOST_ID "<state>hibernating</state>", "is not one nestplan knows");
	host_refused(HOST_ID HOST_STATE "<hostProperties><cores>8x</cores></hostProperties>",
		     "hostProperties.cores '8x' is not a number");
	host_refused(HOST_ID HOST_STATE "<availableCapacity><availableVCpus>-4</availableVCpus>"
					"</availableCapacity>",
		     "availableVCpus");
	host_refused(HOST_ID HOST_STATE "<availableCapacity><availableInstanceCapacity><item>"
					"<availableCapacity>2</availableCapacity></item>"
					"</availableInstanceCapacity></availableCapacity>",
		     "without instanceType");
	host_refused(HOST_ID HOST_STATE "<instances><item><instanceId>x</instanceId></item>"
					"</instances>",
		     "instanceId 'x' is not an instance id");
	host_refused(HOST_ID HOST_STATE "<ownerId>12</ownerId>", "is not an AWS account id");
	host_refused(HOST_ID HOST_STATE "<hostProperties><instanceFamily>m8 i</instanceFamily>"
					"</hostProperties>",
		     "instanceFamily is not a name");

	/* Too many capacity items, too many instances on one host. */
	np_buf_puts(&many, HOST_ID HOST_STATE "<availableCapacity><availableInstanceCapacity>");
	for (int i = 0; i <= NP_HOST_MAX_CAPACITIES; i++)
		np_buf_printf(&many, "<item><instanceType>m8i.t%d</instanceType></item>", i);
	np_buf_puts(&many, "</availableInstanceCapacity></availableCapacity>");
	host_refused(many.ptr, "availableInstanceCapacity items");
	np_buf_release(&many);
	np_buf_puts(&many, HOST_ID HOST_STATE "<instances>");
	for (int i = 0; i <= NP_HOST_MAX_INSTANCES; i++)
		np_buf_printf(&many, "<item><instanceId>i-%017x</instanceId></item>", i);
	np_buf_puts(&many, "</instances>");
	host_refused(many.ptr, "instances on the host");
	np_buf_release(&many);

	/* One bad host makes the whole page an error: nothing is appended. */
	text = hosts_page("<item>" HOST_ID HOST_STATE "</item><item>" HOST_STATE "</item>", NULL);
	ck_assert_int_eq(parse_hosts_text(text, &v, &n, NULL, &err), -1);
	free(v);
	free(text);

	/* Not a DescribeHosts answer. */
	text = np_xasprintf("<DescribeInstancesResponse><hostSet><item>" HOST_ID HOST_STATE
			    "</item></hostSet></DescribeInstancesResponse>");
	ck_assert_int_eq(parse_hosts_text(text, &v, &n, NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "not <DescribeHostsResponse>"), "got: %s", err.msg);
	free(text);
}
END_TEST

static int host_batch(const char *body, const char *action, size_t n, struct np_err *err)
{
	xmlDoc *doc = np_xml_parse(body, strlen(body));
	int rc;

	np_err_clear(err);
	rc = np_ec2_parse_host_batch(doc, action, n, err);
	xmlFreeDoc(doc);
	return rc;
}

START_TEST(test_ec2_unsuccessful_hosts_in_a_200_are_failures)
{
	struct np_err err = NP_ERR_INIT;

	ck_assert_int_eq(
	    host_batch("<ReleaseHostsResponse><unsuccessful/><successful><item>"
		       "h-0123456789abcdef0</item></successful></ReleaseHostsResponse>",
		       "ReleaseHosts", 1, &err),
	    0);
	ck_assert_int_eq(
	    host_batch("<ReleaseHostsResponse><unsuccessful><item><error><code>"
		       "Client.InvalidHost.Occupied</code><message>Dedicated host "
		       "'h-0123456789abcdef0' cannot be released as it is occupied</message>"
		       "</error><resourceId>h-0123456789abcdef0</resourceId></item></unsuccessful>"
		       "<successful/></ReleaseHostsResponse>",
		       "ReleaseHosts", 1, &err),
	    -1);
	ck_assert_str_eq(err.code, "Client.InvalidHost.Occupied");
	ck_assert_int_eq(err.cls, NP_ERRC_STATE);
	ck_assert_msg(strstr(err.msg, "ReleaseHosts: host h-0123456789abcdef0: "
				      "Client.InvalidHost.Occupied: "),
		      "got: %s", err.msg);
	ck_assert_int_eq(
	    host_batch("<ModifyHostsResponse><unsuccessful><item><error><code>"
		       "Client.InvalidHostID.NotFound</code><message>gone</message></error>"
		       "<resourceId>h-0123456789abcdef1</resourceId></item></unsuccessful>"
		       "<successful><item>h-0123456789abcdef0</item></successful>"
		       "</ModifyHostsResponse>",
		       "ModifyHosts", 2, &err),
	    -1);
	ck_assert_str_eq(err.code, "Client.InvalidHostID.NotFound");
	ck_assert_int_eq(err.cls, NP_ERRC_BAD_REQUEST);
	ck_assert_msg(strstr(err.msg, "host h-0123456789abcdef1"), "got: %s", err.msg);
	/* Neither list naming the host is no success either. */
	ck_assert_int_eq(host_batch("<ModifyHostsResponse/>", "ModifyHosts", 1, &err), -1);
	ck_assert_msg(strstr(err.msg, "names 0 of the 1 hosts"), "got: %s", err.msg);
	ck_assert_int_eq(host_batch("<ReleaseHostsResponse/>", "ModifyHosts", 1, &err), -1);
	ck_assert_msg(strstr(err.msg, "not <ModifyHostsResponse>"), "got: %s", err.msg);
}
END_TEST

Suite *check_ec2_suite(void)
{
	Suite *s = suite_create("ec2");
	TCase *tc = tcase_create("answers");

	tcase_add_test(tc, test_ec2_answer_root_must_be_the_actions_response);
	tcase_add_test(tc, test_ec2_numbers_out_of_range_are_errors);
	tcase_add_test(tc, test_ec2_missing_fields_the_plan_needs_are_errors);
	tcase_add_test(tc, test_ec2_owner_id_must_be_an_account_id);
	tcase_add_test(tc, test_ec2_a_good_instance_still_parses);
	tcase_add_test(tc, test_ec2_depth_and_text_length_are_bounded);
	tcase_add_test(tc, test_ec2_instance_type_numbers_are_range_checked);
	tcase_add_test(tc, test_ec2_error_messages_are_escaped);
	tcase_add_test(tc, test_util_visible_escapes_what_a_terminal_would_obey);
	tcase_add_test(tc, test_ec2_allocate_hosts_query_matches_the_model);
	tcase_add_test(tc, test_ec2_parse_hosts_reads_every_field);
	tcase_add_test(tc, test_ec2_parse_hosts_refuses_what_it_does_not_understand);
	tcase_add_test(tc, test_ec2_unsuccessful_hosts_in_a_200_are_failures);
	suite_add_tcase(s, tc);
	return s;
}
