#include <curl/curl.h>
#include <jansson.h>
#include <libxml/xmlversion.h>
#include <openssl/opensslv.h>
#include <sqlite3.h>
#include <yaml.h>

#include "nestplan/cli.h"

static int run(struct np_ctx *ctx)
{
	if (ctx->opts->json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "nestplan_version", NP_VERSION,
				      "curl", curl_version_info(CURLVERSION_NOW)->version, "sqlite",
				      sqlite3_libversion(), "openssl", OPENSSL_VERSION_STR,
				      "libyaml", yaml_get_version_string());

		json_dumpf(o, ctx->out, JSON_INDENT(2));
		fputc('\n', ctx->out);
		json_decref(o);
		return NP_EXIT_OK;
	}
	fprintf(ctx->out, "nestplan v%s\n", NP_VERSION);
	fprintf(
	    ctx->out, "  libcurl %s, OpenSSL %s, SQLite %s, libyaml %s, libxml2 %s, jansson %s\n",
	    curl_version_info(CURLVERSION_NOW)->version, OPENSSL_VERSION_STR, sqlite3_libversion(),
	    yaml_get_version_string(), LIBXML_DOTTED_VERSION, JANSSON_VERSION);
	return NP_EXIT_OK;
}

const struct np_cmd np_cmd_version = {
	.name = "version",
	.synopsis = "version [-json]",
	.help = "Show the nestplan version and the libraries it runs on.",
	.options = NP_OPTBIT(NP_OPT_JSON),
	.run = run,
	.max_args = 0,
};
