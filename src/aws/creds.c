/* The credential chain: environment, profile (static keys, credential_process,
 * role_arn + source_profile), web identity, container, IMDSv2. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aws/internal.h"
#include "nestplan/alloc.h"
#include "nestplan/buf.h"
#include "nestplan/clock.h"
#include "nestplan/endpoints.h"
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
	free(p->ca_bundle);
	free(p->use_fips_endpoint);
	free(p->use_dualstack_endpoint);
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
	char *section =
	    strcmp(name, "default") ? np_xasprintf("profile %s", name) : np_xstrdup(name);
	char *v = np_ini_get(cred, name, key);

	if (!v)
		v = np_ini_get(conf, section, key);
	free(cred);
	free(conf);
	free(section);
	return v;
}

static bool profile_has(const char *name, const char *key)
{
	char *v = profile_get(name, key);

	free(v);
	return v != NULL;
}

int np_profile_load(struct np_profile *out, const char *name, struct np_err *err)
{
	memset(out, 0, sizeof(*out));
	out->name = np_xstrdup(profile_name(name));
	out->region = profile_get(out->name, "region");
	out->endpoint_url = profile_get(out->name, "endpoint_url");
	out->ca_bundle = profile_get(out->name, "ca_bundle");
	out->use_fips_endpoint = profile_get(out->name, "use_fips_endpoint");
	out->use_dualstack_endpoint = profile_get(out->name, "use_dualstack_endpoint");
	return 0;
}

/* "true" or "false" (any case); anything else is a mistake worth saying. */
static int flag(const char *v, const char *name, bool *out, struct np_err *err)
{
	if (!v || !*v)
		return 0;
	if (!strcasecmp(v, "true"))
		*out = true;
	else if (!strcasecmp(v, "false"))
		*out = false;
	else
		return np_error_cls(err, NP_ERRC_USAGE, "%s must be true or false, not '%s'", name,
				    v);
	return 0;
}

int np_profile_endpoint_flags(const struct np_profile *p, bool *use_fips, bool *use_dualstack,
			      struct np_err *err)
{
	const char *ef = getenv("AWS_USE_FIPS_ENDPOINT"),
		   *ed = getenv("AWS_USE_DUALSTACK_ENDPOINT");

