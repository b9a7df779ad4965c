/* Partitions and endpoints. Region patterns go through POSIX regcomp, and
 * the endpoint rule sets are evaluated by a small interpreter written after
 * botocore's endpoint_provider.py (RuleSetStandardLibrary), so every
 * combination resolves, or is refused, as botocore does it. */
#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/buf.h"
#include "nestplan/endpoints.h"
#include "nestplan/suggest.h"
#include "util/endpoints_data.h"

#define MAX_PARTITIONS 32

static regex_t patterns[MAX_PARTITIONS], legacy_patterns[MAX_PARTITIONS];
static bool pattern_ok[MAX_PARTITIONS], legacy_ok[MAX_PARTITIONS];
static const char **all_regions;
static json_t *rulesets[3];
static pthread_once_t once = PTHREAD_ONCE_INIT;

_Static_assert(NP_SERVICE_S3 == 2, "rulesets[] has one entry per service");

static void init(void)
{
	size_t n = 0, alloc = 0;
	const char *const texts[] = { np_ruleset_ec2, np_ruleset_sts, np_ruleset_s3 };

	for (size_t i = 0; i < np_n_partitions && i < MAX_PARTITIONS; i++) {
		pattern_ok[i] = regcomp(&patterns[i], np_partitions[i].region_regex_posix,
					REG_EXTENDED | REG_NOSUB) == 0;
		for (const char *const *r = np_partitions[i].regions; *r; r++) {
			NP_ALLOC_GROW(all_regions, n + 2, alloc);
			all_regions[n++] = *r;
		}
	}
	NP_ALLOC_GROW(all_regions, n + 1, alloc);
	all_regions[n] = NULL;
	for (size_t i = 0; i < np_n_legacy_partitions && i < MAX_PARTITIONS; i++)
		legacy_ok[i] =
		    regcomp(&legacy_patterns[i], np_legacy_partitions[i].region_regex_posix,
			    REG_EXTENDED | REG_NOSUB) == 0;
	for (size_t i = 0; i < 3; i++)
		rulesets[i] = json_loads(texts[i], 0, NULL);
}

static bool lists(const struct np_partition *p, const char *region)
{
	for (const char *const *r = p->regions; *r; r++)
		if (!strcmp(*r, region))
			return true;
	return false;
}

const struct np_partition *np_partition_of(const char *region)
{
	pthread_once(&once, init);
	if (!region)
		return NULL;
	for (size_t i = 0; i < np_n_partitions && i < MAX_PARTITIONS; i++)
		if (lists(&np_partitions[i], region) ||
		    (pattern_ok[i] && regexec(&patterns[i], region, 0, NULL, 0) == 0))
			return &np_partitions[i];
	return NULL;
}

const struct np_partition *np_partition_by_id(const char *id)
{
	for (size_t i = 0; id && i < np_n_partitions; i++)
		if (!strcmp(np_partitions[i].id, id))
			return &np_partitions[i];
	return NULL;
}

const char *const *np_region_names(void)
{
	pthread_once(&once, init);
	return (const char *const *)all_regions;
}

int np_region_check(const char *region, const char *what, struct np_err *err)
{
	const char *near;

	if (np_partition_of(region))
		return 0;
	near = np_suggest(region, np_region_names());
	if (near)
		return np_error_cls(
		    err, NP_ERRC_USAGE,
		    "%s '%s' is not a region of any AWS partition; did you mean '%s'?", what,
		    region, near);
	return np_error_cls(err, NP_ERRC_USAGE,
			    "%s '%s' is not a region of any AWS partition (such as us-east-1, "
			    "cn-north-1, us-gov-west-1, eusc-de-east-1)",
			    what, region);
}

/* ---- the rule-set interpreter ---- */

struct eval {
	char msg[512]; /* an error rule's message or an evaluation error */
	bool failed;
};

static json_t *value(json_t *v, json_t *scope, struct eval *e);

static bool truthy(const json_t *v)
{
	if (!v || json_is_null(v) || json_is_false(v))
		return false;
	if (json_is_string(v))
		return json_string_length(v) > 0;
	if (json_is_object(v))
		return json_object_size(v) > 0;
	if (json_is_array(v))
		return json_array_size(v) > 0;
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	return true;
}

static void fail(struct eval *e, const char *msg)
{
	if (!e->failed)
		snprintf(e->msg, sizeof(e->msg), "%s", msg);
	e->failed = true;
}

