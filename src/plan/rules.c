/* The nested-virtualization rules of DESIGN.md as diagnostics. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/buf.h"
#include "nestplan/suggest.h"
#include "plan/internal.h"

#define WINDOWS_NV_MAX_VCPUS 192

static void add_diag(struct np_plan *plan, enum np_severity sev, const char *address,
		     enum np_cfg_key key, const char *fmt, va_list ap)
{
	struct np_diag *d;
	char *msg;

	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	NP_ALLOC_GROW(plan->diags, plan->n_diags + 1, plan->alloc_diags);
	d = &plan->diags[plan->n_diags++];
	d->severity = sev;
	d->address = np_xstrdup(address);
	d->message = msg;
	d->key = key;
}

void np_plan_diag(struct np_plan *plan, enum np_severity sev, const char *address, const char *fmt,
		  ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_diag(plan, sev, address, NP_KEY_ENTRY, fmt, ap);
	va_end(ap);
}

void np_plan_diag_key(struct np_plan *plan, enum np_severity sev, const char *address,
		      enum np_cfg_key key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_diag(plan, sev, address, key, fmt, ap);
	va_end(ap);
}

void np_plan_drift_add(struct np_plan *plan, const char *address, const char *id,
		       const char *attribute, const char *recorded, const char *live)
{
	struct np_drift *d;

	NP_ALLOC_GROW(plan->drift, plan->n_drift + 1, plan->alloc_drift);
	d = &plan->drift[plan->n_drift++];
	d->kind = NP_KIND_INSTANCE; /* hosts.c sets its own */
	d->address = np_xstrdup(address);
	d->instance_id = np_xstrdup(id);
	d->attribute = np_xstrdup(attribute);
	d->recorded = np_xstrdup(recorded);
	d->live = np_xstrdup(live);
}

char *np_plan_nv_families(const struct np_catalog *cat)
{
	struct np_buf b = NP_BUF_INIT;
	char last[64] = "";

	/* The catalog is sorted by name, so one family's sizes are adjacent. */
	for (size_t i = 0; cat && i < cat->n; i++) {
		const char *dot = strchr(cat->v[i].name, '.');
		size_t len = dot ? (size_t)(dot - cat->v[i].name) : strlen(cat->v[i].name);
		char fam[64];

		if (!cat->v[i].nested_virtualization || len >= sizeof(fam))
			continue;
		memcpy(fam, cat->v[i].name, len);
		fam[len] = '\0';
		if (!strcmp(fam, last))
			continue;
		np_buf_printf(&b, "%s%s", b.len ? ", " : "", fam);
		snprintf(last, sizeof(last), "%s", fam);
	}
	if (!b.len)
		np_buf_puts(&b, "none in the catalog");
	return np_buf_detach(&b);
}

