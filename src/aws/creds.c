/* The credential chain: environment, profile (static keys, credential_process,
 * role_arn + source_profile), web identity, container, IMDSv2. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/internal.h"
#include "nestplan/alloc.h"
#include "nestplan/buf.h"
#include "nestplan/log.h"
#include "nestplan/sigv4.h"

void np_creds_release(struct np_creds *c)
{
	if (!c)
		return;
	if (c->secret_key)
		memset(c->secret_key, 0, strlen(c->secret_key));
	free(c->access_key);
	free(c->secret_key);
	free(c->session_token);
	memset(c, 0, sizeof(*c));
}

void np_profile_release(struct np_profile *p)
{
	free(p->name);
	free(p->region);
	free(p->endpoint_url);
	free(p->ec2_endpoint_url);
	memset(p, 0, sizeof(*p));
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* A small INI reader: [section], key = value, # and ; comments. Nested
 * "services" blocks and continuation lines are skipped. */
char *np_ini_get(const char *path, const char *section, const char *key)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	char line[4096], *found = NULL;
	bool in = false;

	if (!f)
		return NULL;
	while (!found && fgets(line, sizeof(line), f)) {
		char *l = trim(line), *eq;

		if (!*l || *l == '#' || *l == ';')
			continue;
		if (*l == '[') {
			char *end = strchr(l, ']');

			if (end) {
				*end = '\0';
				in = !strcmp(trim(l + 1), section);
			}
			continue;
		}
		if (!in || isspace((unsigned char)line[0]) || !(eq = strchr(l, '=')))
			continue;
		*eq = '\0';
		if (!strcmp(trim(l), key))
			found = np_xstrdup(trim(eq + 1));
	}
	fclose(f);
	return found;
}

static char *home_file(const char *env, const char *rel)
{
	const char *v = getenv(env), *home = getenv("HOME");

	if (v && *v)
		return np_xstrdup(v);
	return home ? np_xasprintf("%s/.aws/%s", home, rel) : NULL;
}

static const char *profile_name(const char *name)
{
	const char *env = getenv("AWS_PROFILE");

	if (name && *name)
		return name;
	return env && *env ? env : "default";
}

/* A key from the profile: credentials file first, then the config file. */
static char *profile_get(const char *name, const char *key)
{
	char *cred = home_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	char *conf = home_file("AWS_CONFIG_FILE", "config");
	char *section = strcmp(name, "default") ? np_xasprintf("profile %s", name) : np_xstrdup(name);
	char *v = np_ini_get(cred, name, key);

	if (!v)
		v = np_ini_get(conf, section, key);
	free(cred);
	free(conf);
	free(section);
	return v;
}

int np_profile_load(struct np_profile *out, const char *name, struct np_err *err)
{
	memset(out, 0, sizeof(*out));
	out->name = np_xstrdup(profile_name(name));
	out->region = profile_get(out->name, "region");
	out->endpoint_url = profile_get(out->name, "endpoint_url");
	return 0;
}

static long long parse_time(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return (long long)timegm(&tm);
}

/* {"AccessKeyId", "SecretAccessKey", "SessionToken"|"Token", "Expiration"} */
static int creds_from_json(struct np_creds *out, const char *text, const char *source,
                           struct np_err *err)
{
	json_t *j = json_loads(text, 0, NULL);
	const char *ak, *sk, *tok, *exp;
	int rc = -1;

	if (!j)
		return np_error_cls(err, NP_ERRC_AUTH, "%s: the answer is not JSON", source);
	ak = json_string_value(json_object_get(j, "AccessKeyId"));
	sk = json_string_value(json_object_get(j, "SecretAccessKey"));
	tok = json_string_value(json_object_get(j, "SessionToken"));
	if (!tok)
		tok = json_string_value(json_object_get(j, "Token"));
	exp = json_string_value(json_object_get(j, "Expiration"));
	if (!ak || !sk) {
		np_error_cls(err, NP_ERRC_AUTH, "%s: the answer has no AccessKeyId/SecretAccessKey",
		             source);
		goto done;
	}
	out->access_key = np_xstrdup(ak);
	out->secret_key = np_xstrdup(sk);
	out->session_token = np_xstrdup(tok);
	out->expires = parse_time(exp);
	out->source = source;
	rc = 0;
done:
	json_decref(j);
	return rc;
}