/* Python's Formatter over "{Name}" and "{Name#attr}". */
static bool is_template(const char *s)
{
	for (const char *p = strchr(s, '{'); p; p = strchr(p + 1, '{')) {
		const char *q = p + 1;

		while (isalpha((unsigned char)*q) || *q == '#')
			q++;
		if (*q == '}' && q > p + 1)
			return true;
	}
	return false;
}

static json_t *template(const char *s, json_t *scope, struct eval *e)
{
	struct np_buf b = NP_BUF_INIT;
	json_t *out;

	while (*s) {
		const char *open = strchr(s, '{'), *close;
		char name[128], *tok, *save = NULL;
		json_t *v = scope;

		if (!open || !(close = strchr(open, '}'))) {
			np_buf_puts(&b, s);
			break;
		}
		np_buf_add(&b, s, (size_t)(open - s));
		snprintf(name, sizeof(name), "%.*s", (int)(close - open - 1), open + 1);
		for (tok = strtok_r(name, "#", &save); tok && v; tok = strtok_r(NULL, "#", &save))
			v = json_is_object(v) ? json_object_get(v, tok) : NULL;
		if (!v) {
			fail(e, "template names an unset value");
			np_buf_release(&b);
			return NULL;
		}
		if (json_is_string(v))
			np_buf_puts(&b, json_string_value(v));
		else if (json_is_true(v) || json_is_false(v))
			np_buf_puts(&b, json_is_true(v) ? "True" : "False");
		else if (json_is_integer(v))
			np_buf_printf(&b, "%lld", (long long)json_integer_value(v));
		s = close + 1;
	}
	out = json_string(b.ptr);
	np_buf_release(&b);
	return out;
}

static json_t *partition_json(const char *region)
{
	const struct np_partition *p = np_partition_of(region);

	if (!p)
		p = &np_partitions[0]; /* botocore's fallback */
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "name", p->id, "dnsSuffix",
			 p->dns_suffix, "dualStackDnsSuffix", p->dualstack_dns_suffix,
			 "implicitGlobalRegion", p->implicit_global_region, "supportsFIPS",
			 p->supports_fips, "supportsDualStack", p->supports_dualstack);
}

/* RFC 1123 label: letters, digits, '-', 1..63, not starting or ending in '-'. */
static bool host_label(const char *s, size_t n)
{
	if (n < 1 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool valid_host_label(const char *s, bool subdomains)
{
	if (!subdomains)
		return !strchr(s, '.') && host_label(s, strlen(s));
	for (;;) {
		size_t n = strcspn(s, ".");

		if (!host_label(s, n))
			return false;
		if (!s[n])
			return true;
		s += n + 1;
	}
}

static bool ipv4_text(const char *s)
{
	/* botocore's IPV4_RE: four groups of 1-3 digits. */
	for (int g = 0; g < 4; g++) {
		int d = 0;

		while (isdigit((unsigned char)*s) && d < 4) {
			s++;
			d++;
		}
		if (d < 1 || d > 3)
			return false;
		if (g < 3 && *s++ != '.')
			return false;
	}
	return *s == '\0';
}

static json_t *virtual_hostable(const char *s, bool subdomains)
{
	size_t n = strlen(s);

	if (n < 3 || ipv4_text(s))
		return json_false();
	for (size_t i = 0; i < n; i++)
		if (isupper((unsigned char)s[i]))
			return json_false();
	return json_boolean(valid_host_label(s, subdomains));
}

static json_t *parse_arn(const char *s)
{
	const char *f[6];
	size_t len[6];
	json_t *ids, *out;
	char *res;

	if (strncmp(s, "arn:", 4))
		return NULL;
	f[0] = s;
	for (int i = 0; i < 5; i++) {
		const char *c = strchr(f[i], ':');

		if (!c)
			return NULL;
		len[i] = (size_t)(c - f[i]);
		f[i + 1] = c + 1;
	}
	len[5] = strlen(f[5]);
	if (!len[1] || !len[2] || !len[5])
		return NULL;
	ids = json_array();
	res = np_xstrdup(f[5]);
	for (char *p = res; *p; p++)
		if (*p == ':')
			*p = '/';
	/* Python's split keeps empty pieces. */
	for (char *p = res;;) {
		char *slash = strchr(p, '/');

		if (slash)
			*slash = '\0';
		json_array_append_new(ids, json_string(p));
		if (!slash)
			break;
		p = slash + 1;
	}
	free(res);
	out =
	    json_pack("{s:s%, s:s%, s:s%, s:s%, s:o}", "partition", f[1], len[1], "service", f[2],
		      len[2], "region", f[3], len[3], "accountId", f[4], len[4], "resourceId", ids);
	return out;
}

/* RFC 3986 dot segments out, as botocore's remove_dot_segments. */
static char *dedot(const char *path)
{
	struct np_buf b = NP_BUF_INIT;
	char *copy = np_xstrdup(path), *seg, *save = NULL;
	char **segs = NULL;
	size_t n = 0, alloc = 0;
	bool trailing = path[0] && path[strlen(path) - 1] == '/';

	for (seg = strtok_r(copy, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		if (!strcmp(seg, "."))
			continue;
		if (!strcmp(seg, "..")) {
			if (n)
				n--;
			continue;
		}
		NP_ALLOC_GROW(segs, n + 1, alloc);
		segs[n++] = seg;
	}
	np_buf_putc(&b, '/');
	for (size_t i = 0; i < n; i++) {
		np_buf_puts(&b, segs[i]);
		if (i + 1 < n || trailing)
			np_buf_putc(&b, '/');
	}
	free(segs);
	free(copy);
	return np_buf_detach(&b);
}

static void quote(struct np_buf *b, const char *s, const char *safe)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || strchr(safe, c))
			np_buf_putc(b, (char)c);
		else
			np_buf_printf(b, "%%%02X", c);
	}
}

