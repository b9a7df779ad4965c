#ifndef NESTPLAN_AWS_INTERNAL_H
#define NESTPLAN_AWS_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>

#include "nestplan/aws.h"
#include "nestplan/creds.h"
#include "nestplan/model.h"

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

/* np_aws_call, the 2xx answer's body returned unparsed in *out (initialised
 * here; the caller releases it, also on failure). */
int np_aws_call_body(struct np_aws *a, const char *action, const struct np_query *params,
		     struct np_buf *out, struct np_err *err);
/* np_ec2_parse_instances over an answer's text, read as a stream: one
 * instance's elements at a time instead of the whole page's tree (a
 * parallel refresh has a page in flight per stream). */
int np_ec2_parse_instances_text(const char *text, size_t len, const char *action,
				struct np_instance **v, size_t *n, size_t *alloc, char **next_token,
				struct np_err *err);

/* Fill err from an EC2/STS error document or, failing that, the status. */
void np_aws_error_from_response(const char *action, long status, const char *body, size_t len,
				struct np_err *err);
enum np_err_class np_aws_classify(const char *code, long status);

#endif
