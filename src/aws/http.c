/* libcurl: one request on a reused handle, bodies capped, TLS verified. */
#include <arpa/inet.h>
#include <libxml/parser.h>
#include <stdlib.h>
#include <string.h>

#include "aws/internal.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	xmlInitParser();
}

void np_http_global_init(void)
{
	pthread_once(&once, init);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct np_buf *b = ud;

	if (np_buf_add(b, ptr, size * nmemb) < 0)
		return 0; /* over the cap: curl aborts the transfer */
	return size * nmemb;
}

bool np_http_is_loopback_url(const char *url)
{
	char host[256];
	const char *p = strstr(url, "://"), *end;
	struct in_addr a4;
	size_t n;

	if (!p)
		return false;
	p += 3;
	if (*p == '[')
		return !strncmp(p, "[::1]", 5);
	end = p + strcspn(p, ":/?");
	n = (size_t)(end - p);
	if (n >= sizeof(host))
		return false;
	memcpy(host, p, n);
	host[n] = '\0';
	if (!strcmp(host, "localhost"))
		return true;
	return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

int np_http_do(CURL *h, const char *method, const char *url, struct curl_slist *headers,
               const char *body, size_t body_len, long connect_ms, long total_ms,
               struct np_http_resp *resp, struct np_err *err)
{
	const char *ca = getenv("AWS_CA_BUNDLE");
	char errbuf[CURL_ERROR_SIZE] = "";

	np_http_global_init();
	curl_easy_reset(h);
	np_buf_init(&resp->body, NP_RESPONSE_MAX);
	resp->status = 0;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	} else if (!strcmp(method, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "nestplan/" NP_VERSION);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total_ms);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (ca && *ca)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp->body);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	resp->curl = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	if (resp->curl != CURLE_OK) {
		bool too_big = resp->curl == CURLE_WRITE_ERROR;

		np_error_cls(err, too_big ? NP_ERRC_GENERIC : NP_ERRC_TRANSIENT, "%s: %s",
		             too_big ? "response too large" : curl_easy_strerror(resp->curl),
		             errbuf[0] ? errbuf : curl_easy_strerror(resp->curl));
		return -1;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	return 0;
}

xmlDoc *np_xml_parse(const char *data, size_t len)
{
	if (!data || len == 0 || len > NP_RESPONSE_MAX)
		return NULL;
	xmlDoc *doc;

	/* NONET: no network; no NOENT/DTDLOAD: entities are not substituted. */
	doc = xmlReadMemory(data, (int)len, NULL, "UTF-8",
	                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	/* EC2 never sends a DTD; one declaring entities could still make the
	 * text readers expand them (a billion laughs), so refuse the answer. */
	if (doc && (doc->intSubset || doc->extSubset)) {
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

xmlNode *np_xml_child(xmlNode *node, const char *name)
{
	for (xmlNode *c = node ? node->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name))
			return c;
	return NULL;
}

char *np_xml_text(xmlNode *node, const char *name)
{
	xmlNode *c = name ? np_xml_child(node, name) : node;
	xmlChar *t;
	char *s;

	if (!c)
		return NULL;
	t = xmlNodeGetContent(c);
	if (!t)
		return NULL;
	s = strdup((const char *)t);
	xmlFree(t);
	if (!s)
		abort();
	return s;
}