/* botocore's parse_url, with libcurl's parser. */
static json_t *parse_url(const char *s)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL;
	json_t *out = NULL;
	struct np_buf auth = NP_BUF_INIT, norm = NP_BUF_INIT;
	const char *after = strstr(s, "://");
	bool has_path = after && strchr(after + 3, '/');
	char *dd = NULL, ipbuf[64];
	unsigned char addr[16];
	bool is_ip;

	if (!u || curl_url_set(u, CURLUPART_URL, s, CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS))
		goto done;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https")))
		goto done;
	if (!curl_url_get(u, CURLUPART_QUERY, &query, 0) && query && *query)
		goto done;
	if (curl_url_get(u, CURLUPART_HOST, &host, 0))
		goto done;
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	if (!curl_url_get(u, CURLUPART_USER, &user, 0) && user)
		goto done; /* nestplan never sends credentials in a URL */
	np_buf_puts(&auth, host);
	if (port)
		np_buf_printf(&auth, ":%s", port);
	dd = dedot(has_path && path ? path : "/");
	quote(&norm, dd, "/_.-~");
	if (norm.len == 0 || norm.ptr[norm.len - 1] != '/')
		np_buf_putc(&norm, '/');
	snprintf(ipbuf, sizeof(ipbuf), "%s", host);
	if (ipbuf[0] == '[') {
		ipbuf[strcspn(ipbuf, "]")] = '\0';
		is_ip = inet_pton(AF_INET6, ipbuf + 1, addr) == 1;
	} else {
		is_ip = ipv4_text(ipbuf);
	}
	out =
	    json_pack("{s:s, s:s, s:s, s:s, s:b}", "scheme", scheme, "authority", auth.ptr, "path",
		      has_path && path ? path : "", "normalizedPath", norm.ptr, "isIp", is_ip);
done:
	free(dd);
	np_buf_release(&auth);
	np_buf_release(&norm);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_free(user);
	curl_url_cleanup(u);
	return out;
}

static json_t *get_attr(json_t *v, const char *path)
{
	char *copy = np_xstrdup(path), *part, *save = NULL;

	for (part = strtok_r(copy, ".", &save); part && v; part = strtok_r(NULL, ".", &save)) {
		char *br = strchr(part, '[');

		if (br) {
			long idx = strtol(br + 1, NULL, 10);

			*br = '\0';
			if (*part)
				v = json_is_object(v) ? json_object_get(v, part) : NULL;
			v = json_is_array(v) && idx >= 0 && (size_t)idx < json_array_size(v)
				? json_array_get(v, (size_t)idx)
				: NULL;
			break;
		}
		v = json_is_object(v) ? json_object_get(v, part) : NULL;
	}
	free(copy);
	return v ? json_incref(v) : NULL;
}

