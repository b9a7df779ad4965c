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

/* One request on handle h (reset first). Transport failures return -1 with
 * resp->curl set; any HTTP answer returns 0. */
int np_http_do(CURL *h, const char *method, const char *url, struct curl_slist *headers,
               const char *body, size_t body_len, long connect_ms, long total_ms,
               struct np_http_resp *resp, struct np_err *err);
void np_http_global_init(void);
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

#endif
