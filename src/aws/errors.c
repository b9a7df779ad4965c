/* EC2's error document into struct np_err, and what kind of failure it is
 * (notes §7.2): codes first, the HTTP status second. */
#include <stdlib.h>
#include <string.h>

#include "aws/internal.h"

static const char *const throttle[] = {
	"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
	"TooManyRequestsException", "ProvisionedThroughputExceededException",
	"TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
	"LimitExceededException", "RequestThrottled", "SlowDown", "EC2ThrottledException", NULL,
};
static const char *const transient[] = {
	"InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable", "RequestTimeout",
	"RequestTimeoutException", "PriorRequestNotComplete", NULL,
};
static const char *const capacity[] = {
	"InsufficientInstanceCapacity", "InsufficientHostCapacity", "InsufficientCapacityOnHost",
	"InstanceLimitExceeded", "VcpuLimitExceeded", NULL,
};
static const char *const auth[] = {
	"AuthFailure", "UnauthorizedOperation", "InvalidClientTokenId", "SignatureDoesNotMatch",
	"RequestExpired", "OptInRequired", "Blocked", "MissingAuthenticationToken",
	"IncompleteSignature", "ExpiredToken", "AccessDenied", NULL,
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

static const char *hint(const char *code)
{
	if (!strcmp(code, "AuthFailure") || !strcmp(code, "RequestExpired"))
		return " (check the credentials, and that this machine's clock is right)";
	if (!strcmp(code, "UnauthorizedOperation"))
		return " (the credentials lack an IAM permission for this action)";
	if (!strcmp(code, "InsufficientInstanceCapacity"))
		return " (try another availability zone or instance type)";
	return "";
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
	c = code ? code : "";
	if (!strncmp(c, "Client.", 7) || !strncmp(c, "Server.", 7))
		c += 7;
	if (err) {
		err->cls = np_aws_classify(c, status);
		err->http_status = (int)status;
		snprintf(err->code, sizeof(err->code), "%s", *c ? c : "");
		snprintf(err->request_id, sizeof(err->request_id), "%s", rid ? rid : "");
		if (*c)
			snprintf(err->msg, sizeof(err->msg), "%s: %s: %s%s", action, c,
			         msg ? msg : "(no message)", hint(c));
		else
			snprintf(err->msg, sizeof(err->msg), "%s: HTTP %ld with no EC2 error document",
			         action, status);
	}
	free(code);
	free(msg);
	free(rid);
	xmlFreeDoc(doc);
}