static const char *str(json_t *v) { return json_is_string(v) ? json_string_value(v) : NULL; }

static json_t *call(json_t *fn, json_t *scope, struct eval *e)
{
	const char *name = json_string_value(json_object_get(fn, "fn"));
	const char *assign = json_string_value(json_object_get(fn, "assign"));
	json_t *argv = json_object_get(fn, "argv"), *a[4] = { NULL, NULL, NULL, NULL }, *r = NULL;
	size_t n = json_array_size(argv);

	if (!name || n > 4) {
		fail(e, "malformed rule set");
		return NULL;
	}
	for (size_t i = 0; i < n && !e->failed; i++)
		a[i] = value(json_array_get(argv, i), scope, e);
	if (e->failed)
		goto done;
	if (!strcmp(name, "isSet")) {
		r = json_boolean(a[0] && !json_is_null(a[0]));
	} else if (!strcmp(name, "not")) {
		r = json_boolean(!truthy(a[0]));
	} else if (!strcmp(name, "booleanEquals")) {
		if (!json_is_boolean(a[0]) || !json_is_boolean(a[1]))
			fail(e, "booleanEquals: both arguments must be bools");
		else
			r = json_boolean(json_is_true(a[0]) == json_is_true(a[1]));
	} else if (!strcmp(name, "stringEquals")) {
		if (!str(a[0]) || !str(a[1]))
			fail(e, "stringEquals: both values must be strings");
		else
			r = json_boolean(!strcmp(str(a[0]), str(a[1])));
	} else if (!strcmp(name, "getAttr")) {
		r = a[0] && str(a[1]) ? get_attr(a[0], str(a[1])) : NULL;
	} else if (!strcmp(name, "aws.partition")) {
		r = partition_json(str(a[0]));
	} else if (!strcmp(name, "aws.parseArn")) {
		r = str(a[0]) ? parse_arn(str(a[0])) : NULL;
	} else if (!strcmp(name, "isValidHostLabel")) {
		r = json_boolean(str(a[0]) && valid_host_label(str(a[0]), json_is_true(a[1])));
	} else if (!strcmp(name, "aws.isVirtualHostableS3Bucket")) {
		r = str(a[0]) ? virtual_hostable(str(a[0]), json_is_true(a[1])) : json_false();
	} else if (!strcmp(name, "parseURL")) {
		r = str(a[0]) ? parse_url(str(a[0])) : NULL;
	} else if (!strcmp(name, "substring")) {
		const char *s = str(a[0]);
		json_int_t start = json_integer_value(a[1]), stop = json_integer_value(a[2]);
		bool ascii = true;

		if (!s) {
			fail(e, "substring: input must be a string");
			goto done;
		}
		for (const char *p = s; *p; p++)
			ascii = ascii && (unsigned char)*p < 128;
		if (start < 0 || start >= stop || (json_int_t)strlen(s) < stop || !ascii)
			r = NULL;
		else if (json_is_true(a[3]))
			r = json_stringn(s + strlen(s) - (size_t)stop, (size_t)(stop - start));
		else
			r = json_stringn(s + start, (size_t)(stop - start));
	} else if (!strcmp(name, "uriEncode")) {
		if (str(a[0])) {
			struct np_buf b = NP_BUF_INIT;

			quote(&b, str(a[0]), "-._~");
			r = json_string(b.ptr);
			np_buf_release(&b);
		}
	} else {
		fail(e, "the rule set calls a function nestplan does not know");
	}
	if (!e->failed && assign) {
		if (json_object_get(scope, assign)) {
			fail(e, "malformed rule set: a value is assigned twice");
		} else {
			json_object_set(scope, assign, r ? r : json_null());
		}
	}
done:
	for (size_t i = 0; i < 4; i++)
		json_decref(a[i]);
	if (e->failed) {
		json_decref(r);
		return NULL;
	}
	return r;
}

/* A new reference, or NULL for Python's None. Literals are copied, so the
 * shared rule document's reference counts are never touched by threads. */
static json_t *value(json_t *v, json_t *scope, struct eval *e)
{
	json_t *r;

	if (json_is_object(v) && json_object_get(v, "fn"))
		return call(v, scope, e);
	if (json_is_object(v) && json_object_get(v, "ref")) {
		r = json_object_get(scope, json_string_value(json_object_get(v, "ref")));
		return r && !json_is_null(r) ? json_incref(r) : NULL;
	}
	if (json_is_string(v) && is_template(json_string_value(v)))
		return template(json_string_value(v), scope, e);
	return json_deep_copy(v);
}

