/* Drift reports: text, JSON, JUnit XML (libxml2's writer) and Markdown. */
#include <libxml/xmlwriter.h>
#include <stdlib.h>
#include <string.h>

#include "nestplan/buf.h"
#include "nestplan/render.h"

void np_render_drift_text(FILE *out, const struct np_plan *plan, const struct np_render_opts *o)
{
	const char *last = NULL;

	if (!plan->n_drift) {
		fprintf(out, "No drift: EC2 matches the state.\n");
		return;
	}
	fprintf(out, "%sDrift:%s changed outside nestplan since the last apply:\n",
		o->color ? "\033[1;33m" : "", o->color ? "\033[0m" : "");
	for (size_t i = 0; i < plan->n_drift; i++) {
		const struct np_drift *d = &plan->drift[i];
		/* What EC2 reports (tags) is shown escaped, never as control codes. */
		char *attr = np_visible(d->attribute), *rec = np_visible(d->recorded),
		     *live = np_visible(d->live);

		if (!last || strcmp(last, d->address))
			fprintf(out, "\n  ~ %s (%s%s)\n", d->address,
				d->kind == NP_KIND_HOST ? "host " : "",
				d->instance_id ? d->instance_id : "-");
		last = d->address;
		fprintf(out, "      %-34s %s → %s\n", attr, rec ? rec : "(none)",
			live ? live : "(none)");
		free(attr);
		free(rec);
		free(live);
	}
}

json_t *np_render_drift_json(const struct np_plan *plan)
{
	json_t *all = np_render_plan_json(plan);
	json_t *drift = json_incref(json_object_get(all, "drift"));
	json_t *out;
	size_t instances = 0;

	for (size_t i = 0; i < plan->n_drift; i++)
		instances += i == 0 || strcmp(plan->drift[i].address, plan->drift[i - 1].address);
	/* A host's item says its kind and names its host_id, not an instance. */
	for (size_t i = 0; i < plan->n_drift && i < json_array_size(drift); i++) {
		json_t *x = json_array_get(drift, i);

		if (plan->drift[i].kind != NP_KIND_HOST)
			continue;
		if (!json_object_get(x, "kind"))
			json_object_set_new(x, "kind", json_string("host"));
		if (!json_object_get(x, "host_id")) {
			json_object_set(x, "host_id", json_object_get(x, "instance_id"));
			json_object_del(x, "instance_id");
		}
	}
	out = json_pack("{s:s, s:o, s:{s:i, s:i}}", "format_version", "1", "drift", drift,
			"summary", "drifted", (int)instances, "attributes", (int)plan->n_drift);
	json_decref(all);
	return out;
}

