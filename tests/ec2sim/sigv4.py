"""SigV4 verification for the simulator, written from the AWS description
with hmac/hashlib only (independent of nestplan's C signer)."""
import hashlib
import hmac
import urllib.parse


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret, date, region, service):
    k = _hmac(("AWS4" + secret).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def canonical_query(query):
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    enc = [(urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~")) for k, v in pairs]
    return "&".join("%s=%s" % kv for kv in sorted(enc))


def parse_authorization(value):
    """AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=... -> dict."""
    if not value.startswith("AWS4-HMAC-SHA256 "):
        return None
    out = {}
    for part in value[len("AWS4-HMAC-SHA256 "):].split(","):
        k, _, v = part.strip().partition("=")
        out[k] = v
    if not {"Credential", "SignedHeaders", "Signature"} <= set(out):
        return None
    return out


def signature(method, path, query, headers, signed_headers, body, amz_date, scope, secret):
    """headers: dict of lowercase name -> value."""
    canon_headers = "".join(
        "%s:%s\n" % (h, " ".join(headers.get(h, "").strip().split())) for h in signed_headers)
    creq = "\n".join([method, path or "/", canonical_query(query), canon_headers,
                      ";".join(signed_headers), hashlib.sha256(body).hexdigest()])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode("utf-8")).hexdigest()])
    date, region, service, _ = scope.split("/")
    return hmac.new(signing_key(secret, date, region, service), sts.encode("utf-8"),
                    hashlib.sha256).hexdigest()