	*use_fips = *use_dualstack = false;
	/* The environment wins over the profile, as in botocore. */
	if (ef && *ef ? flag(ef, "AWS_USE_FIPS_ENDPOINT", use_fips, err)
		      : flag(p->use_fips_endpoint, "use_fips_endpoint", use_fips, err))
		return -1;
	if (ed && *ed
		? flag(ed, "AWS_USE_DUALSTACK_ENDPOINT", use_dualstack, err)
		: flag(p->use_dualstack_endpoint, "use_dualstack_endpoint", use_dualstack, err))
		return -1;
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

#define PROCESS_OUTPUT_MAX (1u << 20)

/* NESTPLAN_CREDENTIAL_PROCESS_TIMEOUT seconds, else one minute as the Go SDK. */
static int process_timeout_ms(struct np_err *err)
{
	const char *v = getenv("NESTPLAN_CREDENTIAL_PROCESS_TIMEOUT");
	char *end;
	double s;

	if (!v || !*v)
		return 60000;
	s = strtod(v, &end);
	if (*end || !isfinite(s) || s < 0.001 || s > 3600)
		return np_error_cls(
		    err, NP_ERRC_USAGE,
		    "NESTPLAN_CREDENTIAL_PROCESS_TIMEOUT must be a number of seconds "
		    "between 0.001 and 3600, not '%s'",
		    v);
	return (int)(s * 1000 + 0.5);
}

static long long now_ms(void) { return (long long)(np_monotonic_now() * 1000); }

extern char **environ;

/* Run cmd with sh -c in a process group of its own, its stdout read into
 * out up to PROCESS_OUTPUT_MAX, for at most timeout_ms: on the deadline (or
 * too much output) the whole group is killed, so a hung helper, or a
 * grandchild holding the pipe, cannot hang nestplan. */
static int run_process(const char *cmd, struct np_buf *out, int *status, struct np_err *err)
{
	int fds[2] = { -1, -1 }, rc = -1, timeout_ms = process_timeout_ms(err);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	pid_t pid = -1;
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	long long deadline;
	bool over = false, late = false;

	if (timeout_ms < 0)
		return -1;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return np_error_cls(err, NP_ERRC_AUTH, "credential_process: pipe: %s",
				    strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&at, 0);
	errno = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(fds[1]);
	if (errno) {
		np_error_cls(err, NP_ERRC_AUTH, "credential_process could not be started: %s",
			     strerror(errno));
		close(fds[0]);
		return -1;
	}
	deadline = now_ms() + timeout_ms;
	for (;;) {
		struct pollfd pfd = { fds[0], POLLIN, 0 };
		long long left = deadline - now_ms();
		char chunk[4096];
		ssize_t n;
		int pr;

		if (left <= 0) {
			late = true;
			break;
		}
		pr = poll(&pfd, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			late = pr == 0;
			break;
		}
		n = read(fds[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out->len + (size_t)n > PROCESS_OUTPUT_MAX ||
		    np_buf_add(out, chunk, (size_t)n) < 0) {
			over = true;
			break;
		}
	}
	close(fds[0]);
	if (late || over)
		kill(-pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	if (late)
		np_error_cls(err, NP_ERRC_AUTH,
			     "credential_process '%s' did not finish within %.3g s and was killed "
			     "(NESTPLAN_CREDENTIAL_PROCESS_TIMEOUT sets the limit)",
			     cmd, timeout_ms / 1000.0);
	else if (over)
		np_error_cls(err, NP_ERRC_AUTH,
			     "credential_process '%s' printed more than %u bytes and was killed",
			     cmd, PROCESS_OUTPUT_MAX);
	else
		rc = 0;
	return rc;
}

static int from_process(struct np_creds *out, const char *cmd, struct np_err *err)
{
	struct np_buf b;
	int status = 0, rc;

	np_buf_init(&b, PROCESS_OUTPUT_MAX + 1);
	if (run_process(cmd, &b, &status, err) < 0) {
		np_buf_release(&b);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		np_buf_release(&b);
		if (WIFSIGNALED(status))
			return np_error_cls(err, NP_ERRC_AUTH,
					    "credential_process was killed by signal %d",
					    WTERMSIG(status));
		return np_error_cls(err, NP_ERRC_AUTH, "credential_process exited with status %d",
				    WEXITSTATUS(status));
	}
	rc = creds_from_json(out, b.ptr, "credential_process", err);
	np_buf_release(&b);
	return rc;
}

/* Where STS calls go: the rule set's endpoint for the region, or a custom one. */
struct sts_target {
	const char *region;
	bool use_fips, use_dualstack;
	const char *endpoint_url; /* the profile's endpoint_url */
};

/* STS answers <...Result><Credentials><AccessKeyId/>... */
static int sts_call(struct np_creds *out, const struct sts_target *t, const char *body,
		    const struct np_creds *signer, const char *what, struct np_err *err)
{
	const char *custom = getenv("AWS_ENDPOINT_URL_STS");
	struct np_endpoint_params ep_params;
	struct np_endpoint ep = { 0 };
	struct curl_slist *h = NULL;
	struct np_http_resp resp;
	CURL *c = NULL;
	xmlDoc *doc = NULL;
	xmlNode *cr = NULL;
	char *hostonly = NULL;
	int rc = -1;

	if (!custom || !*custom)
		custom = getenv("AWS_ENDPOINT_URL");
	if (!custom || !*custom)
		custom = t->endpoint_url;
	memset(&ep_params, 0, sizeof(ep_params));
	/* botocore's default sts_regional_endpoints is "regional". */
	ep_params.region = t->region ? t->region : "us-east-1";
	ep_params.use_fips = t->use_fips;
	ep_params.use_dualstack = t->use_dualstack;
	ep_params.endpoint = custom && *custom ? custom : NULL;
	if (np_endpoint_resolve(&ep, NP_SERVICE_STS, &ep_params, err) < 0) {
		np_error_prefix(err, "%s", what);
		err->cls = NP_ERRC_AUTH;
		goto done;
	}
	if (np_http_check_url(ep.url, NP_URL_HTTP_LOOPBACK, "STS endpoint", &hostonly, err) < 0) {
		np_error_prefix(err, "%s", what);
		err->cls = NP_ERRC_AUTH;
		goto done;
	}
	np_log_debug("aws: %s via STS at %s (host %s, partition %s, signing region %s)", what,
		     ep.url, hostonly, ep.partition[0] ? ep.partition : "?", ep.signing_region);
	np_http_global_init();
	c = curl_easy_init();
	h = curl_slist_append(h, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
	h = curl_slist_append(h, "Expect:");
	if (signer) {
		char date[17], auth[512], *hosthdr, *datehdr, *authhdr, *tokhdr = NULL;
		struct np_sigv4_input in = {
			.method = "POST",
			.host = hostonly,
			.path = "/",
			.query = "",
			.content_type = "application/x-www-form-urlencoded; charset=utf-8",
			.body = body,
			.body_len = strlen(body),
			.region = ep.signing_region,
			.service = "sts",
			.amz_date = date,
			.access_key = signer->access_key,
			.secret_key = signer->secret_key,
			.session_token = signer->session_token,
		};

		np_sigv4_date((long long)np_wall_now(), date);
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
		free(hosthdr);
		free(datehdr);
		free(authhdr);
		free(tokhdr);
	}
	if (np_http_do(c, "POST", ep.url, NP_URL_HTTP_LOOPBACK, h, body, strlen(body), 3000, 10000,
		       &resp, err) < 0) {
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
	rc = out->access_key && out->secret_key
		 ? 0
		 : np_error_cls(err, NP_ERRC_AUTH, "%s: incomplete credentials", what);
done:
	xmlFreeDoc(doc);
	curl_slist_free_all(h);
	if (c)
		curl_easy_cleanup(c);
	free(hostonly);
	np_endpoint_release(&ep);
	return rc;
}

/* A role ARN in any partition of the table; what names where it came from. */
static int check_role_arn(const char *arn, const char *what, struct np_err *err)
{
	struct np_arn a;

	if (np_arn_parse(&a, arn, err) < 0)
		return np_error_prefix(err, "%s", what);
	if (strcmp(a.service, "iam") || strncmp(a.resource, "role/", 5)) {
		np_error_cls(err, NP_ERRC_USAGE,
			     "%s: '%s' is not an IAM role ARN "
			     "(arn:PARTITION:iam::ACCOUNT:role/NAME)",
			     what, arn);
		np_arn_release(&a);
		return -1;
	}
	np_arn_release(&a);
	return 0;
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
			const char *session, const struct sts_target *t, struct np_err *err)
{
	struct np_buf body = NP_BUF_INIT, tok;
	char chunk[4096];
	size_t n;
	int rc;
	FILE *f;

	if (check_role_arn(role, "web identity role", err) < 0)
		return -1;
	f = fopen(token_file, "r");
	if (!f)
		return np_error_cls(err, NP_ERRC_AUTH,
				    "web identity: cannot read the token file '%s'", token_file);
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
	rc = sts_call(out, t, body.ptr, NULL, "AssumeRoleWithWebIdentity", err);
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

static int from_url(struct np_creds *out, const char *url, enum np_url_allow allow,
		    const char *auth_header, const char *what, struct np_err *err)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct np_http_resp resp;
	int rc = -1;

	if (auth_header)
		h = curl_slist_append(h, auth_header);
	if (np_http_do(c, "GET", url, allow, h, NULL, 0, 1000, 2000, &resp, err) < 0) {
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
	if (np_http_do(c, "PUT", url, NP_URL_HTTP_ANY, h, "", 0, 1000, 1000, &resp, err) < 0 ||
	    resp.status != 200) {
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
	if (np_http_do(c, "GET", url, NP_URL_HTTP_ANY, h, NULL, 0, 1000, 1000, &resp, err) < 0 ||
	    resp.status != 200 || !resp.body.len) {
		np_buf_release(&resp.body);
		np_error_cls(err, NP_ERRC_AUTH, "IMDS: no instance role");
		goto done;
	}
	role = np_xstrndup(resp.body.ptr, strcspn(resp.body.ptr, "\r\n"));
	np_buf_release(&resp.body);
	free(url);
	url = np_xasprintf("%s/latest/meta-data/iam/security-credentials/%s", base, role);
	rc = from_url(out, url, NP_URL_HTTP_ANY, tokhdr, "IMDS", err);
done:
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(base);
	free(url);
	free(tokhdr);
	free(role);
	return rc;
}

/* The chain without the environment keys; prof is the loaded profile. */
static int chain(struct np_creds *out, const char *name, const struct np_profile *prof,
		 const char *region, struct np_err *err)
{
	const char *wif = getenv("AWS_WEB_IDENTITY_TOKEN_FILE"), *role = getenv("AWS_ROLE_ARN");
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *noimds = getenv("AWS_EC2_METADATA_DISABLED");
	struct sts_target t = { region, false, false, prof->endpoint_url };
	char *v = NULL;
	int rc = -1;

	if (np_profile_endpoint_flags(prof, &t.use_fips, &t.use_dualstack, err) < 0)
		return -1;
	/* The profile: assume-role, then credential_process, then static keys. */
	if ((v = profile_get(name, "role_arn")) && !profile_has(name, "web_identity_token_file")) {
		char *src = profile_get(name, "source_profile");
		char *session = profile_get(name, "role_session_name");
		struct np_creds base = { 0 };
		struct np_buf body = NP_BUF_INIT;

		if (check_role_arn(v, "role_arn", err) < 0) {
			np_error_prefix(err, "profile '%s'", name);
		} else if (!src || static_profile(&base, src) < 0) {
			np_error_cls(err, NP_ERRC_AUTH,
				     "profile '%s' has role_arn but its source_profile "
				     "'%s' has no keys",
				     name, src ? src : "(none)");
		} else {
			add_param(&body, "Action", "AssumeRole");
			add_param(&body, "Version", "2011-06-15");
			add_param(&body, "RoleArn", v);
			add_param(&body, "RoleSessionName", session ? session : "nestplan");
			rc = sts_call(out, &t, body.ptr, &base, "AssumeRole", err);
		}
		np_buf_release(&body);
		np_creds_release(&base);
		free(src);
		free(session);
		free(v);
		return rc;
	}
	free(v);
	if ((v = profile_get(name, "credential_process"))) {
		rc = from_process(out, v, err);
		free(v);
		return rc;
	}
	if (static_profile(out, name) == 0)
		return 0;
	if ((v = profile_get(name, "web_identity_token_file"))) {
		char *prole = profile_get(name, "role_arn");

		rc = prole ? web_identity(out, v, prole, NULL, &t, err)
			   : np_error_cls(err, NP_ERRC_AUTH,
					  "profile '%s': web_identity_token_file "
					  "without role_arn",
					  name);
		free(prole);
		free(v);
		return rc;
	}
	if (wif && *wif && role && *role)
		return web_identity(out, wif, role, getenv("AWS_ROLE_SESSION_NAME"), &t, err);
	if ((rel && *rel) || (full && *full)) {
		const char *tok = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
		const char *tokfile = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
		char *url =
		    rel && *rel ? np_xasprintf("http://169.254.170.2%s", rel) : np_xstrdup(full);
		char *hdr = NULL, tokbuf[4096] = "";

		/* Judged before any token is read or sent. */
		if (np_http_check_url(url, NP_URL_HTTP_CONTAINER,
				      rel && *rel ? "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
						  : "AWS_CONTAINER_CREDENTIALS_FULL_URI",
				      NULL, err) < 0) {
			err->cls = NP_ERRC_AUTH;
			free(url);
			return -1;
		}
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
		rc = from_url(out, url, NP_URL_HTTP_CONTAINER, hdr, "container credentials", err);
		free(url);
		free(hdr);
		return rc;
	}
	if (!(noimds && !strcasecmp(noimds, "true")) && imds(out, NULL) == 0)
		return 0;
	return np_error_cls(
	    err, NP_ERRC_AUTH,
	    "no AWS credentials found. Looked in: the environment "
	    "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), profile '%s' in the shared "
	    "credentials and config files (keys, credential_process, role_arn), web "
	    "identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN), container "
	    "credentials (AWS_CONTAINER_CREDENTIALS_*)%s",
	    name,
	    noimds && !strcasecmp(noimds, "true") ? "" : ", and EC2 instance metadata (IMDSv2)");
}

int np_creds_resolve(struct np_creds *out, const char *profile, const char *region,
		     struct np_err *err)
{
	const char *name = profile_name(profile);
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	struct np_profile prof;
	int rc;

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
	np_profile_load(&prof, name, err);
	rc = chain(out, name, &prof, region, err);
	np_profile_release(&prof);
	return rc;
}
