"""A tiny SigV4 Query client for the simulator's tests (stdlib only)."""
import datetime
import hashlib
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import sigv4


class Reply:
    def __init__(self, status, body):
        self.status = status
        self.body = body
        self.root = ET.fromstring(body) if body else None

    def find_all(self, name):
        return [e for e in self.root.iter() if e.tag.split("}")[-1] == name]

    def text(self, name):
        found = self.find_all(name)
        return found[0].text if found else None

    @property
    def code(self):
        return self.text("Code")


def call(url, action, params=None, key="AKIDNESTPLANSIM", secret="nestplan-sim-secret",
         region="us-east-1", when=None, token=None, sign=True):
    form = dict(params or {})
    form.update({"Action": action, "Version": "2016-11-15"})
    body = urllib.parse.urlencode(form, quote_via=urllib.parse.quote).encode()
    host = url.split("://")[1].rstrip("/")
    when = when or datetime.datetime.utcnow()
    amz = when.strftime("%Y%m%dT%H%M%SZ")
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8",
               "host": host, "x-amz-date": amz}
    if token:
        headers["x-amz-security-token"] = token
    signed = sorted(headers)
    scope = "%s/%s/ec2/aws4_request" % (amz[:8], region)
    sig = sigv4.signature("POST", "/", "", headers, signed, body, amz, scope, secret)
    h = {k: v for k, v in headers.items() if k != "host"}
    if sign:
        h["Authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
                              % (key, scope, ";".join(signed), sig))
    req = urllib.request.Request(url + "/", data=body, headers=h, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return Reply(r.status, r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.read())


def allocate_host(url, family="m8i", zone="us-east-1a", auto="on"):
    """One Dedicated Host (auto-placement on by default, so untargeted
    host-tenancy launches land on it); its id."""
    r = call(url, "AllocateHosts", {"InstanceFamily": family, "AvailabilityZone": zone,
                                    "Quantity": "1", "AutoPlacement": auto})
    if r.status != 200:
        raise AssertionError("AllocateHosts: %s" % r.body)
    return r.text("item")


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def items_under(reply, name):
    """The <item> children of the first element called name (in a reply or
    an element)."""
    for e in getattr(reply, "root", reply).iter():
        if e.tag.split("}")[-1] == name:
            return [c for c in e if c.tag.split("}")[-1] == "item"]
    return []


def child(e, name):
    for c in e.iter():
        if c.tag.split("}")[-1] == name:
            return c.text
    return None
