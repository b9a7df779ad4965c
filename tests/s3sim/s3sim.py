#!/usr/bin/env python3
"""A strict local stand-in for Amazon S3 (REST API 2006-03-01), standard
library only: SigV4 verified as S3 does, buckets, objects, ETags, versioning,
conditional writes, server-side encryption headers, S3's XML errors, and the
EC2 simulator's fault and control API. See README.md beside this file."""
import argparse
import base64
import calendar
import collections
import datetime
import email.utils
import hashlib
import hmac
import json
import random
import re
import socket
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"
MAX_SKEW = 900            # S3 allows 15 minutes between x-amz-date and its clock
REQUEST_LOG_SIZE = 10000
MAX_KEYS = 1000
DEFAULT_ACCOUNT = "123456789012"
SSE_VALUES = ("AES256", "aws:kms", "aws:kms:dsse")
ACTION_ERROR_KEYS = {"code", "status", "message", "count"}
VERSION_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._"
# Subresources the simulator does not implement: answered 501, never
# mistaken for a plain bucket or object request.
UNSUPPORTED_SUBRESOURCES = {
    "accelerate", "acl", "analytics", "attributes", "cors", "delete", "encryption",
    "intelligent-tiering", "inventory", "legal-hold", "lifecycle", "logging", "metadataTable",
    "metrics", "notification", "object-lock", "ownershipControls", "partNumber", "policy",
    "policyStatus", "publicAccessBlock", "replication", "requestPayment", "restore",
    "retention", "select", "tagging", "torrent", "uploadId", "uploads", "website"}
# Virtual-hosted names of every partition's S3 endpoints: BUCKET.s3.REGION.DOMAIN,
# BUCKET.s3-REGION.DOMAIN (legacy), BUCKET.s3.DOMAIN, with -fips / .dualstack.
VHOST = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.-]*)\.s3(?:-fips)?(?:[.-]dualstack)?"
                   r"(?:[.-][a-z0-9-]+)?\.(?:amazonaws\.com(?:\.cn)?|c2s\.ic\.gov|sc2s\.sgov\.gov|"
                   r"cloud\.adc-e\.uk|csp\.hci\.ic\.gov|amazonaws\.eu)$")
LOCALHOST_VHOST = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.-]*)\.localhost$")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class S3Error(Exception):
    def __init__(self, code, message, status=400, headers=None, **extra):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        self.headers = headers or {}
        self.extra = extra          # further elements of <Error>, in order


class DropConnection(Exception):
    pass


# -- SigV4 for s3 (verification side) ------------------------------------------
def uri_encode(s):
    return urllib.parse.quote(s, safe="-_.~")


def canonical_query(raw):
    """Each name and value decoded and encoded again (unreserved characters
    left alone, everything else %XX), sorted by name then value; a name
    without '=' has an empty value (?versioning -> versioning=)."""
    pairs = []
    for part in raw.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        pairs.append((uri_encode(urllib.parse.unquote(k)), uri_encode(urllib.parse.unquote(v))))
    return "&".join("%s=%s" % kv for kv in sorted(pairs))


def canonical_request(method, raw_path, raw_query, headers, signed, payload_hash):
    """S3's canonical request: the path exactly as sent (S3 neither
    normalises it nor encodes it a second time, unlike other services)."""
    canon_headers = "".join("%s:%s\n" % (h, " ".join(headers.get(h, "").strip().split()))
                            for h in signed)
    return "\n".join([method, raw_path or "/", canonical_query(raw_query), canon_headers,
                      ";".join(signed), payload_hash])


def string_to_sign(amz_date, scope, creq):
    return "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                      hashlib.sha256(creq.encode("utf-8")).hexdigest()])


