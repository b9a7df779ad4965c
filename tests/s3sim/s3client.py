"""A tiny SigV4 S3 client for the stand-in's tests (standard library only),
written from the S3 API reference's "Signature Calculations for the
Authorization Header" steps, separately from the server's verifier.

    r = s3client.request(url, "PUT", "/bucket/key", body=b"x", headers={"If-None-Match": "*"})
    r.status, r.code, r.headers["etag"], r.text("Key")
"""
import datetime
import hashlib
import hmac
import http.client
import urllib.parse
import xml.etree.ElementTree as ET

KEY = "AKIDNESTPLANSIM"
SECRET = "nestplan-sim-secret"
REGION = "us-east-1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # lowercase names
        self.body = body
        try:
            self.root = ET.fromstring(body) if body else None
        except ET.ParseError:
            self.root = None

    def find_all(self, name):
        if self.root is None:
            return []
        return [e for e in self.root.iter() if e.tag.split("}")[-1] == name]

    def text(self, name):
        found = self.find_all(name)
        return found[0].text if found else None

    def texts(self, name):
        return [e.text for e in self.find_all(name)]

    @property
    def code(self):
        return self.text("Code")

    def __repr__(self):
        return "%d %r %r" % (self.status, self.headers, self.body[:600])


def quote_key(key):
    """An object key as a path: every byte but unreserved ones and '/' as %XX."""
    return urllib.parse.quote(key, safe="/-_.~")


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def sign(method, path, query, headers, payload_hash, amz_date, region, secret, service="s3"):
    """Signature and signed-header list. path: as sent (encoded once);
    query: [(name, value)] decoded; headers: {lowercase name: value}."""
    q = sorted((urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
               for k, v in query)
    names = sorted(headers)
    creq = "\n".join([method, path, "&".join("%s=%s" % kv for kv in q),
                      "".join("%s:%s\n" % (n, " ".join(str(headers[n]).split())) for n in names),
                      ";".join(names), payload_hash])
    scope = "%s/%s/%s/aws4_request" % (amz_date[:8], region, service)
    sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (amz_date, scope,
                                           hashlib.sha256(creq.encode("utf-8")).hexdigest())
    k = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode("utf-8"), amz_date[:8]), region),
                    service), "aws4_request")
    return hmac.new(k, sts.encode("utf-8"), hashlib.sha256).hexdigest(), names


def request(url, method, path, body=b"", headers=None, query=None, key=KEY, secret=SECRET,
            region=REGION, token=None, when=None, host=None, payload=None, sign_request=True,
            unsigned=(), omit=(), service="s3", timeout=30):
    """One signed request. query: [(name, value)] or {name: value}, decoded;
    payload: None (the body's SHA-256), "UNSIGNED-PAYLOAD" or a value to
    send as is; unsigned: header names to send without signing them; omit:
    headers of the signer's own (x-amz-date, x-amz-content-sha256) to leave out."""
    query = list(query.items()) if isinstance(query, dict) else list(query or [])
    hostport = url.split("://", 1)[1].rstrip("/")
    when = when or datetime.datetime.now(datetime.timezone.utc)
    amz = when.strftime("%Y%m%dT%H%M%SZ")
    h = {"host": host or hostport, "x-amz-date": amz,
         "x-amz-content-sha256": payload or hashlib.sha256(body).hexdigest()}
    if token:
        h["x-amz-security-token"] = token
    extra = {}
    for k, v in (headers or {}).items():
        (extra if k.lower() in [u.lower() for u in unsigned] else h)[k.lower()] = v
    target = path + ("?" + "&".join(
        urllib.parse.quote(k, safe="-_.~") + ("=" + urllib.parse.quote(v, safe="-_.~")
                                                if v is not None else "")
        for k, v in query) if query else "")
    for name in omit:
        h.pop(name.lower(), None)
    send = dict(h)
    send.update(extra)
    if sign_request:
        sig, names = sign(method, path, [(k, v or "") for k, v in query], h,
                          h.get("x-amz-content-sha256", payload or EMPTY_SHA256), amz, region,
                          secret, service)
        send["authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
                                 "SignedHeaders=%s, Signature=%s"
                                 % (key, amz[:8], region, service, ";".join(names), sig))
    conn = http.client.HTTPConnection(hostport, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for k, v in send.items():
            conn.putheader(k, v)
        if body or method in ("PUT", "POST"):
            conn.putheader("content-length", str(len(body)))
        conn.endheaders(body if body else None)
        r = conn.getresponse()
        data = r.read()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()
