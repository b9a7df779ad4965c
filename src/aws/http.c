/* libcurl: one request on a reused handle, bodies capped, TLS verified. */
#include <arpa/inet.h>
#include <libxml/parser.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/internal.h"
#include "nestplan/alloc.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t ca_lock = PTHREAD_MUTEX_INITIALIZER;
static char *ca_bundle;

static void init(void)
{
	const char *ca = getenv("AWS_CA_BUNDLE");

	curl_global_init(CURL_GLOBAL_DEFAULT);
	xmlInitParser();
	/* Until the client sets it from the profile too. */
	if (ca && *ca && !ca_bundle)
		ca_bundle = strdup(ca);
}

void np_http_global_init(void) { pthread_once(&once, init); }

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct np_buf *b = ud;

	if (np_buf_add(b, ptr, size * nmemb) < 0)
		return 0; /* over the cap: curl aborts the transfer */
	return size * nmemb;
}

void np_http_set_ca_bundle(const char *path)
{
	np_http_global_init();
	pthread_mutex_lock(&ca_lock);
	free(ca_bundle);
	ca_bundle = path && *path ? strdup(path) : NULL;
	pthread_mutex_unlock(&ca_lock);
}

/* 127.0.0.0/8, ::1 and localhost (which curl never asks DNS for). */
static bool loopback_host(const char *host)
{
	unsigned char a[16];
	char h[64];

	if (!strcmp(host, "localhost"))
		return true;
	if (host[0] == '[') {
		snprintf(h, sizeof(h), "%s", host + 1);
		h[strcspn(h, "]")] = '\0';
		return inet_pton(AF_INET6, h, a) == 1 &&
		       !memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
	}
	return inet_pton(AF_INET, host, a) == 1 && a[0] == 127;
}

/* The hosts ECS and EKS serve container credentials from over plain http
 * (botocore's ContainerMetadataFetcher._ALLOWED_HOSTS). */
static bool container_host(const char *host)
{
	return !strcmp(host, "169.254.170.2") || !strcmp(host, "169.254.170.23") ||
	       !strcmp(host, "[fd00:ec2::23]");
}

int np_http_check_url(const char *url, enum np_url_allow allow, const char *what,
		      char **signed_host, struct np_err *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *pass = NULL;
	int rc = -1;
	bool https;

	if (signed_host)
		*signed_host = NULL;
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		np_error_cls(err, NP_ERRC_USAGE, "%s '%s' is not a URL", what, url);
		goto done;
	}
	curl_url_get(u, CURLUPART_USER, &user, 0);
	curl_url_get(u, CURLUPART_PASSWORD, &pass, 0);
	if (user || pass) {
		/* Userinfo hides where the request goes (http://127.0.0.1:80@host/). */
		np_error_cls(err, NP_ERRC_USAGE,
			     "%s '%s' refused: a user name or password in the URL is not allowed "
			     "(curl would connect to '%s')",
			     what, url, host);
		goto done;
	}
	https = !strcmp(scheme, "https");
	if (!https && strcmp(scheme, "http")) {
		np_error_cls(err, NP_ERRC_USAGE,
			     "%s '%s' refused: only https (or http to this machine)", what, url);
		goto done;
	}
	if (!https && allow != NP_URL_HTTP_ANY && !loopback_host(host) &&
	    !(allow == NP_URL_HTTP_CONTAINER && container_host(host))) {
		np_error_cls(
		    err, NP_ERRC_USAGE,
		    "%s '%s' refused: plain http is allowed only to this machine (127.0.0.1, "
		    "::1, localhost)%s; use https",
		    what, url,
		    allow == NP_URL_HTTP_CONTAINER
			? " and the ECS/EKS hosts 169.254.170.2, 169.254.170.23, fd00:ec2::23"
			: "");
		goto done;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	/* The default port is not part of the signed Host. */
	if (port && ((https && !strcmp(port, "443")) || (!https && !strcmp(port, "80")))) {
		curl_free(port);
		port = NULL;
	}
	if (signed_host)
		*signed_host = port ? np_xasprintf("%s:%s", host, port) : np_xstrdup(host);
	rc = 0;
done:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(user);
	curl_free(pass);
	curl_url_cleanup(u);
	return rc;
}

bool np_http_is_loopback_url(const char *url)
{
	return np_http_check_url(url, NP_URL_HTTP_LOOPBACK, "endpoint", NULL, NULL) == 0 &&
	       !strncmp(url, "http://", 7);
}

#define HEADERS_MAX (64u * 1024)

int np_http_do(CURL *h, const char *method, const char *url, enum np_url_allow allow,
	       struct curl_slist *headers, const char *body, size_t body_len, long connect_ms,
	       long total_ms, struct np_http_resp *resp, struct np_err *err)
{
	return np_http_do_headers(h, method, url, allow, headers, body, body_len, connect_ms,
				  total_ms, resp, NULL, err);
}

char *np_http_header(const struct np_buf *headers, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = headers->ptr, *found = NULL;
	size_t flen = 0;

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len > nlen && !strncasecmp(p, name, nlen) && p[nlen] == ':') {
			found = p + nlen + 1;
			flen = len - nlen - 1;
			while (flen && (*found == ' ' || *found == '\t'))
				found++, flen--;
			while (flen && (found[flen - 1] == '\r' || found[flen - 1] == ' '))
				flen--;
		}
		p = eol ? eol + 1 : p + len;
	}
	return found ? np_xstrndup(found, flen) : NULL;
}

int np_http_do_headers(CURL *h, const char *method, const char *url, enum np_url_allow allow,
		       struct curl_slist *headers, const char *body, size_t body_len,
		       long connect_ms, long total_ms, struct np_http_resp *resp,
		       struct np_buf *resp_headers, struct np_err *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";

	np_http_global_init();
	if (resp_headers)
		np_buf_init(resp_headers, HEADERS_MAX);
	curl_easy_reset(h);
	np_buf_init(&resp->body, NP_RESPONSE_MAX);
	resp->status = 0;
	resp->curl = CURLE_OK;
	/* Judged again here, so no request can skip the check. */
	if (np_http_check_url(url, allow, "endpoint", NULL, err) < 0) {
		resp->curl = CURLE_URL_MALFORMAT;
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	} else if (!strcmp(method, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	}
	if (resp_headers) {
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_data);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, resp_headers);
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
	/* A redirect would send the signed request, or a token, elsewhere. */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	/* Plain http goes to this machine only: no proxy may carry it away. */
	if (strncasecmp(url, "https://", 8))
		curl_easy_setopt(h, CURLOPT_PROXY, "");
	pthread_mutex_lock(&ca_lock);
	if (ca_bundle)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca_bundle);
	pthread_mutex_unlock(&ca_lock);
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

	/* NONET: no network; no NOENT/DTDLOAD: entities are not substituted.
	 * COMPACT and NOBLANKS keep the tree of a 1,000-instance page small:
	 * a parallel refresh holds one per stream. */
	doc = xmlReadMemory(data, (int)len, NULL, "UTF-8",
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
				XML_PARSE_COMPACT | XML_PARSE_NOBLANKS);
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
