/* EC2's error document into struct np_err, and what kind of failure it is
 * (notes §7.2): codes first, the HTTP status second. */
#include <stdlib.h>
#include <string.h>

#include "aws/internal.h"

static const char *const throttle[] = {
	"Throttling",
	"ThrottlingException",
	"ThrottledException",
	"RequestThrottledException",
	"TooManyRequestsException",
	"ProvisionedThroughputExceededException",
	"TransactionInProgressException",
	"RequestLimitExceeded",
	"BandwidthLimitExceeded",
	"LimitExceededException",
	"RequestThrottled",
	"SlowDown",
	"EC2ThrottledException",
	NULL,
};
static const char *const transient[] = {
	"InternalError",  "InternalFailure",         "ServiceUnavailable",      "Unavailable",
	"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete", NULL,
};
static const char *const capacity[] = {
	"InsufficientInstanceCapacity", "InsufficientHostCapacity", "InsufficientCapacityOnHost",
	"InstanceLimitExceeded",        "VcpuLimitExceeded",        NULL,
};
static const char *const auth[] = {
	"AuthFailure",
	"UnauthorizedOperation",
	"InvalidClientTokenId",
	"SignatureDoesNotMatch",
	"RequestExpired",
	"OptInRequired",
	"Blocked",
	"MissingAuthenticationToken",
	"IncompleteSignature",
	"ExpiredToken",
	"AccessDenied",
	NULL,
};

static bool in(const char *const *list, const char *code)
{
	for (size_t i = 0; list[i]; i++)
		if (!strcmp(list[i], code))
			return true;
	return false;
}

enum np_err_class np_aws_classify(const char *code, long status)
{
	if (code && *code) {
		if (!strcmp(code, "DryRunOperation"))
			return NP_ERRC_DRY_RUN_OK;
		if (in(throttle, code))
			return NP_ERRC_THROTTLE;
		if (in(capacity, code))
			return NP_ERRC_CAPACITY;
		if (in(auth, code))
			return NP_ERRC_AUTH;
		if (in(transient, code))
			return NP_ERRC_TRANSIENT;
		if (!strcmp(code, "IncorrectInstanceState"))
			return NP_ERRC_STATE;
		if (!strcmp(code, "InvalidInstanceID.NotFound"))
			return NP_ERRC_CONSISTENCY;
	}
	if (status == 429)
		return NP_ERRC_THROTTLE;
	if (status == 500 || status == 502 || status == 503 || status == 504)
		return NP_ERRC_TRANSIENT;
	return NP_ERRC_BAD_REQUEST;
}

/* What a person can do about an error, where EC2's message does not say. */
static void hint(const char *action, const char *code, char *out, size_t size)
{
	const char *h = "";

	*out = '\0';
	if (!strcmp(code, "UnauthorizedOperation") || !strcmp(code, "AccessDenied")) {
		snprintf(out, size, " (hint: allow the IAM action ec2:%s to these credentials)",
			 action);
		return;
	}
	if (!strcmp(code, "AuthFailure") || !strcmp(code, "RequestExpired") ||
	    !strcmp(code, "SignatureDoesNotMatch"))
		h = "check the credentials, and that this machine's clock is right";
	else if (!strcmp(code, "InsufficientInstanceCapacity"))
		h = "try another availability zone or instance type, or retry later";
	else if (!strcmp(code, "VcpuLimitExceeded") || !strcmp(code, "InstanceLimitExceeded"))
		h = "ask for a higher vCPU quota in Service Quotas, or launch fewer instances";
	else if (!strcmp(code, "RequestLimitExceeded"))
		h = "EC2 is throttling this account; other tools may share its limits "
		    "(NESTPLAN_RATE_LIMIT=0.5 halves nestplan's rate)";
	else if (!strcmp(code, "InvalidAMIID.NotFound") || !strcmp(code, "InvalidAMIID.Malformed"))
		h = "check image_id: AMI ids are per Region";
	else if (!strcmp(code, "InvalidSubnetID.NotFound") ||
		 !strcmp(code, "InvalidGroup.NotFound"))
		h = "check subnet_id and security_group_ids: they are per Region and VPC";
	else if (!strcmp(code, "InvalidKeyPair.NotFound"))
		h = "check key_name: key pairs are per Region";
	else if (!strcmp(code, "Unsupported"))
		h = "the instance type or option may not be offered in that availability zone";
	if (*h)
		snprintf(out, size, " (hint: %s)", h);
}

void np_aws_error_from_response(const char *action, long status, const char *body, size_t len,
				struct np_err *err)
{
	xmlDoc *doc = np_xml_parse(body, len);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	xmlNode *e = NULL;
	char *code = NULL, *msg = NULL, *rid = NULL;
	const char *c;

	if (root) {
		/* EC2: Response/Errors/Error; STS and others: ErrorResponse/Error. */
		xmlNode *errors = np_xml_child(root, "Errors");

		e = np_xml_child(errors ? errors : root, "Error");
		rid = np_xml_text(root, "RequestID");
		if (!rid)
			rid = np_xml_text(root, "RequestId");
	}
	if (e) {
		code = np_xml_text(e, "Code");
		msg = np_xml_text(e, "Message");
	}
	if (code) {
		/* A code is a plain token; anything else is shown, escaped. */
		char *v = np_visible(code);

		free(code);
		code = v;
	}
	c = code ? code : "";
	if (!strncmp(c, "Client.", 7) || !strncmp(c, "Server.", 7))
		c += 7;
	if (err) {
		struct np_buf safe = NP_BUF_INIT;
		char tip[200];

		/* EC2's words reach a terminal: no control sequence gets through. */
		np_buf_add_visible(&safe, msg ? msg : "(no message)", 2048);
		hint(action, c, tip, sizeof(tip));
		err->cls = np_aws_classify(c, status);
		err->http_status = (int)status;
		snprintf(err->code, sizeof(err->code), "%s", *c ? c : "");
		snprintf(err->request_id, sizeof(err->request_id), "%s", rid ? rid : "");
		if (*c)
			snprintf(err->msg, sizeof(err->msg), "%s: %s: %s%s", action, c, safe.ptr,
				 tip);
		else
			snprintf(err->msg, sizeof(err->msg),
				 "%s: HTTP %ld with no EC2 error document", action, status);
		np_buf_release(&safe);
	}
	free(code);
	free(msg);
	free(rid);
	xmlFreeDoc(doc);
}