static bool in_list(const int *v, size_t n, int x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static char *int_list(const int *v, size_t n)
{
	struct np_buf b = NP_BUF_INIT;

	for (size_t i = 0; i < n; i++)
		np_buf_printf(&b, "%s%d", i ? ", " : "", v[i]);
	return np_buf_detach(&b);
}

static int cmp_size(const void *a, const void *b)
{
	const struct np_itype *x = *(const struct np_itype *const *)a;
	const struct np_itype *y = *(const struct np_itype *const *)b;

	if (x->bare_metal != y->bare_metal)
		return x->bare_metal ? 1 : -1;
	if (x->default_vcpus != y->default_vcpus)
		return x->default_vcpus < y->default_vcpus ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The real type nearest to a misspelt one, among those the catalog knows. */
static const char *nearest_type(const struct np_catalog *cat, const char *type)
{
	const char **names = np_xcalloc(cat->n + 1, sizeof(*names));
	const char *near;
	size_t k = 0;

	for (size_t i = 0; i < cat->n; i++)
		if (!cat->v[i].unknown)
			names[k++] = cat->v[i].name;
	near = np_suggest(type, names);
	free(names);
	return near;
}

/* A type the catalog does not hold. When it knows the family, it knows every
 * size of it (the built-in table is DescribeInstanceTypes' whole family, and
 * EC2's answers are added to it), so a size it lacks does not exist: an error
 * with the nearest size, offline as online. Otherwise a warning: families the
 * catalog never heard of (t2, g5...) are real. */
static void not_in_catalog(struct np_plan *plan, const char *address, const char *type,
			   const struct np_catalog *cat)
{
	const char *dot = strchr(type, '.');
	size_t flen = dot ? (size_t)(dot - type) : 0, k = 0;
	const struct np_itype **fam = np_xcalloc(cat->n + 1, sizeof(*fam));
	const char **names = np_xcalloc(cat->n + 1, sizeof(*names));
	const char *near;

	for (size_t i = 0; flen && i < cat->n; i++)
		if (!cat->v[i].unknown && !strncmp(cat->v[i].name, type, flen + 1))
			fam[k++] = &cat->v[i];
	if (k) {
		struct np_buf sizes = NP_BUF_INIT;

		qsort(fam, k, sizeof(*fam), cmp_size);
		for (size_t i = 0; i < k; i++) {
			names[i] = fam[i]->name;
			np_buf_printf(&sizes, "%s%s", i ? ", " : "", fam[i]->name + flen + 1);
		}
		near = np_suggest(type, names);
		np_plan_diag_key(plan, NP_SEV_ERROR, address, NP_KEY_INSTANCE_TYPE,
				 "instance type '%s' does not exist; %s%s%s%.*s comes in %s", type,
				 near ? "did you mean '" : "", near ? near : "", near ? "'? " : "",
				 (int)flen, type, sizes.ptr);
		np_buf_release(&sizes);
	} else {
		near = nearest_type(cat, type);
		np_plan_diag_key(plan, NP_SEV_WARNING, address, NP_KEY_INSTANCE_TYPE,
				 "instance type '%s' is not in the catalog; its CPU options and "
				 "nested-virtualization support cannot be checked%s%s%s",
				 type, near ? " (did you mean '" : "", near ? near : "",
				 near ? "'?)" : "");
	}
	free(fam);
	free(names);
}

void np_plan_rules(struct np_plan *plan, const char *address, const struct np_instance *want,
		   const struct np_instance *current, const struct np_catalog *cat)
{
	const char *type = want->instance_type ? want->instance_type
			   : current           ? current->instance_type
					       : NULL;
	const struct np_itype *t = np_catalog_find(cat, type);
	enum np_platform platform = want->platform ? want->platform
				    : current      ? current->platform
						   : NP_PLATFORM_UNSET;
	enum np_bool hib = want->hibernation ? want->hibernation
			   : current         ? current->hibernation
					     : NP_BOOL_UNSET;
	bool nv = want->nested_virtualization == NP_NV_ENABLED;
	char *why;

	if (t && t->unknown) {
		const char *near = nearest_type(cat, type);

		np_plan_diag_key(plan, NP_SEV_ERROR, address, NP_KEY_INSTANCE_TYPE,
				 "instance type '%s' does not exist in this Region (EC2 says "
				 "InvalidInstanceType)%s%s%s",
				 type, near ? "; did you mean '" : "", near ? near : "",
				 near ? "'?" : "");
		return;
	}
	if (type && !t && cat)
		not_in_catalog(plan, address, type, cat);
	if (nv && t && !t->nested_virtualization) {
		char *fams = np_plan_nv_families(cat);

		np_plan_diag_key(
		    plan, NP_SEV_ERROR, address, NP_KEY_NESTED_VIRTUALIZATION,
		    "nested virtualization is not supported on '%s': DescribeInstanceTypes "
		    "does not list the nested-virtualization feature for it (families that "
		    "support it: %s)",
		    type, fams);
		free(fams);
	}
	if (nv && current && current->spot)
		np_plan_diag(plan, NP_SEV_ERROR, address,
			     "nested virtualization is not available on Spot instances");
	if (t && want->core_count && t->n_valid_cores &&
	    !in_list(t->valid_cores, t->n_valid_cores, want->core_count)) {
		char *l = int_list(t->valid_cores, t->n_valid_cores);

		np_plan_diag_key(plan, NP_SEV_ERROR, address, NP_KEY_CORE_COUNT,
				 "core_count %d is not valid for '%s' (valid: %s)",
				 want->core_count, type, l);
		free(l);
	}
	if (t && want->threads_per_core && t->n_valid_threads &&
	    !in_list(t->valid_threads, t->n_valid_threads, want->threads_per_core)) {
		char *l = int_list(t->valid_threads, t->n_valid_threads);

		np_plan_diag_key(plan, NP_SEV_ERROR, address, NP_KEY_THREADS_PER_CORE,
				 "threads_per_core %d is not valid for '%s' (valid: %s)",
				 want->threads_per_core, type, l);
		free(l);
	}
	if (t && hib == NP_BOOL_TRUE && !t->hibernation_supported)
		np_plan_diag_key(plan, NP_SEV_ERROR, address, NP_KEY_HIBERNATION,
				 "'%s' does not support hibernation", type);
	if (want->placement_group && (want->tenancy ? want->tenancy
				      : current     ? current->tenancy
						    : NP_TENANCY_UNSET) == NP_TENANCY_HOST)
		np_plan_diag_key(plan, NP_SEV_ERROR, address, NP_KEY_PLACEMENT,
				 "placement.group_name '%s' needs default or dedicated tenancy: "
				 "EC2 places no instance of a Dedicated Host in a placement group",
				 want->placement_group);
	if ((why = np_root_volume_check(want, current))) {
		np_plan_diag(plan, NP_SEV_ERROR, address, "%s", why);
		free(why);
	}
	if (want->http_tokens == 1)
		np_plan_diag(plan, NP_SEV_WARNING, address,
			     "metadata_options.http_tokens: optional allows IMDSv1, whose tokens a "
			     "server-side request forgery can read; set it to required");
	if (t && want->tenancy == NP_TENANCY_HOST && !t->dedicated_hosts_supported)
		np_plan_diag_key(plan, NP_SEV_ERROR, address, NP_KEY_TENANCY,
				 "'%s' cannot run on a Dedicated Host (tenancy: host)", type);
	if (nv && platform == NP_PLATFORM_WINDOWS) {
		int vcpus = want->core_count && want->threads_per_core
				? want->core_count * want->threads_per_core
			    : t ? t->default_vcpus
				: 0;

		if (vcpus > WINDOWS_NV_MAX_VCPUS)
			np_plan_diag_key(
			    plan, NP_SEV_ERROR, address,
			    want->core_count ? NP_KEY_CORE_COUNT : NP_KEY_INSTANCE_TYPE,
			    "nested virtualization on Windows is unsupported above %d vCPUs; "
			    "'%s' has %d (choose a size up to %d vCPUs)",
			    WINDOWS_NV_MAX_VCPUS, type, vcpus, WINDOWS_NV_MAX_VCPUS);
		if (hib == NP_BOOL_TRUE)
			np_plan_diag_key(
			    plan, NP_SEV_ERROR, address, NP_KEY_HIBERNATION,
			    "Windows instances with nested virtualization cannot hibernate; set "
			    "hibernation: false");
		np_plan_diag_key(plan, NP_SEV_WARNING, address, NP_KEY_PLATFORM,
				 "nested virtualization on Windows turns Virtual Secure Mode off: "
				 "Credential Guard will not run on this instance");
	}
}

int np_plan_check_config(struct np_plan *out, const struct np_config *config,
			 const struct np_catalog *catalog, struct np_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!config)
		return np_error(err, "no configuration to check");
	for (size_t i = 0; i < config->n_instances; i++)
		np_plan_rules(out, config->instances[i].want.address, &config->instances[i].want,
			      NULL, catalog);
	return 0;
}
