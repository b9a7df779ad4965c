/* Credentials in the AWS CLI's order, and the profile's settings. */
#ifndef NESTPLAN_CREDS_H
#define NESTPLAN_CREDS_H

#include <stdbool.h>

#include "nestplan/error.h"

struct np_creds {
	char *access_key;
	char *secret_key;
	char *session_token; /* NULL for long-term keys */
	long long expires;   /* 0: never */
	const char *source;  /* where they came from, for messages */
};

/* What a profile in ~/.aws/config and ~/.aws/credentials says. */
struct np_profile {
	char *name;
	char *region;
	char *endpoint_url;
	char *ec2_endpoint_url;
	char *ca_bundle;         /* CA certificates to verify TLS with */
	char *use_fips_endpoint; /* "true" | "false" as written */
	char *use_dualstack_endpoint;
};

void np_creds_release(struct np_creds *c);
void np_profile_release(struct np_profile *p);
/* The profile's name: provider.profile, AWS_PROFILE, else "default". */
int np_profile_load(struct np_profile *out, const char *name, struct np_err *err);
/* FIPS and dual-stack endpoints: AWS_USE_FIPS_ENDPOINT and
 * AWS_USE_DUALSTACK_ENDPOINT, else the profile's use_fips_endpoint and
 * use_dualstack_endpoint; a value other than true/false is an error. */
int np_profile_endpoint_flags(const struct np_profile *p, bool *use_fips, bool *use_dualstack,
			      struct np_err *err);
/* Resolve credentials; region is used for STS. The error lists where it
 * looked when nothing is found. */
int np_creds_resolve(struct np_creds *out, const char *profile, const char *region,
		     struct np_err *err);
/* Read one key of [section] from an INI file; NULL when missing. */
char *np_ini_get(const char *path, const char *section, const char *key);

#endif