def signature(secret, scope, sts):
    date, region, service, term = scope.split("/")
    k = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, term):
        k = hmac.new(k, part.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(k, sts.encode("utf-8"), hashlib.sha256).hexdigest()


def parse_authorization(value):
    out = {}
    for part in value[len("AWS4-HMAC-SHA256 "):].split(","):
        k, _, v = part.strip().partition("=")
        out[k] = v
    if not {"Credential", "SignedHeaders", "Signature"} <= set(out):
        return None
    return out


# -- checksums S3 verifies (x-amz-checksum-*) -----------------------------------
def _reflected_table(poly):
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _reflected_table(0x82F63B78)
_CRC64NVME = _reflected_table(0x9A6C9329AC4BC9B5)


def _crc(table, data, mask):
    c = mask
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ mask


CHECKSUMS = {
    "crc32": lambda d: (zlib.crc32(d) & 0xFFFFFFFF).to_bytes(4, "big"),
    "crc32c": lambda d: _crc(_CRC32C, d, 0xFFFFFFFF).to_bytes(4, "big"),
    "crc64nvme": lambda d: _crc(_CRC64NVME, d, 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big"),
    "sha1": lambda d: hashlib.sha1(d).digest(),
    "sha256": lambda d: hashlib.sha256(d).digest(),
}


# -- time and XML ---------------------------------------------------------------
def iso(t):
    return (datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
            .strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (int(t * 1000) % 1000))


def http_date(t):
    return email.utils.formatdate(int(t), usegmt=True)


def parse_http_date(value):
    try:
        d = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if d is None:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return d.timestamp()


def el(tag, text):
    return "<%s>%s</%s>" % (tag, escape(str(text)), tag)


def xml_child(root, name):
    """A child by local name, with or without S3's namespace."""
    for c in root:
        if c.tag.split("}")[-1] == name:
            return c
    return None


def etag_matches(header, etag):
    """If-Match / If-None-Match lists against an ETag: quotes optional, '*'
    matches any existing object."""
    for item in header.split(","):
        item = item.strip()
        if item.startswith("W/"):
            item = item[2:]
        if item == "*" or item.strip('"') == etag.strip('"'):
            return True
    return False


# -- the world ------------------------------------------------------------------
class Version:
    __slots__ = ("key", "version_id", "body", "etag", "last_modified", "sse", "kms_key_id",
                 "sse_sent", "kms_sent", "bucket_key", "content_type", "metadata",
                 "delete_marker", "checksums")

    def to_json(self, bucket, latest, bodies):
        out = {"bucket": bucket.name, "key": self.key, "version_id": self.version_id,
               "is_latest": latest, "delete_marker": self.delete_marker,
               "last_modified": iso(self.last_modified)}
        if not self.delete_marker:
            out.update({"etag": self.etag, "size": len(self.body), "sse": self.sse,
                        "kms_key_id": self.kms_key_id, "sse_sent": self.sse_sent,
                        "kms_key_id_sent": self.kms_sent, "content_type": self.content_type,
                        "metadata": dict(self.metadata), "checksums": dict(self.checksums)})
            if bodies:
                out["body_b64"] = base64.b64encode(self.body).decode()
        return out


class Bucket:
    def __init__(self, name, created):
        self.name, self.created = name, created
        self.versioning = ""          # "" (never enabled), "Enabled", "Suspended"
        self.objects = {}             # key -> [Version], oldest first

    def current(self, key):
        """The current version, or None when there is none or it is a delete marker."""
        vs = self.objects.get(key)
        if not vs or vs[-1].delete_marker:
            return None
        return vs[-1]

    def find(self, key, version_id):
        for v in self.objects.get(key, []):
            if v.version_id == version_id:
                return v
        return None

    def add(self, v):
        """Store a new version as S3 does for the bucket's versioning state."""
        vs = self.objects.setdefault(v.key, [])
        if self.versioning != "Enabled":
            # Unversioned and suspended buckets keep one "null" version.
            vs[:] = [x for x in vs if x.version_id != "null"]
        vs.append(v)

    def empty(self):
        return not any(self.objects.values())


class Flight:
    """A conditional write or delete between its start and its answer."""

    def __init__(self, op):
        self.op, self.conflicted = op, False


class World:
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        with self.lock:
            self.buckets = {}
            self.calls = {}
            self.throttled = {}
            self.conflicts = 0
            self.requests = collections.deque(maxlen=REQUEST_LOG_SIZE)
            self.nth = {}
            self.inflight = {}        # (bucket, key) -> [Flight]
            self.release_stalls()
            self.faults = {"throttle_rate": self.args.throttle_rate,
                           "error_rate": self.args.error_rate, "reset_rate": 0.0,
                           "latency_ms": self.args.latency_ms, "stall": None,
                           "lose_response": None, "require_sse": self.args.require_sse,
                           "action_errors": {}}
            self.rng = random.Random(self.args.seed)
            # Streams of their own, so faults do not move the version ids.
            self.id_rng = random.Random(self.args.seed)
            for name in self.args.bucket or []:
                self.create_bucket(name)
            for name in self.args.versioned_bucket or []:
                self.create_bucket(name).versioning = "Enabled"

    def release_stalls(self):
        """Wake every request a stall fault holds; later stalls wait afresh."""
        old = getattr(self, "release", None)
        self.release = threading.Event()
        if old:
            old.set()

    def create_bucket(self, name):
        b = self.buckets.get(name)
        if not b:
            b = self.buckets[name] = Bucket(name, time.time())
        return b

    def version_id(self):
        return "".join(self.id_rng.choice(VERSION_ALPHABET) for _ in range(32))

    def kms_arn(self, key_id):
        """What S3 echoes for a KMS key: an ARN (see README.md)."""
        region = self.args.region
        part = ("aws-cn" if region.startswith("cn-") else
                "aws-us-gov" if region.startswith("us-gov-") else "aws")
        if not key_id:
            key_id = "key/" + str(uuid.uuid5(uuid.NAMESPACE_URL, "aws/s3:" + region))
        elif key_id.startswith("arn:"):
            return key_id
        elif not key_id.startswith("alias/"):
            key_id = "key/" + key_id
        return "arn:%s:kms:%s:%s:%s" % (part, region, self.args.account_id, key_id)

    def new_version(self, bucket, key, body, sse=None, kms=None, content_type=None,
                    metadata=None, checksums=None, bucket_key=None):
        v = Version()
        v.key, v.body = key, body
        v.version_id = self.version_id() if bucket.versioning == "Enabled" else "null"
        v.etag = '"%s"' % hashlib.md5(body).hexdigest()
        v.last_modified = int(time.time() * 1000) / 1000.0
        v.sse_sent, v.kms_sent = sse, kms
        # Every new object is encrypted: SSE-S3 unless the request asks for KMS.
        v.sse = sse or "AES256"
        v.kms_key_id = self.kms_arn(kms) if v.sse.startswith("aws:kms") else None
        v.bucket_key = bucket_key
        v.content_type = content_type or "binary/octet-stream"
        v.metadata = dict(metadata or {})
        v.checksums = dict(checksums or {})
        v.delete_marker = False
        return v

    def delete_marker(self, bucket, key):
        v = Version()
        v.key, v.body, v.etag = key, b"", None
        v.version_id = self.version_id() if bucket.versioning == "Enabled" else "null"
        v.last_modified = int(time.time() * 1000) / 1000.0
        v.sse = v.kms_key_id = v.sse_sent = v.kms_sent = v.bucket_key = v.content_type = None
        v.metadata, v.checksums = {}, {}
        v.delete_marker = True
        return v

    def touched(self, bucket, key):
        """A delete succeeded: conditional writes in flight on the key lose (409)."""
        for f in self.inflight.get((bucket, key), []):
            f.conflicted = True


# -- one request ------------------------------------------------------------------
class Request:
    def __init__(self, method, bucket, key, query, headers, body, vhost):
        self.method, self.bucket, self.key = method, bucket, key
        self.query, self.headers, self.body, self.vhost = query, headers, body, vhost


def operation(method, bucket, key, query, headers):
    """The S3 operation name of a request (None: not implemented here)."""
    if bucket is None:
        return "ListBuckets" if method == "GET" else None
    sub = UNSUPPORTED_SUBRESOURCES & set(query)
    if key is None:
        if sub:
            return None
        if method == "PUT":
            return "PutBucketVersioning" if "versioning" in query else "CreateBucket"
        if method == "GET":
            for name, op in (("versioning", "GetBucketVersioning"),
                             ("versions", "ListObjectVersions"), ("location", "GetBucketLocation")):
                if name in query:
                    return op
            return "ListObjectsV2" if query.get("list-type") == "2" else "ListObjects"
        return {"HEAD": "HeadBucket", "DELETE": "DeleteBucket"}.get(method)
    if sub or "x-amz-copy-source" in headers:
        return None
    return {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject",
            "DELETE": "DeleteObject"}.get(method)


class S3:
    """The operations, each checking what S3 checks. Called with the lock held."""

    def __init__(self, world, req):
        self.w, self.r = world, req
        self.h = req.headers

    def bucket(self):
        b = self.w.buckets.get(self.r.bucket)
        if not b:
            raise S3Error("NoSuchBucket", "The specified bucket does not exist", 404,
                          BucketName=self.r.bucket)
        return b

    def no_such_key(self, headers=None):
        return S3Error("NoSuchKey", "The specified key does not exist.", 404, headers,
                       Key=self.r.key)

    def version_headers(self, b, v):
        return {"x-amz-version-id": v.version_id} if b.versioning else {}

    def sse_headers(self, v):
        out = {"x-amz-server-side-encryption": v.sse}
        if v.kms_key_id:
            out["x-amz-server-side-encryption-aws-kms-key-id"] = v.kms_key_id
        if v.bucket_key:
            out["x-amz-server-side-encryption-bucket-key-enabled"] = v.bucket_key
        return out

    def max_keys(self):
        raw = self.r.query.get("max-keys", str(MAX_KEYS))
        try:
            n = int(raw)
        except ValueError:
            n = -1
        if n < 0:
            raise S3Error("InvalidArgument", "Provided max-keys not an integer or within "
                          "integer range", ArgumentName="max-keys", ArgumentValue=raw)
        return min(n, MAX_KEYS)

    # -- buckets ------------------------------------------------------------------
    def ListBuckets(self):
        items = "".join("<Bucket>%s%s</Bucket>" % (el("Name", b.name), el("CreationDate",
                                                                            iso(b.created)))
                        for b in sorted(self.w.buckets.values(), key=lambda b: b.name))
        return 200, {}, ('<ListAllMyBucketsResult xmlns="%s"><Owner>%s</Owner><Buckets>%s'
                         '</Buckets></ListAllMyBucketsResult>' % (NS, self.owner(), items))

    def owner(self):
        return el("ID", hashlib.sha256(self.w.args.account_id.encode()).hexdigest())

    def CreateBucket(self):
        name, region = self.r.bucket, self.w.args.region
        if not BUCKET_NAME.match(name) or ".." in name or \
                re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+", name):
            raise S3Error("InvalidBucketName", "The specified bucket is not valid.",
                          BucketName=name)
        constraint = None
        if self.r.body.strip():
            try:
                root = ET.fromstring(self.r.body)
            except ET.ParseError:
                raise S3Error("MalformedXML", "The XML you provided was not well-formed or did "
                              "not validate against our published schema")
            c = xml_child(root, "LocationConstraint")
            constraint = (c.text or "").strip() if c is not None else None
        if region == "us-east-1":
            if constraint == "us-east-1":
                raise S3Error("InvalidLocationConstraint",
                              "The specified location-constraint is not valid",
                              LocationConstraint=constraint)
            if constraint:
                raise S3Error("IllegalLocationConstraintException",
                              "The %s location constraint is incompatible for the region "
                              "specific endpoint this request was sent to." % constraint)
        elif constraint != region:
            raise S3Error("IllegalLocationConstraintException",
                          "The %s location constraint is incompatible for the region specific "
                          "endpoint this request was sent to."
                          % (constraint or "unspecified"))
        if name in self.w.buckets and region != "us-east-1":
            raise S3Error("BucketAlreadyOwnedByYou", "Your previous request to create the named "
                          "bucket succeeded and you already own it.", 409, BucketName=name)
        self.w.create_bucket(name)
        return 200, {"Location": "/" + name}, ""

    def HeadBucket(self):
        self.bucket()
        return 200, {"x-amz-bucket-region": self.w.args.region}, ""

    def DeleteBucket(self):
        b = self.bucket()
        if not b.empty():
            raise S3Error("BucketNotEmpty", "The bucket you tried to delete is not empty", 409,
                          BucketName=b.name)
        del self.w.buckets[b.name]
        return 204, {}, ""

    def GetBucketLocation(self):
        self.bucket()
        region = self.w.args.region
        return 200, {}, '<LocationConstraint xmlns="%s">%s</LocationConstraint>' % (
            NS, "" if region == "us-east-1" else escape(region))

    def GetBucketVersioning(self):
        b = self.bucket()
        status = el("Status", b.versioning) if b.versioning else ""
        return 200, {}, '<VersioningConfiguration xmlns="%s">%s</VersioningConfiguration>' % (
            NS, status)

    def PutBucketVersioning(self):
        b = self.bucket()
        try:
            root = ET.fromstring(self.r.body)
        except ET.ParseError:
            root = None
        status = xml_child(root, "Status") if root is not None else None
        if status is None or status.text not in ("Enabled", "Suspended"):
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                          "validate against our published schema")
        b.versioning = status.text
        return 200, {}, ""

    # -- listings -----------------------------------------------------------------
    def encoder(self):
        if self.r.query.get("encoding-type") == "url":
            return lambda s: urllib.parse.quote(s, safe="/")
        if "encoding-type" in self.r.query:
            raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request",
                          ArgumentName="encoding-type",
                          ArgumentValue=self.r.query["encoding-type"])
        return lambda s: s

    def walk(self, b, prefix, delimiter, after, skip_prefix):
        """Current keys (sorted as S3 sorts, by UTF-8 bytes) and common
        prefixes after the marker: [(name, version or None)]."""
        keys = sorted((k for k, vs in b.objects.items()
                       if vs and not vs[-1].delete_marker and k.startswith(prefix)),
                      key=lambda k: k.encode("utf-8"))
        seen = set()
        for k in keys:
            if after is not None and k.encode("utf-8") <= after.encode("utf-8"):
                continue
            if skip_prefix and k.startswith(skip_prefix):
                continue
            if delimiter:
                i = k.find(delimiter, len(prefix))
                if i >= 0:
                    cp = k[:i + len(delimiter)]
                    if cp not in seen:
                        seen.add(cp)
                        yield cp, None
                    continue
            yield k, b.objects[k][-1]

    def contents(self, enc, v, owner=False):
        return "<Contents>%s%s%s%s%s%s</Contents>" % (
            el("Key", enc(v.key)), el("LastModified", iso(v.last_modified)), el("ETag", v.etag),
            el("Size", len(v.body)), "<Owner>%s</Owner>" % self.owner() if owner else "",
            el("StorageClass", "STANDARD"))

    def page(self, b, prefix, delimiter, after, skip_prefix, max_keys):
        items, truncated = [], False
        for item in self.walk(b, prefix, delimiter, after, skip_prefix):
            if len(items) == max_keys:
                truncated = True
                break
            items.append(item)
        return items, truncated

    def ListObjectsV2(self):
        b, q, enc = self.bucket(), self.r.query, self.encoder()
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        max_keys, start_after = self.max_keys(), q.get("start-after")
        after, skip = start_after, None
        token = q.get("continuation-token")
        if token is not None:
            try:
                t = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
                after, skip = t["after"], t.get("skip")
                if t["bucket"] != b.name:
                    raise ValueError
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                              ArgumentName="continuation-token", ArgumentValue=token)
        items, truncated = self.page(b, prefix, delimiter, after, skip, max_keys)
        parts = [el("Name", b.name), el("Prefix", enc(prefix))]
        if delimiter:
            parts.append(el("Delimiter", enc(delimiter)))
        parts += [el("MaxKeys", max_keys), el("KeyCount", len(items)),
                  el("IsTruncated", "true" if truncated else "false")]
        if "encoding-type" in q:
            parts.append(el("EncodingType", "url"))
        if token is not None:
            parts.append(el("ContinuationToken", token))
        if start_after is not None:
            parts.append(el("StartAfter", enc(start_after)))
        if truncated:
            last, v = items[-1]
            nxt = {"bucket": b.name, "after": last, "skip": last if v is None else None}
            parts.append(el("NextContinuationToken", base64.urlsafe_b64encode(
                json.dumps(nxt).encode()).decode()))
        owner = q.get("fetch-owner") == "true"
        for name, v in items:
            parts.append(self.contents(enc, v, owner) if v else
                         "<CommonPrefixes>%s</CommonPrefixes>" % el("Prefix", enc(name)))
        return 200, {}, '<ListBucketResult xmlns="%s">%s</ListBucketResult>' % (
            NS, "".join(parts))

    def ListObjects(self):
        b, q, enc = self.bucket(), self.r.query, self.encoder()
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        marker, max_keys = q.get("marker", ""), self.max_keys()
        skip = marker if delimiter and marker.endswith(delimiter) else None
        items, truncated = self.page(b, prefix, delimiter, marker or None, skip, max_keys)
        parts = [el("Name", b.name), el("Prefix", enc(prefix)), el("Marker", enc(marker))]
        if delimiter:
            parts.append(el("Delimiter", enc(delimiter)))
        parts += [el("MaxKeys", max_keys), el("IsTruncated", "true" if truncated else "false")]
        if "encoding-type" in q:
            parts.append(el("EncodingType", "url"))
        if truncated and delimiter:
            parts.append(el("NextMarker", enc(items[-1][0])))
        for name, v in items:
            parts.append(self.contents(enc, v, True) if v else
                         "<CommonPrefixes>%s</CommonPrefixes>" % el("Prefix", enc(name)))
        return 200, {}, '<ListBucketResult xmlns="%s">%s</ListBucketResult>' % (
            NS, "".join(parts))

    def ListObjectVersions(self):
        b, q, enc = self.bucket(), self.r.query, self.encoder()
        if q.get("delimiter"):
            raise S3Error("NotImplemented", "the simulator does not implement a delimiter in "
                          "ListObjectVersions", 501)
        prefix, max_keys = q.get("prefix", ""), self.max_keys()
        key_marker, vid_marker = q.get("key-marker", ""), q.get("version-id-marker", "")
        if vid_marker and not key_marker:
            raise S3Error("InvalidArgument", "A version-id marker cannot be specified without "
                          "a key marker.", ArgumentName="version-id-marker",
                          ArgumentValue=vid_marker)
        flat = []
        for k in sorted((k for k in b.objects if k.startswith(prefix)),
                        key=lambda k: k.encode("utf-8")):
            vs = b.objects[k]
            for i, v in enumerate(reversed(vs)):
                flat.append((v, i == 0))
        start = 0
        if key_marker:
            km = key_marker.encode("utf-8")
            start = len(flat)
            for i, (v, _) in enumerate(flat):
                kb = v.key.encode("utf-8")
                if kb > km:
                    start = i
                    break
                if vid_marker and kb == km and v.version_id == vid_marker:
                    start = i + 1
                    break
        chosen = flat[start:start + max_keys]
        truncated = start + max_keys < len(flat)
        parts = [el("Name", b.name), el("Prefix", enc(prefix)), el("KeyMarker", enc(key_marker)),
                 el("VersionIdMarker", vid_marker), el("MaxKeys", max_keys),
                 el("IsTruncated", "true" if truncated else "false")]
        if "encoding-type" in q:
            parts.append(el("EncodingType", "url"))
        if truncated:
            parts += [el("NextKeyMarker", enc(chosen[-1][0].key)),
                      el("NextVersionIdMarker", chosen[-1][0].version_id)]
        for v, latest in chosen:
            common = (el("Key", enc(v.key)) + el("VersionId", v.version_id) +
                      el("IsLatest", "true" if latest else "false") +
                      el("LastModified", iso(v.last_modified)))
            if v.delete_marker:
                parts.append("<DeleteMarker>%s<Owner>%s</Owner></DeleteMarker>"
                             % (common, self.owner()))
            else:
                parts.append("<Version>%s%s%s%s<Owner>%s</Owner></Version>" % (
                    common, el("ETag", v.etag), el("Size", len(v.body)),
                    el("StorageClass", "STANDARD"), self.owner()))
        return 200, {}, '<ListVersionsResult xmlns="%s">%s</ListVersionsResult>' % (
            NS, "".join(parts))

    # -- objects ------------------------------------------------------------------
    def check_key(self):
        if len(self.r.key.encode("utf-8")) > 1024:
            raise S3Error("KeyTooLongError", "Your key is too long", MaxSizeAllowed=1024,
                          Size=len(self.r.key.encode("utf-8")))

    def verify_digests(self, body):
        """Content-MD5 and x-amz-checksum-* against the body: S3 refuses a mismatch."""
        md5 = self.h.get("content-md5")
        if md5 is not None:
            try:
                want = base64.b64decode(md5, validate=True)
            except ValueError:
                want = b""
            if len(want) != 16:
                raise S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.",
                              **{"Content-MD5": md5})
            if want != hashlib.md5(body).digest():
                raise S3Error("BadDigest", "The Content-MD5 you specified did not match what "
                              "we received.", ExpectedDigest=md5,
                              CalculatedDigest=base64.b64encode(hashlib.md5(body).digest())
                              .decode())
        sums = {}
        for alg, fn in CHECKSUMS.items():
            sent = self.h.get("x-amz-checksum-" + alg)
            if sent is None:
                continue
            got = base64.b64encode(fn(body)).decode()
            if sent != got:
                raise S3Error("BadDigest", "The %s you specified did not match the calculated "
                              "checksum." % alg.upper())
            sums[alg] = got
        return sums

    def sse_request(self):
        sse = self.h.get("x-amz-server-side-encryption")
        kms = self.h.get("x-amz-server-side-encryption-aws-kms-key-id")
        if "x-amz-server-side-encryption-customer-algorithm" in self.h:
            raise S3Error("NotImplemented", "the simulator does not implement SSE-C", 501)
        if sse is not None and sse not in SSE_VALUES:
            raise S3Error("InvalidArgument", "Server Side Encryption with %s is not supported"
                          % sse, ArgumentName="x-amz-server-side-encryption", ArgumentValue=sse)
        if kms is not None and not (sse or "").startswith("aws:kms"):
            raise S3Error("InvalidArgument", "x-amz-server-side-encryption-aws-kms-key-id header "
                          "is not supported for this request without "
                          "x-amz-server-side-encryption: aws:kms",
                          ArgumentName="x-amz-server-side-encryption-aws-kms-key-id",
                          ArgumentValue=kms)
        if self.w.faults["require_sse"] and not sse:
            raise S3Error("InvalidRequest", "the simulator requires x-amz-server-side-encryption "
                          "on every PutObject (require_sse)")
        return sse, kms

    def preconditions(self, cur, flight):
        """PutObject and DeleteObject: If-Match (404 when there is no object,
        412 on another ETag) and If-None-Match: * (412 when there is one),
        evaluated when the write completes; 409 when a delete won meanwhile."""
        if flight is not None and flight.conflicted:
            self.w.conflicts += 1
            raise S3Error("ConditionalRequestConflict", "A conflicting conditional operation "
                          "is currently in progress against this resource. Please try again.",
                          409, Key=self.r.key)
        im, inm = self.h.get("if-match"), self.h.get("if-none-match")
        if im is not None:
            if cur is None:
                raise self.no_such_key()
            if not etag_matches(im, cur.etag):
                raise S3Error("PreconditionFailed", "At least one of the pre-conditions you "
                              "specified did not hold", 412, Condition="If-Match")
        if inm is not None and cur is not None:
            raise S3Error("PreconditionFailed", "At least one of the pre-conditions you "
                          "specified did not hold", 412, Condition="If-None-Match")

    def PutObject(self, flight=None):
        b = self.bucket()
        self.check_key()
        if self.h.get("if-none-match") not in (None, "*"):
            raise S3Error("NotImplemented", "A header you provided implies functionality that "
                          "is not implemented", 501, Header="If-None-Match")
        sse, kms = self.sse_request()
        sums = self.verify_digests(self.r.body)
        self.preconditions(b.current(self.r.key), flight)
        meta = {k[len("x-amz-meta-"):]: v for k, v in self.h.items()
                if k.startswith("x-amz-meta-")}
        v = self.w.new_version(b, self.r.key, self.r.body, sse, kms, self.h.get("content-type"),
                               meta, sums,
                               self.h.get("x-amz-server-side-encryption-bucket-key-enabled"))
        b.add(v)
        headers = {"ETag": v.etag}
        headers.update(self.version_headers(b, v))
        headers.update(self.sse_headers(v))
        for alg, val in sums.items():
            headers["x-amz-checksum-" + alg] = val
        return 200, headers, ""

    def read_conditions(self, v):
        """GetObject/HeadObject, in the order the GetObject reference gives:
        If-Match decides over If-Unmodified-Since, If-None-Match over
        If-Modified-Since; 412 or 304."""
        im, inm = self.h.get("if-match"), self.h.get("if-none-match")
        ims, ius = self.h.get("if-modified-since"), self.h.get("if-unmodified-since")
        modified = int(v.last_modified)
        if im is not None:
            if not etag_matches(im, v.etag):
                raise S3Error("PreconditionFailed", "At least one of the pre-conditions you "
                              "specified did not hold", 412, Condition="If-Match")
        elif ius is not None:
            t = parse_http_date(ius)
            if t is not None and modified > t:
                raise S3Error("PreconditionFailed", "At least one of the pre-conditions you "
                              "specified did not hold", 412, Condition="If-Unmodified-Since")
        if inm is not None:
            if etag_matches(inm, v.etag):
                return True
        elif ims is not None:
            t = parse_http_date(ims)
            if t is not None and modified <= t:
                return True
        return False

    def object_for_read(self, b):
        vid = self.r.query.get("versionId")
        if vid is not None:
            v = b.find(self.r.key, vid)
            if v is None:
                raise S3Error("NoSuchVersion", "The specified version does not exist.", 404,
                              Key=self.r.key, VersionId=vid)
            if v.delete_marker:
                raise S3Error("MethodNotAllowed", "The specified method is not allowed against "
                              "this resource.", 405,
                              {"x-amz-delete-marker": "true", "x-amz-version-id": vid,
                               "Allow": "DELETE"}, Method=self.r.method, ResourceType="DeleteMarker")
            return v
        vs = b.objects.get(self.r.key)
        if vs and vs[-1].delete_marker:
            raise self.no_such_key({"x-amz-delete-marker": "true",
                                    "x-amz-version-id": vs[-1].version_id})
        if not vs:
            raise self.no_such_key()
        return vs[-1]

    def GetObject(self):
        b = self.bucket()
        v = self.object_for_read(b)
        headers = {"ETag": v.etag, "Last-Modified": http_date(v.last_modified)}
        headers.update(self.version_headers(b, v))
        if self.read_conditions(v):
            return 304, headers, b""
        headers.update({"Content-Type": v.content_type, "Accept-Ranges": "bytes"})
        headers.update(self.sse_headers(v))
        for k, val in v.metadata.items():
            headers["x-amz-meta-" + k] = val
        body, status = v.body, 200
        rng = self.h.get("range")
        if rng:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if m and (m.group(1) or m.group(2)):
                n = len(body)
                if m.group(1):
                    first = int(m.group(1))
                    last = min(int(m.group(2)), n - 1) if m.group(2) else n - 1
                else:
                    first, last = max(n - int(m.group(2)), 0), n - 1
                if first >= n or last < first:
                    raise S3Error("InvalidRange", "The requested range is not satisfiable", 416,
                                  {"Content-Range": "bytes */%d" % n},
                                  RangeRequested=rng, ActualObjectSize=n)
                headers["Content-Range"] = "bytes %d-%d/%d" % (first, last, n)
                body, status = body[first:last + 1], 206
        if status == 200 and self.h.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            for alg, val in v.checksums.items():
                headers["x-amz-checksum-" + alg] = val
        return status, headers, body

    def HeadObject(self):
        return self.GetObject()

    def DeleteObject(self, flight=None):
        b = self.bucket()
        vid = self.r.query.get("versionId")
        if "if-match" in self.h or flight is not None:
            cur = b.find(self.r.key, vid) if vid is not None else b.current(self.r.key)
            if cur is not None and cur.delete_marker:
                cur = None
            self.preconditions(cur, flight)
        vs = b.objects.get(self.r.key, [])
        headers = {}
        if vid is not None:
            v = b.find(self.r.key, vid)
            if v is not None:
                vs.remove(v)
                headers["x-amz-version-id"] = vid
                if v.delete_marker:
                    headers["x-amz-delete-marker"] = "true"
                self.w.touched(b.name, self.r.key)
        elif b.versioning:
            m = self.w.delete_marker(b, self.r.key)
            b.add(m)
            headers = {"x-amz-version-id": m.version_id, "x-amz-delete-marker": "true"}
            self.w.touched(b.name, self.r.key)
        elif vs:
            vs.clear()
            self.w.touched(b.name, self.r.key)
        if not vs:
            b.objects.pop(self.r.key, None)
        return 204, headers, ""