static json_t *properties(json_t *v, json_t *scope, struct eval *e)
{
	if (json_is_array(v)) {
		json_t *out = json_array();
		size_t i;
		json_t *x;

		json_array_foreach(v, i, x) json_array_append_new(out, properties(x, scope, e));
		return out;
	}
	if (json_is_object(v)) {
		json_t *out = json_object(), *x;
		const char *k;

		json_object_foreach(v, k, x) json_object_set_new(out, k, properties(x, scope, e));
		return out;
	}
	if (json_is_string(v) && is_template(json_string_value(v))) {
		json_t *t = template(json_string_value(v), scope, e);

		return t ? t : json_null();
	}
	return json_deep_copy(v);
}

struct hit {
	json_t *url, *props;
};

static bool conditions(json_t *rule, json_t *scope, struct eval *e)
{
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(rule, "conditions"), i, c)
	{
		json_t *r = call(c, scope, e);
		bool ok = r && !json_is_false(r) && !json_is_null(r);

		json_decref(r);
		if (e->failed || !ok)
			return false;
	}
	return true;
}

/* 1: endpoint found, 0: no match, -1: an error rule or evaluation error. */
static int rule(json_t *r, json_t *parent, struct hit *h, struct eval *e)
{
	json_t *scope = json_copy(parent); /* a rule's assignments stay its own */
	const char *type = json_string_value(json_object_get(r, "type"));
	int rc = 0;

	if (!conditions(r, scope, e)) {
		rc = e->failed ? -1 : 0;
	} else if (type && !strcmp(type, "tree")) {
		size_t i;
		json_t *sub;

		json_array_foreach(json_object_get(r, "rules"), i, sub)
		{
			rc = rule(sub, scope, h, e);
			if (rc)
				break;
		}
	} else if (type && !strcmp(type, "error")) {
		json_t *m = value(json_object_get(r, "error"), scope, e);

		if (!e->failed)
			fail(e, str(m) ? str(m) : "endpoint resolution failed");
		json_decref(m);
		rc = -1;
	} else if (type && !strcmp(type, "endpoint")) {
		json_t *ep = json_object_get(r, "endpoint");

		h->url = value(json_object_get(ep, "url"), scope, e);
		h->props = properties(json_object_get(ep, "properties"), scope, e);
		rc = e->failed || !str(h->url) ? -1 : 1;
		if (rc < 0)
			fail(e, "the endpoint rule gives no URL");
	} else {
		fail(e, "unknown rule type");
		rc = -1;
	}
	json_decref(scope);
	return rc;
}

static const char *const service_names[] = { "ec2", "sts", "s3" };

static const struct np_legacy_endpoint *legacy_find(const struct np_legacy_endpoint *e,
						    const char *name)
{
	for (; e && e->name; e++)
		if (!strcmp(e->name, name))
			return e;
	return NULL;
}

/* botocore's legacy resolver (regions.py EndpointResolver.construct_endpoint),
 * which a client consults before the rule set: the partition that takes the
 * region, and the region's entry for the service (NULL when none). */
static const struct np_legacy_partition *
legacy_find_partition(enum np_service svc, const char *region, bool dualstack,
		      const struct np_legacy_endpoint **entry)
{
	for (size_t i = 0; region && i < np_n_legacy_partitions && i < MAX_PARTITIONS; i++) {
		const struct np_legacy_partition *lp = &np_legacy_partitions[i];
		const struct np_legacy_service *s = &lp->services[svc];
		bool listed = false;

		/* regions.py _UNSUPPORTED_DUALSTACK_PARTITIONS: skipped, not refused. */
		if (dualstack && (!strcmp(lp->id, "aws-iso") || !strcmp(lp->id, "aws-iso-b")))
			continue;
		*entry = legacy_find(s->endpoints, region);
		if (*entry)
			return lp;
		for (const char *const *r = lp->regions; *r && !listed; r++)
			listed = !strcmp(*r, region);
		if (!listed &&
		    !(legacy_ok[i] && regexec(&legacy_patterns[i], region, 0, NULL, 0) == 0))
			continue;
		if (s->partition_endpoint && !s->regionalized)
			*entry = legacy_find(s->endpoints, s->partition_endpoint);
		return lp;
	}
	*entry = NULL;
	return NULL;
}