/* Every managed instance is a test case; drift is its failure. */
void np_render_drift_junit(FILE *out, const struct np_plan *plan)
{
	xmlBufferPtr buf = xmlBufferCreate();
	xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
	size_t n_cases = 0, n_fail = 0;
	char num[32];

	for (size_t i = 0; i < plan->n_changes; i++)
		n_cases++;
	for (size_t i = 0; i < plan->n_drift; i++)
		n_fail += i == 0 || strcmp(plan->drift[i].address, plan->drift[i - 1].address);
	xmlTextWriterSetIndent(w, 1);
	xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL);
	xmlTextWriterStartElement(w, BAD_CAST "testsuites");
	xmlTextWriterStartElement(w, BAD_CAST "testsuite");
	xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST "nestplan drift");
	snprintf(num, sizeof(num), "%zu", n_cases > n_fail ? n_cases : n_fail);
	xmlTextWriterWriteAttribute(w, BAD_CAST "tests", BAD_CAST num);
	snprintf(num, sizeof(num), "%zu", n_fail);
	xmlTextWriterWriteAttribute(w, BAD_CAST "failures", BAD_CAST num);
	xmlTextWriterWriteAttribute(w, BAD_CAST "errors", BAD_CAST "0");
	/* Instances with drift, then the clean ones (from the plan's changes). */
	for (size_t i = 0; i < plan->n_drift;) {
		const char *addr = plan->drift[i].address;
		size_t j = i;
		char msg[256];

		xmlTextWriterStartElement(w, BAD_CAST "testcase");
		xmlTextWriterWriteAttribute(w, BAD_CAST "classname",
					    BAD_CAST(plan->drift[i].kind == NP_KIND_HOST
							 ? "nestplan.host"
							 : "nestplan.instance"));
		xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST addr);
		while (j < plan->n_drift && !strcmp(plan->drift[j].address, addr))
			j++;
		snprintf(msg, sizeof(msg), "%zu attribute%s drifted", j - i, j - i == 1 ? "" : "s");
		xmlTextWriterStartElement(w, BAD_CAST "failure");
		xmlTextWriterWriteAttribute(w, BAD_CAST "message", BAD_CAST msg);
		xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "drift");
		for (; i < j; i++) {
			const struct np_drift *d = &plan->drift[i];

			xmlTextWriterWriteFormatString(w, "%s (%s): %s → %s\n", d->attribute,
						       d->instance_id ? d->instance_id : "-",
						       d->recorded ? d->recorded : "(none)",
						       d->live ? d->live : "(none)");
		}
		xmlTextWriterEndElement(w);
		xmlTextWriterEndElement(w);
	}
	for (size_t i = 0; i < plan->n_changes; i++) {
		const char *addr = plan->changes[i].address;
		bool drifted = false;

		for (size_t k = 0; k < plan->n_drift && !drifted; k++)
			drifted = !strcmp(plan->drift[k].address, addr);
		if (drifted)
			continue;
		xmlTextWriterStartElement(w, BAD_CAST "testcase");
		xmlTextWriterWriteAttribute(w, BAD_CAST "classname",
					    BAD_CAST(plan->changes[i].kind == NP_KIND_HOST
							 ? "nestplan.host"
							 : "nestplan.instance"));
		xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST addr);
		xmlTextWriterEndElement(w);
	}
	xmlTextWriterEndDocument(w);
	xmlFreeTextWriter(w);
	fputs((const char *)xmlBufferContent(buf), out);
	xmlBufferFree(buf);
}

/* A table cell: GitHub would split on '|', and read '<x>' as HTML and hide
 * it, '&' as an entity, '*' and '`' as emphasis or code. */
static void md_cell(FILE *out, const char *text)
{
	/* Controls (and C1 codes, bidirectional overrides) escaped first. */
	char *vis = np_visible(text);

	for (const char *s = vis; s && *s; s++) {
		if (*s == '|')
			fputs("\\|", out);
		else if (*s == '<')
			fputs("&lt;", out);
		else if (*s == '>')
			fputs("&gt;", out);
		else if (*s == '&')
			fputs("&amp;", out);
		else if (*s == '*' || *s == '`' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n' || *s == '\r')
			fputc(' ', out);
		else
			fputc(*s, out);
	}
	free(vis);
}

void np_render_drift_markdown(FILE *out, const struct np_plan *plan)
{
	if (!plan->n_drift) {
		fprintf(out, "### ✅ nestplan: no drift\n\nEC2 matches the recorded state.\n");
		return;
	}
	/* clang-format counts the emoji's width differently on each pass. */
	/* clang-format off */
	fputs("### ⚠️ nestplan: drift detected\n\n"
	      "| Instance | ID | Attribute | Recorded | Live |\n"
	      "|---|---|---|---|---|\n", out);
	/* clang-format on */
	for (size_t i = 0; i < plan->n_drift; i++) {
		const struct np_drift *d = &plan->drift[i];

		fputs("| `", out);
		md_cell(out, d->address);
		fputs(d->kind == NP_KIND_HOST ? "` (host) | " : "` | ", out);
		md_cell(out, d->instance_id ? d->instance_id : "-");
		fputs(" | ", out);
		md_cell(out, d->attribute);
		fputs(" | ", out);
		if (d->recorded)
			md_cell(out, d->recorded);
		else
			fputs("*(none)*", out);
		fputs(" | ", out);
		if (d->live)
			md_cell(out, d->live);
		else
			fputs("*(none)*", out);
		fputs(" |\n", out);
	}
	fprintf(out, "\nRun `nestplan apply` to bring the instances back to the file, or "
		     "`nestplan apply -refresh-only` to accept what EC2 reports.\n");
}