# -- HTTP -------------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonS3"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def version_string(self):
        return self.server_version

    def do_GET(self):
        self.dispatch("GET")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_HEAD(self):
        self.dispatch("HEAD")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_POST(self):
        self.dispatch("POST")

    # -- plumbing -------------------------------------------------------------------
    def answer(self, method, status, headers, body):
        data = body.encode("utf-8") if isinstance(body, str) else body
        if isinstance(body, str) and body:
            data = (XML_DECL + body).encode("utf-8")
            headers.setdefault("Content-Type", "application/xml")
        self.send_response(status)
        rid = uuid.uuid4().hex[:16].upper()
        self.send_header("x-amz-request-id", rid)
        self.send_header("x-amz-id-2", base64.b64encode(rid.encode() * 3).decode())
        for k, v in headers.items():
            self.send_header(k, v)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method != "HEAD" and status not in (204, 304):
            self.wfile.write(data)

    def error_doc(self, method, e):
        headers = dict(e.headers)
        if method == "HEAD":
            # S3 answers a HEAD error with the status alone.
            self.answer(method, e.status, headers, b"")
            return
        extra = "".join(el(k, v) for k, v in e.extra.items())
        body = "<Error>%s%s%s%s%s</Error>" % (
            el("Code", e.code), el("Message", e.message), extra,
            el("RequestId", uuid.uuid4().hex[:16].upper()), el("HostId", "s3sim"))
        self.answer(method, e.status, headers, body)

    def drop(self):
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def read_body(self, method):
        n = self.headers.get("Content-Length")
        if n is None:
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
            if method == "PUT":
                raise S3Error("MissingContentLength", "You must provide the Content-Length HTTP "
                              "header.", 411)
            return b""
        return self.rfile.read(int(n)) if int(n) else b""

    def lower_headers(self):
        out = {}
        for k in self.headers.keys():
            lk = k.lower()
            if lk not in out:
                out[lk] = ",".join(v.strip() for v in self.headers.get_all(k))
        return out

    def route(self, raw_path, raw_query, headers):
        """(bucket, key, query, vhost) for path-style and virtual-hosted requests."""
        host = headers.get("host", "").split(":")[0].lower()
        if host.startswith("[") or host.endswith("]"):
            host = ""
        m = VHOST.match(host) or LOCALHOST_VHOST.match(host)
        path = urllib.parse.unquote(raw_path)
        query = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
        if m:
            key = path[1:] if path.startswith("/") else path
            return m.group("bucket"), key or None, query, True
        parts = path[1:].split("/", 1) if path.startswith("/") else [path]
        bucket = parts[0] or None
        key = parts[1] if len(parts) > 1 and parts[1] else None
        return bucket, key, query, False

    # -- control API ----------------------------------------------------------------
    def control(self, method, path, query, body):
        w = self.server.world
        with w.lock:
            if method == "GET" and path == "/_sim/stats":
                return {"calls": dict(w.calls), "throttled": dict(w.throttled),
                        "conflicts": w.conflicts, "buckets": len(w.buckets),
                        "in_flight": sum(len(f) for f in w.inflight.values()),
                        "objects": sum(1 for b in w.buckets.values()
                                       for k in b.objects if b.current(k))}
            if method == "GET" and path == "/_sim/objects":
                bodies = query.get("bodies") in ("1", "true")
                out = []
                for b in sorted(w.buckets.values(), key=lambda b: b.name):
                    if query.get("bucket") not in (None, b.name):
                        continue
                    for k in sorted(b.objects, key=lambda k: k.encode("utf-8")):
                        vs = b.objects[k]
                        for i, v in enumerate(reversed(vs)):
                            out.append(v.to_json(b, i == 0, bodies))
                return {"buckets": [{"name": b.name, "versioning": b.versioning or None,
                                     "region": w.args.region}
                                    for b in sorted(w.buckets.values(), key=lambda b: b.name)],
                        "objects": out}
            if method == "GET" and path == "/_sim/requests":
                return {"requests": list(w.requests)}
            if method == "POST" and path == "/_sim/release":
                w.release_stalls()
                return {"ok": True}
            if method == "POST" and path == "/_sim/reset":
                w.reset()
                return {"ok": True}
            if method == "POST" and path == "/_sim/faults":
                req = json.loads(body or b"{}")
                for k, v in req.items():
                    if k not in w.faults:
                        raise ValueError("unknown fault '%s'" % k)
                    if k == "action_errors":
                        v = check_action_errors(v)
                    w.faults[k] = v
                w.nth = {}
                return {"faults": w.faults}
            if method == "POST" and path == "/_sim/buckets":
                req = json.loads(body or b"{}")
                name = req.get("name")
                if not isinstance(name, str) or not BUCKET_NAME.match(name):
                    raise ValueError("name must be a valid bucket name")
                if req.get("versioning") not in (None, "Enabled", "Suspended"):
                    raise ValueError("versioning must be Enabled or Suspended")
                b = w.create_bucket(name)
                if req.get("versioning"):
                    b.versioning = req["versioning"]
                return {"name": b.name, "versioning": b.versioning or None}
            if method == "POST" and path == "/_sim/objects":
                # Behind the client's back: a write (or delete) no request made.
                req = json.loads(body or b"{}")
                b = w.buckets.get(req.get("bucket"))
                if not b:
                    raise KeyError("bucket %s" % req.get("bucket"))
                key = req.get("key")
                if not isinstance(key, str) or not key:
                    raise ValueError("key must be a non-empty string")
                if req.get("delete"):
                    if b.versioning:
                        b.add(w.delete_marker(b, key))
                    else:
                        b.objects.pop(key, None)
                    w.touched(b.name, key)
                    return {"deleted": key}
                data = base64.b64decode(req.get("body_b64", ""), validate=True)
                v = w.new_version(b, key, data, req.get("sse"), req.get("kms_key_id"),
                                  req.get("content_type"))
                b.add(v)
                return v.to_json(b, True, False)
        raise KeyError(path)

    def handle_control(self, method, raw_path, raw_query):
        body = self.read_body("POST") if method == "POST" else b""
        query = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
        try:
            out = self.control(method, raw_path, query, body)
            status = 200
        except KeyError as e:
            out, status = {"error": "not found: %s" % e}, 404
        except (ValueError, TypeError) as e:
            out, status = {"error": str(e)}, 400
        data = json.dumps(out).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # -- the S3 API -----------------------------------------------------------------
    def authenticate(self, method, raw_path, raw_query, headers, query, body):
        """SigV4 for s3 as S3 checks it; returns whether a session token came."""
        args = self.server.world.args
        auth = headers.get("authorization")
        if not auth:
            if "X-Amz-Signature" in query or "X-Amz-Credential" in query:
                raise S3Error("NotImplemented", "the simulator does not implement presigned "
                              "(query string) authentication", 501)
            raise S3Error("AccessDenied", "Access Denied", 403)
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            raise S3Error("InvalidRequest", "The authorization mechanism you have provided is not "
                          "supported. Please use AWS4-HMAC-SHA256.")
        parsed = parse_authorization(auth)
        cred = parsed["Credential"].split("/") if parsed else []
        if len(cred) != 5:
            raise S3Error("AuthorizationHeaderMalformed", "The authorization header is malformed; "
                          "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/"
                          "SERVICE/aws4_request\".")
        akid, date, region, service, term = cred
        if akid != args.access_key:
            raise S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not "
                          "exist in our records.", 403, AWSAccessKeyId=akid)
        if region != args.region:
            raise S3Error("AuthorizationHeaderMalformed", "The authorization header is malformed; "
                          "the region '%s' is wrong; expecting '%s'" % (region, args.region),
                          Region=args.region)
        if service != "s3" or term != "aws4_request":
            raise S3Error("AuthorizationHeaderMalformed", "The authorization header is malformed; "
                          "incorrect service \"%s\". This endpoint belongs to \"s3\"." % service)
        amz_date = headers.get("x-amz-date", "")
        try:
            t = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            raise S3Error("AccessDenied", "AWS authentication requires a valid Date or "
                          "x-amz-date header", 403)
        if date != amz_date[:8]:
            raise S3Error("AuthorizationHeaderMalformed", "The authorization header is malformed; "
                          "Invalid credential date. Date is not the same as X-Amz-Date.")
        now = time.time()
        if abs(now - t) > MAX_SKEW:
            raise S3Error("RequestTimeTooSkewed", "The difference between the request time and "
                          "the current time is too large.", 403, RequestTime=amz_date,
                          ServerTime=iso(now), MaxAllowedSkewMilliseconds=MAX_SKEW * 1000)
        content_sha = headers.get("x-amz-content-sha256")
        if content_sha is None:
            raise S3Error("InvalidRequest", "Missing required header for this request: "
                          "x-amz-content-sha256")
        if content_sha.startswith("STREAMING-"):
            raise S3Error("NotImplemented", "the simulator does not implement aws-chunked "
                          "payloads (%s)" % content_sha, 501)
        if content_sha != UNSIGNED and not re.fullmatch(r"[0-9a-f]{64}", content_sha):
            raise S3Error("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                          "STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                          "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
                          "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, "
                          "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 "
                          "value.", ArgumentName="x-amz-content-sha256", ArgumentValue=content_sha)
        signed = parsed["SignedHeaders"].split(";")
        unsigned = sorted(h for h in headers
                          if (h.startswith("x-amz-") or h == "host") and h not in signed)
        if unsigned:
            raise S3Error("AccessDenied", "There were headers present in the request which were "
                          "not signed", 403, HeadersNotSigned=", ".join(unsigned))
        token = headers.get("x-amz-security-token")
        if args.session_token is not None and token != args.session_token:
            raise S3Error("InvalidToken", "The provided token is malformed or otherwise invalid.")
        scope = "/".join(cred[1:])
        creq = canonical_request(method, raw_path, raw_query, headers, signed, content_sha)
        sts = string_to_sign(amz_date, scope, creq)
        expect = signature(args.secret_key, scope, sts)
        if not hmac.compare_digest(expect, parsed["Signature"]):
            raise S3Error("SignatureDoesNotMatch", "The request signature we calculated does not "
                          "match the signature you provided. Check your key and signing method.",
                          403, AWSAccessKeyId=akid, StringToSign=sts,
                          SignatureProvided=parsed["Signature"], CanonicalRequest=creq)
        if content_sha != UNSIGNED and hashlib.sha256(body).hexdigest() != content_sha:
            raise S3Error("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header "
                          "does not match what was computed.",
                          ClientComputedContentSHA256=content_sha,
                          S3ComputedContentSHA256=hashlib.sha256(body).hexdigest())
        return token is not None

    def begin(self, op, req):
        """A conditional PutObject or DeleteObject is in flight from here until
        its answer; another one on the same key meanwhile gets 409."""
        conditional = "if-match" in req.headers or (
            op == "PutObject" and "if-none-match" in req.headers)
        if op not in ("PutObject", "DeleteObject") or not conditional:
            return None
        w = self.server.world
        with w.lock:
            flights = w.inflight.setdefault((req.bucket, req.key), [])
            if flights:
                w.conflicts += 1
                raise S3Error("ConditionalRequestConflict", "A conflicting conditional operation "
                              "is currently in progress against this resource. Please try again.",
                              409, Key=req.key)
            f = Flight(op)
            flights.append(f)
            return f

    def end(self, req, flight):
        if flight is None:
            return
        w = self.server.world
        with w.lock:
            flights = w.inflight.get((req.bucket, req.key), [])
            if flight in flights:
                flights.remove(flight)
            if not flights:
                w.inflight.pop((req.bucket, req.key), None)

    def faults_before(self, op):
        """Returns True when the answer is to be dropped after the operation."""
        w = self.server.world
        with w.lock:
            f = dict(w.faults)
            release = w.release
            w.nth[op] = w.nth.get(op, 0) + 1
            nth = w.nth[op]
            r_reset, r_throttle, r_error = w.rng.random(), w.rng.random(), w.rng.random()
        if f["latency_ms"]:
            time.sleep(f["latency_ms"] / 1000.0)
        stall = f.get("stall")
        if stall and stall.get("op", stall.get("action")) == op and \
                int(stall.get("nth", 1)) == nth:
            release.wait(float(stall.get("seconds", 30)))
        if r_reset < f["reset_rate"]:
            raise DropConnection()
        if r_throttle < f["throttle_rate"]:
            raise S3Error("SlowDown", "Please reduce your request rate.", 503)
        if r_error < f["error_rate"]:
            raise S3Error("InternalError", "We encountered an internal error. Please try again.",
                          500)
        lose = f.get("lose_response")
        return bool(lose and lose.get("op", lose.get("action")) == op and
                    int(lose.get("nth", 1)) == nth)

    def action_error(self, op):
        w = self.server.world
        with w.lock:
            spec = w.faults["action_errors"].get(op)
            if not spec:
                return
            if spec.get("count") is not None:
                if spec["count"] <= 0:
                    return
                spec["count"] -= 1
        raise S3Error(spec.get("code", "InternalError"),
                      spec.get("message", "We encountered an internal error. Please try again."),
                      int(spec.get("status", 500)))

    def dispatch(self, method):
        raw_path, _, raw_query = self.path.partition("?")
        headers = self.lower_headers()
        host = headers.get("host", "").split(":")[0].lower()
        if raw_path.startswith("/_sim/") and not (VHOST.match(host) or LOCALHOST_VHOST.match(host)):
            return self.handle_control(method, raw_path, raw_query)
        w = self.server.world
        op, code, req, token = None, None, None, False
        # The request is logged before it is answered, so a client that has
        # its answer finds it in /_sim/requests.
        try:
            body = self.read_body(method)
            bucket, key, query, vhost = self.route(raw_path, raw_query, headers)
            req = Request(method, bucket, key, query, headers, body, vhost)
            op = operation(method, bucket, key, query, headers)
            token = self.authenticate(method, raw_path, raw_query, headers, query, body)
            if op is None:
                raise S3Error("NotImplemented", "the simulator does not implement %s %s"
                              % (method, raw_path + ("?" + raw_query if raw_query else "")), 501)
            with w.lock:
                w.calls[op] = w.calls.get(op, 0) + 1
            flight = self.begin(op, req)
            try:
                lose = self.faults_before(op)
                self.action_error(op)
                with w.lock:
                    ops = S3(w, req)
                    if op in ("PutObject", "DeleteObject"):
                        reply = getattr(ops, op)(flight)
                    else:
                        reply = getattr(ops, op)()
            finally:
                self.end(req, flight)
            status = 0 if lose else reply[0]
        except S3Error as e:
            reply, status, code = e, e.status, e.code
            if e.code == "SlowDown":
                with w.lock:
                    w.throttled[op] = w.throttled.get(op, 0) + 1
        except DropConnection:
            reply, status = None, 0
        except Exception as e:  # a simulator bug: say so to the client, keep serving
            reply = S3Error("InternalError", "s3sim bug: %s: %s" % (type(e).__name__, e), 500)
            status, code = 500, "InternalError"
            self.close_connection = True
        self.log_request_row(w, op, method, req, status, code, headers, token)
        if status == 0:
            self.drop()
        elif isinstance(reply, S3Error):
            self.error_doc(method, reply)
        else:
            self.answer(method, *reply)

    def log_request_row(self, w, op, method, req, status, code, h, token):
        logged = {name: h[name.lower()] for name in (
            "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "Range",
            "x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
            "x-amz-content-sha256", "Content-MD5") if name.lower() in h}
        with w.lock:
            w.requests.append({"op": op, "method": method,
                               "bucket": req.bucket if req else None,
                               "key": req.key if req else None,
                               "version_id": req.query.get("versionId") if req else None,
                               "virtual_hosted": req.vhost if req else None,
                               "status": status, "code": code, "headers": logged,
                               "security_token": token,
                               "size": len(req.body) if req else 0})