/* A FIPS or dual-stack variant that endpoints.json gives no hostname for is
 * refused there (EndpointVariantError). */
static int legacy_check(enum np_service svc, const char *region, bool fips, bool dualstack,
			struct np_err *err)
{
	unsigned want = fips && dualstack ? 4 : fips ? 1 : dualstack ? 2 : 0;
	const struct np_legacy_endpoint *entry;
	const struct np_legacy_partition *lp;

	if (!want || !(lp = legacy_find_partition(svc, region, dualstack, &entry)))
		return 0;
	if (((entry ? entry->variants : 0) | lp->services[svc].variants | lp->variants) & want)
		return 0;
	return np_error_cls(err, NP_ERRC_USAGE,
			    "%s endpoint for region '%s': Unable to construct a modeled "
			    "endpoint with the following variant(s) [%s]: %s has no %s "
			    "endpoint in partition %s",
			    service_names[svc], region,
			    want == 4   ? "'dualstack', 'fips'"
			    : want == 2 ? "'dualstack'"
					: "'fips'",
			    service_names[svc],
			    want == 4   ? "FIPS dual-stack"
			    : want == 2 ? "dual-stack"
					: "FIPS",
			    lp->id);
}

/* The region SigV4 signs for when the rule set does not say: the legacy
 * entry's credentialScope (sts in aws-global signs for us-east-1). */
static const char *legacy_scope(enum np_service svc, const char *region, bool dualstack)
{
	const struct np_legacy_endpoint *entry;

	if (legacy_find_partition(svc, region, dualstack, &entry) && entry && entry->scope_region)
		return entry->scope_region;
	return region;
}