static int from_process(struct np_creds *out, const char *cmd, struct np_err *err)
{
	struct np_buf b;
	char chunk[4096];
	size_t n;
	int status, rc;
	FILE *p = popen(cmd, "r");

	if (!p)
		return np_error_cls(err, NP_ERRC_AUTH, "credential_process could not be started");
	np_buf_init(&b, 1 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		np_buf_add(&b, chunk, n);
	status = pclose(p);
	if (status != 0) {
		np_buf_release(&b);
		return np_error_cls(err, NP_ERRC_AUTH, "credential_process exited with status %d",
		                    WEXITSTATUS(status));
	}
	rc = creds_from_json(out, b.ptr, "credential_process", err);
	np_buf_release(&b);
	return rc;
}

/* STS answers <...Result><Credentials><AccessKeyId/>... */
static int sts_call(struct np_creds *out, const char *region, const char *body,
                    const struct np_creds *signer, const char *what, struct np_err *err)
{
	const char *ep = getenv("AWS_ENDPOINT_URL_STS");
	char *url = ep && *ep ? np_xstrdup(ep)
	            : getenv("AWS_ENDPOINT_URL") && *getenv("AWS_ENDPOINT_URL")
	                    ? np_xstrdup(getenv("AWS_ENDPOINT_URL"))
	                    : np_xasprintf("https://sts.%s.amazonaws.com/", region ? region : "us-east-1");
	struct curl_slist *h = NULL;
	struct np_http_resp resp;
	CURL *c = NULL;
	xmlDoc *doc = NULL;
	xmlNode *cr = NULL;
	int rc = -1;

	if (!np_http_is_loopback_url(url) && strncmp(url, "https://", 8)) {
		np_error_cls(err, NP_ERRC_AUTH, "%s: refusing plain http to '%s'", what, url);
		goto done;
	}
	np_http_global_init();
	c = curl_easy_init();
	h = curl_slist_append(h, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
	h = curl_slist_append(h, "Expect:");
	if (signer) {
		char date[17], auth[512], *hosthdr, *datehdr, *authhdr, *tokhdr = NULL;
		const char *host = strstr(url, "://") + 3;
		size_t hl = strcspn(host, "/");
		char *hostonly = np_xstrndup(host, hl);
		struct np_sigv4_input in = {
			.method = "POST", .host = hostonly, .path = "/", .query = "",
			.content_type = "application/x-www-form-urlencoded; charset=utf-8",
			.body = body, .body_len = strlen(body), .region = region ? region : "us-east-1",
			.service = "sts", .amz_date = date, .access_key = signer->access_key,
			.secret_key = signer->secret_key, .session_token = signer->session_token,
		};

		np_sigv4_date((long long)time(NULL), date);
		np_sigv4_sign(&in, auth, sizeof(auth), NULL);
		hosthdr = np_xasprintf("Host: %s", hostonly);
		datehdr = np_xasprintf("X-Amz-Date: %s", date);
		authhdr = np_xasprintf("Authorization: %s", auth);
		h = curl_slist_append(h, hosthdr);
		h = curl_slist_append(h, datehdr);
		h = curl_slist_append(h, authhdr);
		if (signer->session_token) {
			tokhdr = np_xasprintf("X-Amz-Security-Token: %s", signer->session_token);
			h = curl_slist_append(h, tokhdr);
		}
		free(hostonly);
		free(hosthdr);
		free(datehdr);
		free(authhdr);
		free(tokhdr);
	}
	if (np_http_do(c, "POST", url, h, body, strlen(body), 3000, 10000, &resp, err) < 0) {
		np_error_prefix(err, "%s", what);
		np_buf_release(&resp.body);
		goto done;
	}
	if (resp.status != 200) {
		np_aws_error_from_response(what, resp.status, resp.body.ptr, resp.body.len, err);
		err->cls = NP_ERRC_AUTH;
		np_buf_release(&resp.body);
		goto done;
	}
	doc = np_xml_parse(resp.body.ptr, resp.body.len);
	np_buf_release(&resp.body);
	if (doc) {
		xmlNode *root = xmlDocGetRootElement(doc);
		xmlNode *result = root ? root->children : NULL;

		for (; result && !cr; result = result->next)
			if (result->type == XML_ELEMENT_NODE)
				cr = np_xml_child(result, "Credentials");
	}
	if (!cr) {
		np_error_cls(err, NP_ERRC_AUTH, "%s: no credentials in the answer", what);
		goto done;
	}
	out->access_key = np_xml_text(cr, "AccessKeyId");
	out->secret_key = np_xml_text(cr, "SecretAccessKey");
	out->session_token = np_xml_text(cr, "SessionToken");
	{
		char *exp = np_xml_text(cr, "Expiration");

		out->expires = parse_time(exp);
		free(exp);
	}
	out->source = what;
	rc = out->access_key && out->secret_key ? 0 : np_error_cls(err, NP_ERRC_AUTH, "%s: incomplete credentials", what);
done:
	xmlFreeDoc(doc);
	curl_slist_free_all(h);
	if (c)
		curl_easy_cleanup(c);
	free(url);
	return rc;
}

static void add_param(struct np_buf *b, const char *k, const char *v)
{
	if (b->len)
		np_buf_putc(b, '&');
	np_uri_encode(b, k);
	np_buf_putc(b, '=');
	np_uri_encode(b, v);
}

static int web_identity(struct np_creds *out, const char *token_file, const char *role,
                        const char *session, const char *region, struct np_err *err)
{
	struct np_buf body = NP_BUF_INIT, tok;
	char chunk[4096];
	size_t n;
	int rc;
	FILE *f = fopen(token_file, "r");

	if (!f)
		return np_error_cls(err, NP_ERRC_AUTH, "web identity: cannot read the token file '%s'",
		                    token_file);
	np_buf_init(&tok, 1 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		np_buf_add(&tok, chunk, n);
	fclose(f);
	while (tok.len && isspace((unsigned char)tok.ptr[tok.len - 1]))
		tok.ptr[--tok.len] = '\0';
	add_param(&body, "Action", "AssumeRoleWithWebIdentity");
	add_param(&body, "Version", "2011-06-15");
	add_param(&body, "RoleArn", role);
	add_param(&body, "RoleSessionName", session && *session ? session : "nestplan");
	add_param(&body, "WebIdentityToken", tok.ptr);
	rc = sts_call(out, region, body.ptr, NULL, "AssumeRoleWithWebIdentity", err);
	np_buf_release(&tok);
	np_buf_release(&body);
	return rc;
}

static int static_profile(struct np_creds *out, const char *name)
{
	char *ak = profile_get(name, "aws_access_key_id");
	char *sk = profile_get(name, "aws_secret_access_key");

	if (!ak || !sk) {
		free(ak);
		free(sk);
		return -1;
	}
	out->access_key = ak;
	out->secret_key = sk;
	out->session_token = profile_get(name, "aws_session_token");
	out->source = "shared credentials file";
	return 0;
}

static int from_url(struct np_creds *out, const char *url, const char *auth_header,
                    const char *what, struct np_err *err)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct np_http_resp resp;
	int rc = -1;

	if (auth_header)
		h = curl_slist_append(h, auth_header);
	if (np_http_do(c, "GET", url, h, NULL, 0, 1000, 2000, &resp, err) < 0) {
		np_error_prefix(err, "%s", what);
	} else if (resp.status != 200) {
		np_error_cls(err, NP_ERRC_AUTH, "%s: HTTP %ld", what, resp.status);
	} else {
		rc = creds_from_json(out, resp.body.ptr, what, err);
	}
	np_buf_release(&resp.body);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

static int imds(struct np_creds *out, struct np_err *err)
{
	const char *ep = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	char *base = np_xstrdup(ep && *ep ? ep : "http://169.254.169.254");
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct np_http_resp resp;
	char *url = NULL, *tokhdr = NULL, *role = NULL;
	int rc = -1;

	np_http_global_init();
	if (base[strlen(base) - 1] == '/')
		base[strlen(base) - 1] = '\0';
	url = np_xasprintf("%s/latest/api/token", base);
	h = curl_slist_append(h, "X-aws-ec2-metadata-token-ttl-seconds: 21600");
	/* Short timeouts: off EC2 nothing answers, and that must not stall a run. */
	if (np_http_do(c, "PUT", url, h, "", 0, 1000, 1000, &resp, err) < 0 || resp.status != 200) {
		np_buf_release(&resp.body);
		np_error_cls(err, NP_ERRC_AUTH, "IMDS: no answer");
		goto done;
	}
	tokhdr = np_xasprintf("X-aws-ec2-metadata-token: %s", resp.body.ptr);
	np_buf_release(&resp.body);
	curl_slist_free_all(h);
	h = curl_slist_append(NULL, tokhdr);
	free(url);
	url = np_xasprintf("%s/latest/meta-data/iam/security-credentials/", base);
	if (np_http_do(c, "GET", url, h, NULL, 0, 1000, 1000, &resp, err) < 0 || resp.status != 200 ||
	    !resp.body.len) {
		np_buf_release(&resp.body);
		np_error_cls(err, NP_ERRC_AUTH, "IMDS: no instance role");
		goto done;
	}
	role = np_xstrndup(resp.body.ptr, strcspn(resp.body.ptr, "\r\n"));
	np_buf_release(&resp.body);
	free(url);
	url = np_xasprintf("%s/latest/meta-data/iam/security-credentials/%s", base, role);
	rc = from_url(out, url, tokhdr, "IMDS", err);
done:
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(base);
	free(url);
	free(tokhdr);
	free(role);
	return rc;
}

int np_creds_resolve(struct np_creds *out, const char *profile, const char *region,
                     struct np_err *err)
{
	const char *name = profile_name(profile);
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *wif = getenv("AWS_WEB_IDENTITY_TOKEN_FILE"), *role = getenv("AWS_ROLE_ARN");
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *noimds = getenv("AWS_EC2_METADATA_DISABLED");
	char *v = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	np_http_global_init();
	if (ak && *ak && sk && *sk) {
		const char *tok = getenv("AWS_SESSION_TOKEN");

		out->access_key = np_xstrdup(ak);
		out->secret_key = np_xstrdup(sk);
		out->session_token = tok && *tok ? np_xstrdup(tok) : NULL;
		out->source = "environment";
		return 0;
	}
	/* The profile: assume-role, then credential_process, then static keys. */
	if ((v = profile_get(name, "role_arn"))) {
		char *src = profile_get(name, "source_profile");
		char *session = profile_get(name, "role_session_name");
		struct np_creds base = {0};
		struct np_buf body = NP_BUF_INIT;

		if (!src || static_profile(&base, src) < 0) {
			np_error_cls(err, NP_ERRC_AUTH, "profile '%s' has role_arn but its source_profile "
			                                "'%s' has no keys",
			             name, src ? src : "(none)");
		} else {
			add_param(&body, "Action", "AssumeRole");
			add_param(&body, "Version", "2011-06-15");
			add_param(&body, "RoleArn", v);
			add_param(&body, "RoleSessionName", session ? session : "nestplan");
			rc = sts_call(out, region, body.ptr, &base, "AssumeRole", err);
		}
		np_buf_release(&body);
		np_creds_release(&base);
		free(src);
		free(session);
		free(v);
		return rc;
	}
	if ((v = profile_get(name, "credential_process"))) {
		rc = from_process(out, v, err);
		free(v);
		return rc;
	}
	if (static_profile(out, name) == 0)
		return 0;
	if ((v = profile_get(name, "web_identity_token_file"))) {
		char *prole = profile_get(name, "role_arn");

		rc = prole ? web_identity(out, v, prole, NULL, region, err)
		           : np_error_cls(err, NP_ERRC_AUTH, "profile '%s': web_identity_token_file "
		                                             "without role_arn",
		                          name);
		free(prole);
		free(v);
		return rc;
	}
	if (wif && *wif && role && *role)
		return web_identity(out, wif, role, getenv("AWS_ROLE_SESSION_NAME"), region, err);
	if ((rel && *rel) || (full && *full)) {
		const char *tok = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
		const char *tokfile = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
		char *url = rel && *rel ? np_xasprintf("http://169.254.170.2%s", rel) : np_xstrdup(full);
		char *hdr = NULL, tokbuf[4096] = "";

		if (tokfile && *tokfile) {
			FILE *f = fopen(tokfile, "r");

			if (f) {
				if (fgets(tokbuf, sizeof(tokbuf), f))
					tokbuf[strcspn(tokbuf, "\r\n")] = '\0';
				fclose(f);
			}
			tok = tokbuf;
		}
		if (tok && *tok)
			hdr = np_xasprintf("Authorization: %s", tok);
		rc = from_url(out, url, hdr, "container credentials", err);
		free(url);
		free(hdr);
		return rc;
	}
	if (!(noimds && !strcasecmp(noimds, "true")) && imds(out, NULL) == 0)
		return 0;
	return np_error_cls(err, NP_ERRC_AUTH,
	                    "no AWS credentials found. Looked in: the environment "
	                    "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), profile '%s' in the shared "
	                    "credentials and config files (keys, credential_process, role_arn), web "
	                    "identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN), container "
	                    "credentials (AWS_CONTAINER_CREDENTIALS_*)%s",
	                    name, noimds && !strcasecmp(noimds, "true") ? "" : ", and EC2 instance metadata (IMDSv2)");
}