def check_action_errors(v):
    """{"OPERATION": {"code", "status", "message", "count"}}"""
    if not isinstance(v, dict):
        raise ValueError("action_errors must be an object")
    out = {}
    for op, spec in v.items():
        if not isinstance(spec, dict) or set(spec) - ACTION_ERROR_KEYS:
            raise ValueError("action_errors.%s: an object with keys %s"
                             % (op, ", ".join(sorted(ACTION_ERROR_KEYS))))
        status = spec.get("status", 500)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError("action_errors.%s.status must be 400 to 599" % op)
        count = spec.get("count")
        if count is not None and (not isinstance(count, int) or count < 0):
            raise ValueError("action_errors.%s.count must be a count" % op)
        out[op] = dict(spec)
    return out


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main(argv=None):
    ap = argparse.ArgumentParser(description="A strict local Amazon S3 stand-in.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--throttle-rate", type=float, default=0.0)
    ap.add_argument("--error-rate", type=float, default=0.0)
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--access-key", default="AKIDNESTPLANSIM")
    ap.add_argument("--secret-key", default="nestplan-sim-secret")
    ap.add_argument("--session-token", default=None,
                    help="when given, every request must carry this x-amz-security-token")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--account-id", default=DEFAULT_ACCOUNT,
                    help="the account in KMS key ARNs (default 123456789012)")
    ap.add_argument("--require-sse", action="store_true",
                    help="refuse PutObject without x-amz-server-side-encryption (400)")
    ap.add_argument("--bucket", action="append", help="a bucket that exists from the start")
    ap.add_argument("--versioned-bucket", action="append",
                    help="a bucket with versioning enabled from the start")
    args = ap.parse_args(argv)
    if not re.fullmatch(r"[0-9]{12}", args.account_id):
        ap.error("--account-id must be 12 digits")
    for name in (args.bucket or []) + (args.versioned_bucket or []):
        if not BUCKET_NAME.match(name):
            ap.error("'%s' is not a valid bucket name" % name)
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.world = World(args)
    print("listening on http://127.0.0.1:%d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
