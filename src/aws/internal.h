#ifndef NESTPLAN_AWS_INTERNAL_H
#define NESTPLAN_AWS_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>

#include "nestplan/aws.h"
#include "nestplan/creds.h"

#define NP_RESPONSE_MAX (64u * 1024 * 1024)

struct np_http_resp {
	long status;
	struct np_buf body;
	CURLcode curl;
};

/* Where plain http may go; https may go anywhere. */
enum np_url_allow {
	NP_URL_HTTP_LOOPBACK,  /* 127.0.0.0/8, ::1, localhost */
	NP_URL_HTTP_CONTAINER, /* and ECS/EKS's 169.254.170.2, 169.254.170.23, fd00:ec2::23 */
	NP_URL_HTTP_ANY,       /* instance metadata: link-local by nature */
};

/* Judge url as curl will connect, parsed by libcurl's URL API: refused
 * when it is no http(s) URL, carries a user name or password, or is plain
 * http to a host allow does not name. On success *signed_host (when not
 * NULL; caller frees) is host[:port] without the default port. */
int np_http_check_url(const char *url, enum np_url_allow allow, const char *what,
		      char **signed_host, struct np_err *err);
/* One request on handle h (reset first), url judged as above; redirects are
 * never followed. Transport failures return -1 with resp->curl set; any
 * HTTP answer returns 0. */
int np_http_do(CURL *h, const char *method, const char *url, enum np_url_allow allow,
	       struct curl_slist *headers, const char *body, size_t body_len, long connect_ms,
	       long total_ms, struct np_http_resp *resp, struct np_err *err);
/* The same, keeping the response's header lines ("Name: value\r\n", capped)
 * in *headers when not NULL (initialised here; caller releases). */
int np_http_do_headers(CURL *h, const char *method, const char *url, enum np_url_allow allow,
		       struct curl_slist *headers, const char *body, size_t body_len,
		       long connect_ms, long total_ms, struct np_http_resp *resp,
		       struct np_buf *resp_headers, struct np_err *err);
/* A header's value from such lines (case-insensitive name, last one wins,
 * trimmed); NULL when absent. Caller frees. */
char *np_http_header(const struct np_buf *headers, const char *name);
void np_http_global_init(void);
/* The CA bundle every request verifies with (AWS_CA_BUNDLE, profile ca_bundle). */
void np_http_set_ca_bundle(const char *path);
bool np_http_is_loopback_url(const char *url);
/* Parse an XML body with network access and entities off. */
xmlDoc *np_xml_parse(const char *data, size_t len);
/* First element named name below node (local names; namespaces ignored). */
xmlNode *np_xml_child(xmlNode *node, const char *name);
/* Its text content (caller frees with free()), NULL when missing. */
char *np_xml_text(xmlNode *node, const char *name);

/* Fill err from an EC2/STS error document or, failing that, the status. */
void np_aws_error_from_response(const char *action, long status, const char *body, size_t len,
				struct np_err *err);
enum np_err_class np_aws_classify(const char *code, long status);

/* ---- shared by the EC2 operations (ec2_ops.c, ec2_parse.c, ec2_hosts.c) ---- */
struct np_tags;
/* One page of an answer: parse doc into ctx, *next the page's NextToken
 * (NULL at the end). */
typedef int (*np_ec2_page_fn)(xmlDoc *doc, void *ctx, char **next, struct np_err *err);
/* Every page of action for base's parameters (MaxResults when max_results is
 * not 0); a NextToken seen twice or more than NP_EC2_MAX_PAGES pages are an
 * error. */
int np_ec2_pages(struct np_aws *aws, const char *action, const struct np_query *base,
		 int max_results, np_ec2_page_fn parse, void *ctx, struct np_err *err);
/* The same with Filter.1 NAME=VALUES, in batches of NP_EC2_MAX_FILTER_VALUES. */
int np_ec2_filter_pages(struct np_aws *aws, const char *action, const char *name,
			const char *const *values, size_t n_values, int max_results,
			np_ec2_page_fn parse, void *ctx, struct np_err *err);
/* Check an answer: np_ec2_answer_root, or more (ctx is check's). */
typedef int (*np_ec2_check_fn)(xmlDoc *doc, const char *action, const void *ctx,
			       struct np_err *err);
/* One call whose answer says only whether it was done: action's answer
 * checked by check (NULL: its root only); q is released. */
int np_ec2_call_checked(struct np_aws *aws, const char *action, struct np_query *q,
			np_ec2_check_fn check, const void *ctx, struct np_err *err);
/* NAME.1=v[0], NAME.2=v[1], ... */
void np_ec2_list_param(struct np_query *q, const char *name, const char *const *v, size_t n);
/* TagSpecification.1 for resource_type with tags (nothing when none). */
void np_ec2_tag_spec(struct np_query *q, const char *resource_type, const struct np_tags *tags);
/* A whole decimal number in [lo, hi] at name below n (NULL: n itself); not
 * there leaves *out as it is, there but not such a number is an error. */
int np_xml_int(xmlNode *n, const char *name, long lo, long hi, int *out, const char *what,
	       struct np_err *err);
/* A plain token of at most max bytes: no spaces, no controls. */
bool np_xml_token_ok(const char *s, size_t max);
/* prefix ("i-", "h-") and 1 to 32 lowercase hex digits. */
bool np_ec2_id_ok(const char *s, const char *prefix);
/* The same as an error naming what ("instanceId") and quoting s safely. */
int np_ec2_check_id(const char *s, const char *prefix, const char *what, struct np_err *err);
/* The id at name below item into *out (caller frees, even on error):
 * missing is "WHAT without NAME", not such an id as above. */
int np_ec2_item_id(xmlNode *item, const char *name, const char *prefix, const char *what,
		   char **out, struct np_err *err);
/* The answer's nextToken; NULL when missing or empty. */
char *np_ec2_next_token(xmlNode *root);
/* ownerId below n, NULL when missing; not 12 digits is an error. */
int np_ec2_owner_of(xmlNode *n, char **out, struct np_err *err);
/* item's tagSet: nestplan:address and nestplan:lineage into *address and
 * *lineage (as they are), every other tag into tags. */
void np_ec2_tag_set(xmlNode *item, char **address, char **lineage, struct np_tags *tags);
/* The answer of ModifyHosts or ReleaseHosts (action) for n_asked hosts: the
 * first `unsuccessful` item is -1 naming the host, with EC2's code in
 * err->code (cls STATE for InvalidHost.Occupied); fewer `successful` items
 * than asked is -1 too. */
int np_ec2_parse_host_batch(xmlDoc *doc, const char *action, size_t n_asked, struct np_err *err);

#endif