int np_endpoint_resolve(struct np_endpoint *out, enum np_service svc,
			const struct np_endpoint_params *p, struct np_err *err)
{
	json_t *rs, *params = NULL, *scope = NULL, *v, *scheme;
	struct eval e = { "", false };
	struct hit h = { NULL, NULL };
	const struct np_partition *part;
	const char *k, *url;
	int rc = -1;
	size_t i;
	CURLU *u = NULL;
	char *host = NULL, *port = NULL;

	memset(out, 0, sizeof(*out));
	pthread_once(&once, init);
	if ((unsigned)svc > NP_SERVICE_S3 || !(rs = rulesets[svc]))
		return np_error(err, "no endpoint rule set for this service");
	if (legacy_check(svc, p->region, p->use_fips, p->use_dualstack, err) < 0)
		return -1;
	part = np_partition_of(p->region);
	scope = json_object();
	if (p->region)
		json_object_set_new(scope, "Region", json_string(p->region));
	/* As botocore's compute_endpoint_resolver_builtin_defaults: a custom
	 * endpoint turns FIPS and dual-stack off, and S3 to path style. */
	json_object_set_new(scope, "UseFIPS", json_boolean(p->use_fips && !p->endpoint));
	json_object_set_new(scope, "UseDualStack", json_boolean(p->use_dualstack && !p->endpoint));
	if (p->endpoint)
		json_object_set_new(scope, "Endpoint", json_string(p->endpoint));
	if (svc != NP_SERVICE_EC2)
		json_object_set_new(scope, "UseGlobalEndpoint",
				    json_boolean(p->use_global_endpoint));
	if (svc == NP_SERVICE_S3) {
		if (p->bucket)
			json_object_set_new(scope, "Bucket", json_string(p->bucket));
		json_object_set_new(scope, "ForcePathStyle",
				    json_boolean(p->force_path_style || p->endpoint));
	}
	/* Defaults of the parameters left unset, as botocore's process_input. */
	params = json_object_get(rs, "parameters");
	json_object_foreach(params, k, v)
	{
		json_t *def = json_object_get(v, "default");

		/* A copy: the shared rule document's reference counts stay untouched. */
		if (!json_object_get(scope, k) && def)
			json_object_set_new(scope, k, json_deep_copy(def));
	}
	json_array_foreach(json_object_get(rs, "rules"), i, v)
	{
		int r = rule(v, scope, &h, &e);

		if (r)
			break;
	}
	if (!str(h.url)) {
		np_error_cls(err, NP_ERRC_USAGE, "%s endpoint for region '%s': %s",
			     service_names[svc], p->region ? p->region : "(none)",
			     e.failed ? e.msg : "no endpoint found for these parameters");
		goto done;
	}
	url = str(h.url);
	u = curl_url();
	if (curl_url_set(u, CURLUPART_URL, url, 0) || curl_url_get(u, CURLUPART_HOST, &host, 0)) {
		np_error_cls(err, NP_ERRC_USAGE, "%s endpoint '%s' is not a URL",
			     service_names[svc], url);
		goto done;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	out->url = np_xstrdup(url);
	out->host = port ? np_xasprintf("%s:%s", host, port) : np_xstrdup(host);
	out->partition = part ? part->id : "";
	scheme = json_array_get(json_object_get(h.props, "authSchemes"), 0);
	out->signing_name = np_xstrdup(str(json_object_get(scheme, "signingName"))
					   ? str(json_object_get(scheme, "signingName"))
					   : service_names[svc]);
	out->signing_region = np_xstrdup(str(json_object_get(scheme, "signingRegion"))
					     ? str(json_object_get(scheme, "signingRegion"))
					     : legacy_scope(svc, p->region, p->use_dualstack));
	rc = 0;
done:
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	json_decref(h.url);
	json_decref(h.props);
	json_decref(scope);
	return rc;
}

int np_endpoint_s3(struct np_endpoint *out, const char *region, const char *bucket, bool use_fips,
		   bool use_dualstack, bool force_path_style, struct np_err *err)
{
	/* botocore's default us_east_1_regional_endpoint is "legacy": the
	 * global s3.amazonaws.com for us-east-1. */
	struct np_endpoint_params p = {
		.region = region,
		.use_fips = use_fips,
		.use_dualstack = use_dualstack,
		.use_global_endpoint = region && !strcmp(region, "us-east-1"),
		.bucket = bucket,
		.force_path_style = force_path_style,
	};

	return np_endpoint_resolve(out, NP_SERVICE_S3, &p, err);
}

void np_endpoint_release(struct np_endpoint *e)
{
	if (!e)
		return;
	free(e->url);
	free(e->host);
	free(e->signing_name);
	free(e->signing_region);
	memset(e, 0, sizeof(*e));
}

/* ---- ARNs ---- */

int np_arn_parse(struct np_arn *out, const char *text, struct np_err *err)
{
	const char *f[6];
	size_t len[6];

	memset(out, 0, sizeof(*out));
	if (!text || strncmp(text, "arn:", 4))
		return np_error_cls(err, NP_ERRC_USAGE,
				    "'%s' is not an ARN (arn:PARTITION:SERVICE:…)",
				    text ? text : "");
	f[0] = text;
	for (int i = 0; i < 5; i++) {
		const char *c = strchr(f[i], ':');

		if (!c)
			return np_error_cls(err, NP_ERRC_USAGE,
					    "'%s' is not an ARN: it needs six ':'-separated fields "
					    "(arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)",
					    text);
		len[i] = (size_t)(c - f[i]);
		f[i + 1] = c + 1;
	}
	len[5] = strlen(f[5]);
	out->partition = np_xstrndup(f[1], len[1]);
	if (!np_partition_by_id(out->partition)) {
		struct np_buf ids = NP_BUF_INIT;

		for (size_t i = 0; i < np_n_partitions; i++)
			np_buf_printf(&ids, "%s%s", i ? ", " : "", np_partitions[i].id);
		np_error_cls(err, NP_ERRC_USAGE, "ARN '%s': unknown partition '%s' (known: %s)",
			     text, out->partition, ids.ptr);
		np_buf_release(&ids);
		np_arn_release(out);
		return -1;
	}
	if (!len[2] || !len[5]) {
		np_arn_release(out);
		return np_error_cls(err, NP_ERRC_USAGE, "ARN '%s' has no %s", text,
				    !len[2] ? "service" : "resource");
	}
	out->service = np_xstrndup(f[2], len[2]);
	out->region = np_xstrndup(f[3], len[3]);
	out->account = np_xstrndup(f[4], len[4]);
	out->resource = np_xstrdup(f[5]);
	return 0;
}

void np_arn_release(struct np_arn *a)
{
	if (!a)
		return;
	free(a->partition);
	free(a->service);
	free(a->region);
	free(a->account);
	free(a->resource);
	memset(a, 0, sizeof(*a));
}
