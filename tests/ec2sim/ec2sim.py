#!/usr/bin/env python3
"""A strict local stand-in for the EC2 Query API (2016-11-15), standard
library only. See README.md beside this file."""
import argparse
import base64
import collections
import datetime
import functools
import hashlib
import hmac
import json
import os
import random
import re
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigv4  # noqa: E402

NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48,
               "stopping": 64, "stopped": 80}
MUTATING = {"RunInstances", "StopInstances", "StartInstances", "TerminateInstances",
            "ModifyInstanceCpuOptions", "ModifyInstanceAttribute", "ModifyInstancePlacement",
            "CreateTags", "DeleteTags", "AllocateHosts", "ModifyHosts", "ReleaseHosts"}
# Images the simulator treats as Windows (real EC2 knows from the AMI).
WINDOWS_AMI_PREFIXES = ("ami-0fedcba", "ami-0ffff")
WINDOWS_NV_MAX_VCPUS = 192
MAX_SKEW = 300
DEFAULT_ACCOUNT = "123456789012"
REQUEST_LOG_SIZE = 10000
# Tenancy changes of a stopped instance (ModifyInstancePlacement): the strictest
# reading of the three AWS sources (README.md). Any other change is InvalidRequest.
TENANCY_CHANGES = {("dedicated", "host"), ("host", "host"), ("default", "default"),
                   ("dedicated", "dedicated")}
ACTION_ERROR_KEYS = {"code", "status", "dry_run", "message", "count", "html"}
# Instance states that hold capacity on a Dedicated Host: a stopped or
# terminated instance does not ("You must stop or terminate all instances on a
# host before it can be released", ReleaseHosts; README.md).
ON_HOST_STATES = ("pending", "running", "stopping", "shutting-down")
ON_OFF = ("on", "off")
# The latency model's defaults (README.md, "Latency model").
LATENCY_DEFAULTS = {"base_ms": 100.0, "per_item_ms": 1.0, "jitter": 0.2}

# The Query parameters each action accepts, from botocore's model (gen_params.py).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "ec2_params.json")) as _f:
    PARAMS = {a: frozenset(v) for a, v in json.load(_f)["actions"].items()}
COMMON_PARAMS = frozenset(("Action", "Version"))
LIST_INDEX = re.compile(r"\.[1-9][0-9]*(?=\.|$)")

# EC2's documented token buckets (capacity, refill per second); see README.md.
# Request buckets are per API: each action has a bucket of its category's size.
REQUEST_BUCKETS = {"non-mutating": (100, 20), "unfiltered": (50, 10), "mutating": (200, 5)}
RESOURCE_BUCKETS = {"RunInstances": (1000, 2), "StartInstances": (1000, 2),
                    "StopInstances": (1000, 20), "TerminateInstances": (1000, 20)}


class ApiError(Exception):
    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class DropConnection(Exception):
    pass


class HtmlAnswer(Exception):
    """An answer that is not EC2's XML (a proxy's or load balancer's page)."""

    def __init__(self, status, body):
        super().__init__(body)
        self.status, self.body = status, body


def unknown_params(action, params):
    """The parameters that are not in the action's botocore input shape."""
    known = PARAMS[action]
    return [k for k in params
            if k not in COMMON_PARAMS and LIST_INDEX.sub(".N", k) not in known]


def now_iso():
    return datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Bucket:
    def __init__(self, capacity, rate):
        self.capacity, self.rate = capacity, rate
        self.tokens, self.last = float(capacity), time.monotonic()

    def take(self, n=1):
        t = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (t - self.last) * self.rate)
        self.last = t
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False


class Instance:
    __slots__ = ("id", "reservation", "image_id", "type", "key_name", "subnet_id", "sgs",
                 "user_data", "platform", "cores", "threads", "nv", "tenancy", "host_id", "az",
                 "hibernation", "state", "next_state", "due", "tags", "token", "launch_time",
                 "launch_index", "spot", "visible_at", "_xml", "account", "affinity",
                 "terminated_at", "stale", "stale_until")

    def copy(self):
        """A frozen copy: what a lagging read replica still shows."""
        c = Instance()
        for k in self.__slots__:
            setattr(c, k, getattr(self, k, None))
        c.tags, c.next_state, c.stale, c._xml = dict(self.tags), None, None, None
        return c

    def to_json(self):
        return {"instance_id": self.id, "account_id": self.account, "state": self.state,
                "instance_type": self.type,
                "tenancy": self.tenancy, "core_count": self.cores,
                "threads_per_core": self.threads, "nested_virtualization": self.nv,
                "platform": self.platform, "host_id": self.host_id, "image_id": self.image_id,
                "hibernation": self.hibernation, "spot": self.spot, "tags": dict(self.tags),
                "launch_index": self.launch_index, "affinity": self.affinity}


class Host:
    """A Dedicated Host: one instance type, or the sizes of one family, up to
    the physical cores of the family's largest size (README.md)."""

    def __init__(self, hid, account, az, family, itype, hw):
        self.id, self.account, self.az = hid, account, az
        self.family, self.itype = family, itype     # itype None: the whole family
        self.cores, self.sockets, self.vcpus = hw
        self.auto, self.recovery, self.maintenance = "off", "off", "on"
        self.state, self.tags, self.token = "available", {}, None
        self.allocation_time, self.release_time = now_iso(), None
        self.released_at = None

    def to_json(self, world):
        free_cores, free_vcpus = world.host_free(self)
        return {"host_id": self.id, "account_id": self.account, "state": self.state,
                "availability_zone": self.az, "instance_family": self.family,
                "instance_type": self.itype, "auto_placement": self.auto,
                "host_recovery": self.recovery, "host_maintenance": self.maintenance,
                "cores": self.cores, "sockets": self.sockets, "total_vcpus": self.vcpus,
                "available_cores": free_cores, "available_vcpus": free_vcpus,
                "available_capacity": {t: n for t, n, _ in world.host_capacity(self)},
                "instances": [i.id for i in world.host_instances(self)],
                "tags": dict(self.tags), "client_token": self.token,
                "allocation_time": self.allocation_time, "release_time": self.release_time}


class World:
    def __init__(self, args):
        self.args = args
        self.rate_limits_at_start = args.rate_limits
        self.lock = threading.RLock()
        self.rng = random.Random(args.seed)
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "instance_types.json")) as f:
            self.catalog = {t["InstanceType"]: t for t in json.load(f)}
        self.reset()

    def reset(self):
        with self.lock:
            self.args.rate_limits = self.rate_limits_at_start
            self.instances = {}
            self.order = []
            self.tokens = {}
            self.hosts = {}
            self.host_order = []
            self.host_tokens = {}
            self.calls = {}
            self.throttled = {}
            self.call_log = []
            self.requests = collections.deque(maxlen=REQUEST_LOG_SIZE)
            self.nth = {}
            self.account = self.args.account_id
            self.faults = {"throttle_rate": self.args.throttle_rate,
                           "error_rate": self.args.error_rate, "reset_rate": 0.0,
                           "latency_ms": self.args.latency_ms, "invisible_ms": 0,
                           "deny_actions": [], "stall": None, "lose_response": None,
                           "capacity": None, "stale_ms": self.args.stale_ms,
                           "terminated_ttl_s": self.args.terminated_ttl,
                           "next_token_ttl_s": self.args.next_token_ttl,
                           "action_errors": {},
                           "released_host_ttl_s": self.args.released_host_ttl,
                           "host_placement": self.args.host_placement,
                           "latency_model": self.args.latency_model,
                           "latency_base_ms": self.args.latency_base_ms,
                           "latency_per_item_ms": self.args.latency_per_item_ms,
                           "latency_jitter": self.args.latency_jitter}
            self.fill_buckets()
            self.rng = random.Random(self.args.seed)
            # A stream of its own, so read-after-write delays do not move the ids.
            self.stale_rng = random.Random(self.args.seed)
            # And one for the latency model's jitter.
            self.latency_rng = random.Random(self.args.seed)
            self.token_key = os.urandom(16)

    # -- latency model -------------------------------------------------------
    def latency_model(self):
        f = self.faults
        return {"model": f["latency_model"], "base_ms": float(f["latency_base_ms"]),
                "per_item_ms": float(f["latency_per_item_ms"]),
                "jitter": float(f["latency_jitter"]), "seed": self.args.seed}

    def model_delay(self, items):
        """Seconds an answer of `items` items takes under the model: base plus
        per item, times a seeded factor in [1 - jitter, 1 + jitter]."""
        m = self.latency_model()
        if m["model"] != "aws":
            return 0.0
        u = self.latency_rng.uniform(-1.0, 1.0)
        return max(0.0, (m["base_ms"] + m["per_item_ms"] * items) * (1 + m["jitter"] * u)) / 1000.0

    # -- Dedicated Hosts -----------------------------------------------------
    def family_types(self, family):
        return [t for n, t in sorted(self.catalog.items()) if n.split(".")[0] == family]

    def host_hardware(self, family):
        """(cores, sockets, vCPUs) of a host of this family: the family's largest
        size (the docs give no numbers for these families; README.md)."""
        types = self.family_types(family)
        big = max(types, key=lambda t: t["VCpuInfo"]["DefaultVCpus"])
        v = big["VCpuInfo"]
        cores = v.get("DefaultCores", v["DefaultVCpus"])
        return cores, 2 if cores >= 48 else 1, v["DefaultVCpus"]

    def host_types(self, host):
        """The types a host can run: its one type, or its family's types that
        support Dedicated Hosts."""
        if host.itype:
            return [self.catalog[host.itype]]
        return [t for t in self.family_types(host.family) if t.get("DedicatedHostsSupported")]

    def host_instances(self, host, t=None):
        """The instances that hold capacity on the host, in launch order."""
        out = []
        for iid in self.order:
            inst = self.instances[iid]
            if inst.host_id == host.id and inst.account == host.account:
                self.settle(inst, t)
                if inst.state in ON_HOST_STATES:
                    out.append(inst)
        return out

    @staticmethod
    def type_cores(t):
        v = t["VCpuInfo"]
        return v.get("DefaultCores", v["DefaultVCpus"])

    def host_free(self, host, extra=()):
        """(free cores, free vCPUs): an instance consumes its type's cores and
        vCPUs whatever its CPU options. `extra`: types placed tentatively."""
        used = [self.catalog[i.type] for i in self.host_instances(host)] + list(extra)
        return (host.cores - sum(self.type_cores(t) for t in used),
                host.vcpus - sum(t["VCpuInfo"]["DefaultVCpus"] for t in used))

    def host_capacity(self, host, extra=()):
        """[(type, available, total)] per type the host supports."""
        free, _ = self.host_free(host, extra)
        if host.state != "available":
            free = 0
        return [(t["InstanceType"], max(0, free) // self.type_cores(t),
                 host.cores // self.type_cores(t)) for t in self.host_types(host)]

    def host_fits(self, host, t, extra=()):
        if host.state != "available":
            return False
        if t["InstanceType"] not in [x["InstanceType"] for x in self.host_types(host)]:
            return False
        return self.host_free(host, extra)[0] >= self.type_cores(t)

    def host_gone(self, host, t=None):
        t = time.monotonic() if t is None else t
        return (host.state == "released" and host.released_at is not None
                and t - host.released_at >= float(self.faults["released_host_ttl_s"]))

    def strict_hosts(self):
        return self.faults["host_placement"] == "strict"

    def fill_buckets(self):
        self.buckets = {}
        self.resource_buckets = {}

    def request_bucket(self, action, params):
        """The bucket of this API (and of its unfiltered form) in the current
        account: EC2 evaluates each API on its own, per account and Region."""
        cat = request_bucket(action, params)
        key = (self.account, action + ("/unfiltered" if cat == "unfiltered" else ""))
        if key not in self.buckets:
            self.buckets[key] = Bucket(*REQUEST_BUCKETS[cat])
        return self.buckets[key]

    def resource_bucket(self, action):
        key = (self.account, action)
        if key not in self.resource_buckets:
            self.resource_buckets[key] = Bucket(*RESOURCE_BUCKETS[action])
        return self.resource_buckets[key]

    # -- time ---------------------------------------------------------------
    def settle(self, inst, t=None):
        t = time.monotonic() if t is None else t
        if inst.next_state and t >= inst.due:
            inst.state, inst.next_state = inst.next_state, None
            inst._xml = None
            if inst.state == "terminated":
                inst.terminated_at = inst.due

    def gone(self, inst, t):
        """A terminated instance drops out of Describe after a while."""
        return (inst.state == "terminated" and inst.terminated_at is not None
                and t - inst.terminated_at >= float(self.faults["terminated_ttl_s"]))

    def view(self, inst, t):
        """What Describe shows: the state before the last writes while the
        read-after-write delay lasts, else the instance itself."""
        if inst.stale is not None:
            if t < inst.stale_until:
                return inst.stale
            inst.stale = None
        return inst

    def mutate(self, inst):
        """Called before a write changes the instance: Describe keeps showing
        the state before it for a seeded random time in [0, stale_ms]."""
        ms = float(self.faults["stale_ms"] or 0)
        if ms <= 0:
            return
        t = time.monotonic()
        self.settle(inst, t)
        until = t + self.stale_rng.uniform(0, ms) / 1000.0
        if inst.stale is not None and t < inst.stale_until:
            # The replica has not caught up with the earlier write either.
            inst.stale_until = max(inst.stale_until, until)
        else:
            inst.stale, inst.stale_until = inst.copy(), until

    def make_token(self, kind, pos, fp):
        """An opaque NextToken bound to the request's parameters and account."""
        body = "%s:%d:%s:%d" % (kind, pos, fp, int(time.monotonic() * 1000))
        mac = hmac.new(self.token_key, body.encode(), hashlib.sha256).hexdigest()[:16]
        return base64.b64encode(("%s:%s" % (body, mac)).encode()).decode()

    def read_token(self, token, kind, fp):
        def bad(why):
            return ApiError("InvalidParameterValue",
                            "Value (%s) for parameter NextToken is invalid. %s" % (token, why))
        try:
            k, pos, tfp, issued, mac = base64.b64decode(token, validate=True).decode().split(":")
            body = "%s:%s:%s:%s" % (k, pos, tfp, issued)
            pos, issued = int(pos), int(issued)
        except Exception:
            raise bad("The token is invalid.")
        want = hmac.new(self.token_key, body.encode(), hashlib.sha256).hexdigest()[:16]
        if not hmac.compare_digest(mac, want) or k != kind:
            raise bad("The token is invalid.")
        if tfp != fp:
            raise bad("The token was issued for a request with other parameters.")
        if time.monotonic() * 1000 - issued > float(self.faults["next_token_ttl_s"]) * 1000:
            raise bad("The token has expired.")
        return pos

    def transition(self, inst, now_state, then_state):
        inst.state, inst.next_state = now_state, then_state
        inst.due = time.monotonic() + self.args.transition_seconds
        inst._xml = None
        if self.args.transition_seconds <= 0:
            self.settle(inst)

    # -- rendering ----------------------------------------------------------
    def item_xml(self, inst):
        """One instancesSet item (cached until the instance changes)."""
        if inst._xml is not None:
            return inst._xml
        tags = "".join("<item><key>%s</key><value>%s</value></item>" % (escape(k), escape(v))
                       for k, v in inst.tags.items())
        sgs = "".join("<item><groupId>%s</groupId><groupName>%s</groupName></item>" % (g, g)
                      for g in inst.sgs)
        host = ("<hostId>%s</hostId>" % inst.host_id
                if inst.tenancy == "host" and inst.host_id else "")
        if inst.tenancy == "host" and inst.affinity:
            host += "<affinity>%s</affinity>" % inst.affinity
        parts = [
            "<item><instanceId>%s</instanceId><imageId>%s</imageId>" % (inst.id, inst.image_id),
            "<instanceState><code>%d</code><name>%s</name></instanceState>"
            % (STATE_CODES[inst.state], inst.state),
            "<privateDnsName/><dnsName/><reason/>",
            "<keyName>%s</keyName>" % escape(inst.key_name) if inst.key_name else "",
            "<amiLaunchIndex>%d</amiLaunchIndex>" % inst.launch_index,
            "<instanceType>%s</instanceType><launchTime>%s</launchTime>"
            % (inst.type, inst.launch_time),
            "<placement><availabilityZone>%s</availabilityZone><groupName/><tenancy>%s</tenancy>%s"
            "</placement>" % (inst.az, inst.tenancy, host),
            "<platform>windows</platform>" if inst.platform == "windows" else "",
            "<monitoring><state>disabled</state></monitoring>",
            "<subnetId>%s</subnetId><vpcId>vpc-0a1b2c3d4e5f60718</vpcId>" % inst.subnet_id,
            "<groupSet>%s</groupSet>" % sgs,
            "<instanceLifecycle>spot</instanceLifecycle>" if inst.spot else "",
            "<architecture>x86_64</architecture><rootDeviceType>ebs</rootDeviceType>",
            "<clientToken>%s</clientToken>" % escape(inst.token or ""),
            "<tagSet>%s</tagSet>" % tags,
            "<hypervisor>xen</hypervisor>",
            "<hibernationOptions><configured>%s</configured></hibernationOptions>"
            % ("true" if inst.hibernation else "false"),
            "<cpuOptions><coreCount>%d</coreCount><threadsPerCore>%d</threadsPerCore>"
            "<nestedVirtualization>%s</nestedVirtualization></cpuOptions></item>"
            % (inst.cores, inst.threads, inst.nv),
        ]
        inst._xml = "".join(parts)
        return inst._xml


def params_list(params, prefix):
    """Name.1, Name.2, ... in order."""
    out, i = [], 1
    while "%s.%d" % (prefix, i) in params:
        out.append(params["%s.%d" % (prefix, i)])
        i += 1
    return out


def parse_filters(params):
    filters, i = [], 1
    while "Filter.%d.Name" % i in params:
        filters.append((params["Filter.%d.Name" % i], params_list(params, "Filter.%d.Value" % i)))
        i += 1
    return filters


@functools.lru_cache(maxsize=4096)
def glob_regex(pattern):
    """EC2's filter wildcards (User Guide, "List and filter using the CLI and
    API"): * is zero or more characters, ? zero or one, a backslash makes the
    next character literal. Nothing else is special (no [...] classes)."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else ".?" if c == "?" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def glob_match(pattern, value):
    return value is not None and glob_regex(pattern).fullmatch(value) is not None


def fingerprint(params, drop=("NextToken", "DryRun", "Action", "Version")):
    return hashlib.sha256(json.dumps(sorted((k, v) for k, v in params.items() if k not in drop))
                          .encode()).hexdigest()[:16]


def check_id(value, prefix, code):
    if not re.fullmatch(prefix + r"-[0-9a-f]{8,17}", value or ""):
        raise ApiError(code, "Invalid id: \"%s\"" % value)


class Ec2:
    """The operations, each checking what EC2 checks. Called with the lock held."""

    def __init__(self, world):
        self.w = world
        self.items = 0  # items in the answer, for the latency model

    def itype(self, name, code="InvalidParameterValue"):
        t = self.w.catalog.get(name)
        if not t:
            raise ApiError(code, "The instance type '%s' does not exist" % name)
        return t

    @staticmethod
    def supports_nv(t):
        return "nested-virtualization" in t.get("ProcessorInfo", {}).get("SupportedFeatures", [])

    def check_cpu(self, t, cores, threads):
        v = t["VCpuInfo"]
        if cores not in v.get("ValidCores", [v.get("DefaultCores")]):
            raise ApiError("InvalidParameterValue", "CPU core count %d is not valid for %s"
                           % (cores, t["InstanceType"]))
        if threads not in v.get("ValidThreadsPerCore", [v.get("DefaultThreadsPerCore", 1)]):
            raise ApiError("InvalidParameterValue", "Threads per core %d is not valid for %s"
                           % (threads, t["InstanceType"]))

    def check_nv(self, t, platform, cores, threads, hibernation, spot):
        if not self.supports_nv(t):
            raise ApiError("InvalidParameterCombination",
                           "Nested virtualization is not supported for instance type %s"
                           % t["InstanceType"])
        if spot:
            raise ApiError("InvalidParameterCombination",
                           "Nested virtualization is not supported for Spot Instances")
        if platform == "windows":
            if cores * threads > WINDOWS_NV_MAX_VCPUS:
                raise ApiError("InvalidParameterCombination",
                               "Nested virtualization is not supported on Windows instances with "
                               "more than %d vCPUs" % WINDOWS_NV_MAX_VCPUS)
            if hibernation:
                raise ApiError("InvalidParameterCombination",
                               "Hibernation is not supported with nested virtualization on Windows")

    def get(self, iid):
        """The current account's instance: another account's, or one gone
        since its termination, does not exist for this caller."""
        check_id(iid, "i", "InvalidInstanceID.Malformed")
        inst = self.w.instances.get(iid)
        t = time.monotonic()
        if inst:
            self.w.settle(inst, t)
        if not inst or inst.account != self.w.account or self.w.gone(inst, t):
            raise ApiError("InvalidInstanceID.NotFound",
                           "The instance ID '%s' does not exist" % iid)
        return inst

    def ids(self, p, required=True):
        ids = params_list(p, "InstanceId")
        if required and not ids:
            raise ApiError("MissingParameter", "The request must contain the parameter InstanceId")
        if len(ids) > 1000:
            raise ApiError("InvalidParameterValue", "At most 1000 instance IDs per call")
        return [self.get(i) for i in ids]

    # -- RunInstances -------------------------------------------------------
    def RunInstances(self, p, dry):
        for req in ("ImageId", "MinCount", "MaxCount"):
            if req not in p:
                raise ApiError("MissingParameter",
                               "The request must contain the parameter %s" % req)
        check_id(p["ImageId"], "ami", "InvalidAMIID.Malformed")
        try:
            lo, hi = int(p["MinCount"]), int(p["MaxCount"])
        except ValueError:
            raise ApiError("InvalidParameterValue", "MinCount and MaxCount must be integers")
        if lo < 1 or hi < lo or hi > 1000:
            raise ApiError("InvalidParameterValue", "MinCount/MaxCount out of range")
        t = self.itype(p.get("InstanceType", "m1.small"))
        v = t["VCpuInfo"]
        cc, tpc = p.get("CpuOptions.CoreCount"), p.get("CpuOptions.ThreadsPerCore")
        if (cc is None) != (tpc is None):
            raise ApiError("InvalidParameterCombination",
                           "Both the core count and threads per core must be specified")
        cores = int(cc) if cc else v.get("DefaultCores", v["DefaultVCpus"])
        threads = int(tpc) if tpc else v.get("DefaultThreadsPerCore", 1)
        self.check_cpu(t, cores, threads)
        nv = p.get("CpuOptions.NestedVirtualization", "disabled")
        if nv not in ("enabled", "disabled"):
            raise ApiError("InvalidParameterValue", "NestedVirtualization must be enabled|disabled")
        tenancy = p.get("Placement.Tenancy", "default")
        if tenancy not in ("default", "dedicated", "host"):
            raise ApiError("InvalidParameterValue", "Invalid tenancy '%s'" % tenancy)
        if tenancy == "host" and not t.get("DedicatedHostsSupported"):
            raise ApiError("InvalidParameterCombination",
                           "%s is not supported on Dedicated Hosts" % t["InstanceType"])
        host_id = p.get("Placement.HostId")
        if host_id:
            check_id(host_id, "h", "InvalidHostId.Malformed")
        hib = p.get("HibernationOptions.Configured", "false") == "true"
        if hib and not t.get("HibernationSupported"):
            raise ApiError("UnsupportedHibernationConfiguration",
                           "%s does not support hibernation" % t["InstanceType"])
        spot = p.get("InstanceMarketOptions.MarketType") == "spot"
        platform = "windows" if p["ImageId"].startswith(WINDOWS_AMI_PREFIXES) else "linux"
        if nv == "enabled":
            self.check_nv(t, platform, cores, threads, hib, spot)
        subnet = p.get("SubnetId", "subnet-0123456789abcdef0")
        check_id(subnet, "subnet", "InvalidSubnetID.Malformed")
        sgs = params_list(p, "SecurityGroupId")
        for g in sgs:
            check_id(g, "sg", "InvalidGroupId.Malformed")
        tags = {}
        i = 1
        while "TagSpecification.%d.ResourceType" % i in p:
            if p["TagSpecification.%d.ResourceType" % i] == "instance":
                k = 1
                while "TagSpecification.%d.Tag.%d.Key" % (i, k) in p:
                    key = p["TagSpecification.%d.Tag.%d.Key" % (i, k)]
                    self.check_tag(key)
                    tags[key] = p.get("TagSpecification.%d.Tag.%d.Value" % (i, k), "")
                    k += 1
            i += 1
        if len(tags) > 50:
            raise ApiError("TagLimitExceeded", "at most 50 tags per resource")
        ud = p.get("UserData")
        if ud:
            try:
                base64.b64decode(ud, validate=True)
            except Exception:
                raise ApiError("InvalidParameterValue", "Invalid BASE64 encoding of user data")
        token = p.get("ClientToken")
        if token is not None and (len(token) > 64 or not token.isascii()):
            raise ApiError("InvalidParameterValue",
                           "Value (%s) for parameter clientToken is invalid: at most 64 ASCII "
                           "characters" % token)
        fp = fingerprint(p, ("ClientToken", "DryRun", "Action", "Version"))
        if dry:
            return None
        key = (self.w.account, token)
        if token and key in self.w.tokens:
            # The original reservation, whatever became of its instances since.
            old_fp, reservation, insts = self.w.tokens[key]
            if old_fp != fp:
                raise ApiError("IdempotentParameterMismatch",
                               "The client token '%s' was used with different parameters" % token)
            for i in insts:
                self.w.settle(i)
            return self.reservation_xml("RunInstancesResponse", reservation, insts)
        if self.w.args.rate_limits and not self.w.resource_bucket("RunInstances").take(hi):
            raise ApiError("RequestLimitExceeded", "Request limit exceeded.", 503)
        cap = self.w.faults["capacity"]
        if cap and cap.get("instance_type") == t["InstanceType"]:
            # EC2 launches between MinCount and MaxCount, or none at all.
            if lo > cap.get("available", 0):
                raise ApiError("InsufficientInstanceCapacity",
                               "We currently do not have sufficient %s capacity in the "
                               "Availability Zone you requested (%s). Our system will be working "
                               "on provisioning additional capacity."
                               % (t["InstanceType"], p.get("Placement.AvailabilityZone",
                                                           self.w.args.region + "a")), 500)
            hi = min(hi, cap["available"])
            cap["available"] -= hi
        placed = None
        if tenancy == "host":
            placed = self.place_on_hosts(t, lo, hi, host_id, p.get("Placement.AvailabilityZone"))
            hi = len(placed)
        reservation = "r-%017x" % self.w.rng.getrandbits(68)
        made = []
        visible_at = time.monotonic() + self.w.faults["invisible_ms"] / 1000.0
        for n in range(hi):
            inst = Instance()
            inst.id = "i-%017x" % self.w.rng.getrandbits(68)
            inst.reservation = reservation
            inst.image_id, inst.type = p["ImageId"], t["InstanceType"]
            inst.key_name, inst.subnet_id, inst.sgs = p.get("KeyName"), subnet, sgs
            inst.user_data, inst.platform = ud, platform
            inst.cores, inst.threads, inst.nv = cores, threads, nv
            inst.tenancy, inst.host_id = tenancy, None
            inst.az = p.get("Placement.AvailabilityZone", self.w.args.region + "a")
            if placed is not None:
                # A modelled host, or (implicit mode) one outside the model.
                inst.host_id = placed[n] or host_id or "h-%017x" % self.w.rng.getrandbits(68)
                if inst.host_id in self.w.hosts:
                    inst.az = self.w.hosts[inst.host_id].az
            inst.hibernation, inst.spot = hib, spot
            inst.tags, inst.token = dict(tags), token or str(uuid.uuid4())
            inst.launch_time, inst.launch_index = now_iso(), n
            inst.visible_at, inst._xml, inst.next_state, inst.due = visible_at, None, None, 0
            inst.account, inst.terminated_at, inst.stale, inst.stale_until = \
                self.w.account, None, None, 0.0
            inst.affinity = p.get("Placement.Affinity") or ("host" if tenancy == "host" else None)
            self.w.transition(inst, "pending", "running")
            self.w.instances[inst.id] = inst
            self.w.order.append(inst.id)
            made.append(inst)
        if token:
            self.w.tokens[key] = (fp, reservation, made)
        self.items = len(made)
        return self.reservation_xml("RunInstancesResponse", reservation, made)

    # -- Dedicated Host placement ---------------------------------------------
    def modelled_host(self, hid):
        """The account's host of that id that can still take instances, else None."""
        host = self.w.hosts.get(hid) if hid else None
        if not host or host.account != self.w.account or host.state == "released":
            return None
        return host

    def auto_hosts(self, az=None):
        return [h for h in (self.w.hosts[x] for x in self.w.host_order)
                if h.account == self.w.account and h.state == "available" and h.auto == "on"
                and (not az or h.az == az)]

    def place_on_hosts(self, t, lo, hi, host_id, az):
        """The host of each instance of a host-tenancy launch (at least lo, at
        most hi of them; None: a host outside the model, implicit mode only).
        Targeted: that host or InsufficientCapacityOnHost; untargeted: the
        auto-placement hosts in allocation order, or InsufficientHostCapacity."""
        name = t["InstanceType"]
        if host_id:
            host = self.modelled_host(host_id)
            if host is None:
                if self.w.strict_hosts():
                    raise ApiError("InvalidHostID.NotFound",
                                   "The host ID '%s' does not exist" % host_id)
                return [None] * hi
            if host.state != "available":
                raise ApiError("InvalidHostState", "Dedicated host %s is %s; it must be "
                               "available to launch instances onto it" % (host.id, host.state))
            if name not in [x["InstanceType"] for x in self.w.host_types(host)]:
                raise ApiError("IncompatibleHostRequirements",
                               "Dedicated host %s does not support instance type %s"
                               % (host.id, name))
            if az and az != host.az:
                raise ApiError("ZonesMismatched", "The Availability Zone %s does not match "
                               "that of Dedicated host %s (%s)" % (az, host.id, host.az))
            n = min(hi, max(0, self.w.host_free(host)[0]) // self.w.type_cores(t))
            if n < lo:
                raise ApiError("InsufficientCapacityOnHost",
                               "Dedicated host %s has insufficient capacity to launch the "
                               "instances in this request." % host.id)
            return [host.id] * n
        cands = [h for h in self.auto_hosts(az)
                 if name in [x["InstanceType"] for x in self.w.host_types(h)]]
        if not cands and not self.w.strict_hosts():
            return [None] * hi
        free = {h.id: self.w.host_free(h)[0] for h in cands}
        placed, need = [], self.w.type_cores(t)
        for _ in range(hi):
            h = next((h for h in cands if free[h.id] >= need), None)
            if h is None:
                break
            free[h.id] -= need
            placed.append(h.id)
        if len(placed) < lo:
            raise ApiError("InsufficientHostCapacity",
                           "You do not have a host with a matching configuration and sufficient "
                           "capacity. Either target a host resource group that can "
                           "automatically allocate hosts on your behalf, or manually allocate a "
                           "new host to your account and then try again.")
        return placed

    def restart_hosts(self, insts):
        """Where each stopped host-tenancy instance starts: {instance id: host id}.
        Affinity host: its own host or a refusal; affinity default: its last
        host if it fits, else any auto-placement host with capacity."""
        moves, extra = {}, {}
        for i in insts:
            if i.state != "stopped" or i.tenancy != "host":
                continue
            t = self.w.catalog[i.type]
            host = self.modelled_host(i.host_id)
            if host is None and i.host_id not in self.w.hosts and not self.w.strict_hosts():
                continue  # a host outside the model (implicit mode)
            if host is not None and self.w.host_fits(host, t, extra.get(host.id, [])):
                moves[i.id] = host.id
                extra.setdefault(host.id, []).append(t)
                continue
            if i.affinity == "host" and i.host_id:
                if host is not None and host.state == "available" and i.type in \
                        [x["InstanceType"] for x in self.w.host_types(host)]:
                    raise ApiError("InsufficientCapacityOnHost",
                                   "Dedicated host %s has insufficient capacity to start the "
                                   "instance %s." % (host.id, i.id))
                raise ApiError("IncompatibleHostRequirements",
                               "There are no available or compatible Dedicated Hosts available "
                               "on which to start the instance %s (its host %s)."
                               % (i.id, i.host_id))
            h = next((h for h in self.auto_hosts(i.az)
                      if self.w.host_fits(h, t, extra.get(h.id, []))), None)
            if h is None:
                raise ApiError("InsufficientHostCapacity",
                               "You do not have a host with a matching configuration and "
                               "sufficient capacity to start the instance %s." % i.id)
            moves[i.id] = h.id
            extra.setdefault(h.id, []).append(t)
        return moves

    def reservation_xml(self, root, reservation, insts):
        return ("<%s xmlns=\"%s\"><requestId>%s</requestId><reservationId>%s</reservationId>"
                "<ownerId>%s</ownerId><groupSet/><instancesSet>%s</instancesSet></%s>"
                % (root, NS, uuid.uuid4(), reservation, insts[0].account,
                   "".join(self.w.item_xml(i) for i in insts), root))

    # -- DescribeInstances --------------------------------------------------
    def matches(self, inst, filters):
        for name, values in filters:
            if name == "instance-id":
                ok = inst.id in values
            elif name == "instance-state-name":
                ok = inst.state in values
            elif name == "instance-state-code":
                ok = str(STATE_CODES[inst.state]) in values
            elif name == "instance-type":
                ok = any(glob_match(v, inst.type) for v in values)
            elif name == "client-token":
                ok = inst.token in values
            elif name == "tenancy":
                ok = inst.tenancy in values
            elif name == "platform":
                ok = inst.platform == "windows" and "windows" in values
            elif name == "host-id":
                ok = inst.tenancy == "host" and any(glob_match(v, inst.host_id) for v in values)
            elif name == "availability-zone":
                ok = any(glob_match(v, inst.az) for v in values)
            elif name == "tag-key":
                ok = any(glob_match(v, k) for v in values for k in inst.tags)
            elif name.startswith("tag:"):
                key = name[4:]
                ok = key in inst.tags and any(glob_match(v, inst.tags[key]) for v in values)
            else:
                raise ApiError("InvalidParameterValue", "The filter '%s' is invalid" % name)
            if not ok:
                return False
        return True

    def DescribeInstances(self, p, dry):
        ids = params_list(p, "InstanceId")
        filters = parse_filters(p)
        mr = p.get("MaxResults")
        if mr is not None and ids:
            raise ApiError("InvalidParameterCombination",
                           "The parameter instancesSet cannot be used with the parameter maxResults")
        if mr is not None:
            try:
                mr = int(mr)
            except ValueError:
                raise ApiError("InvalidParameterValue", "MaxResults must be an integer")
            if not 5 <= mr <= 1000:
                raise ApiError("InvalidParameterValue",
                               "Value (%d) for parameter maxResults is invalid. Expecting a value "
                               "between 5 and 1000." % mr)
        for f, values in filters:
            if len(values) > 200:
                raise ApiError("InvalidParameterValue",
                               "The filter '%s' has more than 200 values" % f)
        if dry:
            return None
        t = time.monotonic()
        start = 0
        # A token is only good for the request that it continues.
        fp = fingerprint(dict(p, _account=self.w.account))
        token = p.get("NextToken")
        if token:
            start = self.w.read_token(token, "page", fp)
        next_token = None
        if ids:
            insts = [self.get(i) for i in ids]
            for inst in insts:
                if inst.visible_at > t:
                    raise ApiError("InvalidInstanceID.NotFound",
                                   "The instance ID '%s' does not exist" % inst.id)
            insts = [self.w.view(i, t) for i in insts]
        else:
            # instance-id filter first: look those up instead of scanning
            idf = [v for n, v in filters if n == "instance-id"]
            if idf:
                cand = [i for i in dict.fromkeys(idf[0]) if i in self.w.instances]
            else:
                cand = self.w.order
            # The token is a position in the candidates: each page scans on
            # from there, so listing a fleet page by page costs one pass.
            insts = []
            pos = start
            account = self.w.account
            while pos < len(cand):
                inst = self.w.instances[cand[pos]]
                self.w.settle(inst, t)
                if inst.account == account and inst.visible_at <= t \
                        and not self.w.gone(inst, t):
                    seen = self.w.view(inst, t)
                    if self.matches(seen, filters):
                        if mr is not None and len(insts) == mr:
                            next_token = self.w.make_token("page", pos, fp)
                            break
                        insts.append(seen)
                pos += 1
        self.items = len(insts)
        # one reservation element per reservation id, in order
        groups = {}
        for inst in insts:
            groups.setdefault(inst.reservation, []).append(inst)
        body = "".join(
            "<item><reservationId>%s</reservationId><ownerId>%s</ownerId><groupSet/>"
            "<instancesSet>%s</instancesSet></item>"
            % (r, g[0].account, "".join(self.w.item_xml(i) for i in g))
            for r, g in groups.items())
        return ("<DescribeInstancesResponse xmlns=\"%s\"><requestId>%s</requestId>"
                "<reservationSet>%s</reservationSet>%s</DescribeInstancesResponse>"
                % (NS, uuid.uuid4(), body,
                   "<nextToken>%s</nextToken>" % next_token if next_token else ""))

    # -- Stop / Start / Terminate --------------------------------------------
    def state_change(self, root, insts, rows):
        items = "".join(
            "<item><instanceId>%s</instanceId><currentState><code>%d</code><name>%s</name>"
            "</currentState><previousState><code>%d</code><name>%s</name></previousState></item>"
            % (i.id, STATE_CODES[cur], cur, STATE_CODES[prev], prev) for i, prev, cur in rows)
        self.items = len(rows)
        return ("<%s xmlns=\"%s\"><requestId>%s</requestId><instancesSet>%s</instancesSet></%s>"
                % (root, NS, uuid.uuid4(), items, root))

    def resource_tokens(self, action, n):
        if self.w.args.rate_limits and not self.w.resource_bucket(action).take(n):
            raise ApiError("RequestLimitExceeded", "Request limit exceeded.", 503)

    def StopInstances(self, p, dry):
        insts = self.ids(p)
        for i in insts if not dry else []:
            if i.state == "pending":
                raise ApiError("IncorrectInstanceState",
                               "Instance '%s' cannot be stopped as it has never reached the "
                               "'running' state." % i.id)
            if i.state in ("shutting-down", "terminated"):
                raise ApiError("IncorrectInstanceState",
                               "This instance '%s' is not in a state from which it can be stopped."
                               % i.id)
        if dry:
            return None
        self.resource_tokens("StopInstances", len(insts))
        rows = []
        for i in insts:
            prev = i.state
            self.w.mutate(i)
            if prev == "running":
                self.w.transition(i, "stopping", "stopped")
            rows.append((i, prev, i.state))
        return self.state_change("StopInstancesResponse", insts, rows)

    def StartInstances(self, p, dry):
        insts = self.ids(p)
        for i in insts if not dry else []:
            if i.state in ("stopping", "shutting-down", "terminated"):
                raise ApiError("IncorrectInstanceState",
                               "The instance '%s' is not in a state from which it can be started."
                               % i.id)
        if dry:
            return None
        moves = self.restart_hosts(insts)
        self.resource_tokens("StartInstances", len(insts))
        rows = []
        for i in insts:
            prev = i.state
            self.w.mutate(i)
            if i.id in moves and i.host_id != moves[i.id]:
                i.host_id, i._xml = moves[i.id], None
            if prev == "stopped":
                self.w.transition(i, "pending", "running")
            rows.append((i, prev, i.state))
        return self.state_change("StartInstancesResponse", insts, rows)

    def TerminateInstances(self, p, dry):
        insts = self.ids(p)
        if dry:
            return None
        self.resource_tokens("TerminateInstances", len(insts))
        rows = []
        for i in insts:
            prev = i.state
            self.w.mutate(i)
            if prev not in ("shutting-down", "terminated"):
                self.w.transition(i, "shutting-down", "terminated")
            rows.append((i, prev, i.state))
        return self.state_change("TerminateInstancesResponse", insts, rows)

    # -- Modify* ------------------------------------------------------------
    def one(self, p):
        if "InstanceId" not in p:
            raise ApiError("MissingParameter", "The request must contain the parameter InstanceId")
        return self.get(p["InstanceId"])

    def need_stopped(self, inst, what, dry=False):
        # DryRun checks permissions and parameters, not the instance's state:
        # that is what lets nestplan check before it stops anything.
        if not dry and inst.state != "stopped":
            raise ApiError("IncorrectInstanceState",
                           "The instance '%s' is not in the 'stopped' state; %s requires it."
                           % (inst.id, what))

    def ModifyInstanceCpuOptions(self, p, dry):
        inst = self.one(p)
        cc, tpc, nv = p.get("CoreCount"), p.get("ThreadsPerCore"), p.get("NestedVirtualization")
        if (cc is None) != (tpc is None):
            raise ApiError("InvalidParameterCombination",
                           "CoreCount and ThreadsPerCore must be specified together")
        if cc is None and nv is None:
            raise ApiError("MissingParameter", "Specify CPU options to modify")
        if nv is not None and nv not in ("enabled", "disabled"):
            raise ApiError("InvalidParameterValue", "NestedVirtualization must be enabled|disabled")
        self.need_stopped(inst, "modifying CPU options", dry)
        t = self.itype(inst.type)
        cores = int(cc) if cc else inst.cores
        threads = int(tpc) if tpc else inst.threads
        if cc:
            self.check_cpu(t, cores, threads)
        if (nv or inst.nv) == "enabled":
            self.check_nv(t, inst.platform, cores, threads, inst.hibernation, inst.spot)
        if dry:
            return None
        self.w.mutate(inst)
        inst.cores, inst.threads = cores, threads
        if nv:
            inst.nv = nv
        inst._xml = None
        return ("<ModifyInstanceCpuOptionsResponse xmlns=\"%s\"><requestId>%s</requestId>"
                "<instanceId>%s</instanceId><coreCount>%d</coreCount><threadsPerCore>%d"
                "</threadsPerCore><nestedVirtualization>%s</nestedVirtualization>"
                "</ModifyInstanceCpuOptionsResponse>"
                % (NS, uuid.uuid4(), inst.id, inst.cores, inst.threads, inst.nv))

    def ModifyInstanceAttribute(self, p, dry):
        inst = self.one(p)
        attrs = [k for k in p if k.endswith(".Value") or k in ("Attribute",)]
        if "InstanceType.Value" in p:
            new = p["InstanceType.Value"]
        elif p.get("Attribute") == "instanceType" and "Value" in p:
            new = p["Value"]
        else:
            raise ApiError("InvalidParameterCombination" if attrs else "MissingParameter",
                           "Specify exactly one attribute (this simulator supports InstanceType)")
        t = self.w.catalog.get(new)
        if not t:
            raise ApiError("InvalidInstanceAttributeValue",
                           "Value (%s) for parameter instanceType is invalid." % new)
        self.need_stopped(inst, "changing the instance type", dry)
        if inst.nv == "enabled" and not self.supports_nv(t):
            raise ApiError("InvalidInstanceAttributeValue",
                           "Nested virtualization is enabled on %s and %s does not support it; "
                           "disable it first" % (inst.id, new))
        if inst.tenancy == "host" and not t.get("DedicatedHostsSupported"):
            raise ApiError("InvalidInstanceAttributeValue",
                           "%s is not supported on Dedicated Hosts" % new)
        if dry:
            return None
        self.w.mutate(inst)
        v = t["VCpuInfo"]
        inst.type = new
        # A type change puts the CPU options back to the new type's defaults.
        inst.cores = v.get("DefaultCores", v["DefaultVCpus"])
        inst.threads = v.get("DefaultThreadsPerCore", 1)
        inst.nv = "disabled"
        inst._xml = None
        return ("<ModifyInstanceAttributeResponse xmlns=\"%s\"><requestId>%s</requestId>"
                "<return>true</return></ModifyInstanceAttributeResponse>" % (NS, uuid.uuid4()))

    def ModifyInstancePlacement(self, p, dry):
        # The model gives this action no DryRun: a dry run is refused before
        # it gets here (UnknownParameter), so `dry` is always false.
        inst = self.one(p)
        tenancy, host_id, affinity = p.get("Tenancy"), p.get("HostId"), p.get("Affinity")
        moves = ("Tenancy", "HostId", "GroupName", "GroupId", "PartitionNumber",
                 "HostResourceGroupArn")
        if not any(k in p for k in moves + ("Affinity",)):
            raise ApiError("MissingParameter", "Specify affinity, host ID, tenancy or group")
        if tenancy is not None and tenancy not in ("default", "dedicated", "host"):
            raise ApiError("InvalidParameterValue", "Invalid tenancy '%s'" % tenancy)
        if affinity is not None and affinity not in ("default", "host"):
            raise ApiError("InvalidParameterValue", "Invalid affinity '%s'" % affinity)
        if host_id:
            check_id(host_id, "h", "InvalidHostId.Malformed")
        # Host ID, tenancy, placement group and partition need a stopped instance.
        if any(k in p for k in moves):
            self.need_stopped(inst, "changing the placement", dry)
        cur = inst.tenancy
        new = tenancy or ("host" if host_id else cur)
        if (cur, new) not in TENANCY_CHANGES:
            raise ApiError("InvalidRequest",
                           "The tenancy of instance '%s' cannot be changed from %s to %s"
                           % (inst.id, cur, new))
        if new == "host" and not self.itype(inst.type).get("DedicatedHostsSupported"):
            raise ApiError("InvalidParameterCombination",
                           "%s is not supported on Dedicated Hosts" % inst.type)
        if host_id and new == "host":
            # A modelled host must exist and support the type; capacity is
            # checked when the (stopped) instance starts.
            host = self.modelled_host(host_id)
            if host is None and (self.w.strict_hosts() or host_id in self.w.hosts):
                raise ApiError("InvalidHostID.NotFound", "The host ID '%s' does not exist" % host_id)
            if host is not None and inst.type not in \
                    [x["InstanceType"] for x in self.w.host_types(host)]:
                raise ApiError("IncompatibleHostRequirements",
                               "Dedicated host %s does not support instance type %s"
                               % (host.id, inst.type))
        if dry:
            return None
        self.w.mutate(inst)
        inst.tenancy = new
        if new == "host":
            # Strict: no host until it starts (auto-placement); implicit: a
            # host outside the model, as before hosts were modelled.
            inst.host_id = host_id or inst.host_id or (
                None if self.w.strict_hosts() else "h-%017x" % self.w.rng.getrandbits(68))
            inst.affinity = affinity or inst.affinity or "host"
        inst._xml = None
        return ("<ModifyInstancePlacementResponse xmlns=\"%s\"><requestId>%s</requestId>"
                "<return>true</return></ModifyInstancePlacementResponse>" % (NS, uuid.uuid4()))

    # -- Tags ---------------------------------------------------------------
    @staticmethod
    def check_tag(key):
        if not key or len(key) > 127:
            raise ApiError("InvalidParameterValue", "Tag keys must be 1 to 127 characters")
        if key.lower().startswith("aws:"):
            raise ApiError("InvalidParameterValue",
                           "Tag keys starting with 'aws:' are reserved for internal use")

    def tag_targets(self, p):
        ids = params_list(p, "ResourceId")
        if not ids:
            raise ApiError("MissingParameter", "The request must contain the parameter ResourceId")
        # Instances and Dedicated Hosts (h-…) take tags.
        return [self.host(i) if i.startswith("h-") else self.get(i) for i in ids]

    def CreateTags(self, p, dry):
        insts = self.tag_targets(p)
        tags, k = {}, 1
        while "Tag.%d.Key" % k in p:
            key = p["Tag.%d.Key" % k]
            self.check_tag(key)
            if len(p.get("Tag.%d.Value" % k, "")) > 256:
                raise ApiError("InvalidParameterValue", "Tag values are at most 256 characters")
            tags[key] = p.get("Tag.%d.Value" % k, "")
            k += 1
        if not tags:
            raise ApiError("MissingParameter", "The request must contain the parameter Tag")
        for i in insts:
            if len(set(i.tags) | set(tags)) > 50:
                raise ApiError("TagLimitExceeded", "at most 50 tags per resource")
        if dry:
            return None
        for i in insts:
            if isinstance(i, Instance):
                self.w.mutate(i)
            i.tags.update(tags)
            i._xml = None
        return ("<CreateTagsResponse xmlns=\"%s\"><requestId>%s</requestId><return>true</return>"
                "</CreateTagsResponse>" % (NS, uuid.uuid4()))

    def DeleteTags(self, p, dry):
        insts = self.tag_targets(p)
        keys, k = [], 1
        while "Tag.%d.Key" % k in p:
            keys.append((p["Tag.%d.Key" % k], p.get("Tag.%d.Value" % k)))
            k += 1
        if dry:
            return None
        for i in insts:
            if isinstance(i, Instance):
                self.w.mutate(i)
            for key, value in keys:
                if key in i.tags and (value is None or i.tags[key] == value):
                    del i.tags[key]
            i._xml = None
        return ("<DeleteTagsResponse xmlns=\"%s\"><requestId>%s</requestId><return>true</return>"
                "</DeleteTagsResponse>" % (NS, uuid.uuid4()))

    # -- Dedicated Hosts -----------------------------------------------------
    def host(self, hid):
        """The account's host, not released (a released host's id "can no
        longer be specified in another request", ReleaseHosts)."""
        check_id(hid, "h", "InvalidHostId.Malformed")
        host = self.modelled_host(hid)
        if host is None:
            raise ApiError("InvalidHostID.NotFound", "The host ID '%s' does not exist" % hid)
        return host

    @staticmethod
    def on_off(p, name, code="InvalidParameterValue"):
        v = p.get(name)
        if v is not None and v not in ON_OFF:
            raise ApiError(code, "Value (%s) for parameter %s is invalid. Expecting on or off."
                           % (v, name))
        return v

    def AllocateHosts(self, p, dry):
        fam, itype = p.get("InstanceFamily"), p.get("InstanceType")
        if fam and itype:
            raise ApiError("InvalidParameterCombination",
                           "You cannot specify InstanceFamily and InstanceType in the same request")
        if not fam and not itype:
            raise ApiError("MissingParameter",
                           "The request must contain the parameter InstanceType or InstanceFamily")
        az = p.get("AvailabilityZone")
        if not az:
            raise ApiError("MissingParameter",
                           "The request must contain the parameter AvailabilityZone")
        if not re.fullmatch(re.escape(self.w.args.region) + "[a-f]", az):
            raise ApiError("InvalidAvailabilityZone",
                           "The Availability Zone '%s' is not valid in %s" % (az, self.w.args.region))
        try:
            qty = int(p.get("Quantity", ""))
        except ValueError:
            raise ApiError("MissingParameter" if "Quantity" not in p else "InvalidParameterValue",
                           "Quantity must be a positive integer")
        if qty < 1:
            raise ApiError("InvalidParameterValue", "Quantity must be a positive integer")
        auto = self.on_off(p, "AutoPlacement", "InvalidAutoPlacement") or "off"
        recovery = self.on_off(p, "HostRecovery") or "off"
        maintenance = self.on_off(p, "HostMaintenance") or "on"
        if itype:
            t = self.w.catalog.get(itype)
            if not t:
                raise ApiError("InvalidParameterValue",
                               "The instance type '%s' does not exist" % itype)
            if not t.get("DedicatedHostsSupported"):
                raise ApiError("InvalidHostConfiguration",
                               "The instance type '%s' is not supported." % itype)
            family = itype.split(".")[0]
        else:
            family = fam
            if not any(t.get("DedicatedHostsSupported") for t in self.w.family_types(fam)):
                raise ApiError("InvalidHostConfiguration",
                               "The instance family '%s' is not supported." % fam)
        tags, i = {}, 1
        while "TagSpecification.%d.ResourceType" % i in p:
            rt = p["TagSpecification.%d.ResourceType" % i]
            if rt != "dedicated-host":
                raise ApiError("InvalidParameterValue",
                               "'%s' is not a valid taggable resource type for this operation."
                               % rt)
            k = 1
            while "TagSpecification.%d.Tag.%d.Key" % (i, k) in p:
                key = p["TagSpecification.%d.Tag.%d.Key" % (i, k)]
                self.check_tag(key)
                tags[key] = p.get("TagSpecification.%d.Tag.%d.Value" % (i, k), "")
                k += 1
            i += 1
        if len(tags) > 50:
            raise ApiError("TagLimitExceeded", "at most 50 tags per resource")
        token = p.get("ClientToken")
        if token is not None and (len(token) > 64 or not token.isascii()):
            raise ApiError("InvalidParameterValue",
                           "Value (%s) for parameter clientToken is invalid: at most 64 ASCII "
                           "characters" % token)
        fp = fingerprint(p, ("ClientToken", "Action", "Version"))
        key = (self.w.account, token)
        if token and key in self.w.host_tokens:
            old_fp, ids = self.w.host_tokens[key]
            if old_fp != fp:
                raise ApiError("IdempotentParameterMismatch",
                               "The client token '%s' was used with different parameters" % token)
        else:
            hw = self.w.host_hardware(family)
            ids = []
            for _ in range(qty):
                h = Host("h-%017x" % self.w.rng.getrandbits(68), self.w.account, az,
                         family, itype, hw)
                h.auto, h.recovery, h.maintenance = auto, recovery, maintenance
                h.tags, h.token = dict(tags), token
                self.w.hosts[h.id] = h
                self.w.host_order.append(h.id)
                ids.append(h.id)
            if token:
                self.w.host_tokens[key] = (fp, ids)
        self.items = len(ids)
        return ("<AllocateHostsResponse xmlns=\"%s\"><requestId>%s</requestId><hostIdSet>%s"
                "</hostIdSet></AllocateHostsResponse>"
                % (NS, uuid.uuid4(), "".join("<item>%s</item>" % h for h in ids)))

    def host_matches(self, h, filters):
        for name, values in filters:
            if name == "auto-placement":
                ok = any(glob_match(v, h.auto) for v in values)
            elif name == "availability-zone":
                ok = any(glob_match(v, h.az) for v in values)
            elif name == "client-token":
                ok = any(glob_match(v, h.token) for v in values)
            elif name == "host-reservation-id":
                ok = False  # the simulator has no reservations
            elif name == "instance-type":
                ok = any(glob_match(v, h.itype) for v in values)
            elif name == "state":
                ok = any(glob_match(v, h.state) for v in values)
            elif name == "tag-key":
                ok = any(glob_match(v, k) for v in values for k in h.tags)
            elif name.startswith("tag:"):
                ok = name[4:] in h.tags and any(glob_match(v, h.tags[name[4:]]) for v in values)
            else:
                raise ApiError("InvalidParameterValue", "The filter '%s' is invalid" % name)
            if not ok:
                return False
        return True

    def host_xml(self, h):
        tags = "".join("<item><key>%s</key><value>%s</value></item>" % (escape(k), escape(v))
                       for k, v in h.tags.items())
        insts = self.w.host_instances(h)
        cap = "".join("<item><availableCapacity>%d</availableCapacity><instanceType>%s"
                      "</instanceType><totalCapacity>%d</totalCapacity></item>" % (a, t, n)
                      for t, a, n in self.w.host_capacity(h))
        vcpus = max(0, self.w.host_free(h)[1]) if h.state == "available" else 0
        return "".join([
            "<item><hostId>%s</hostId><autoPlacement>%s</autoPlacement>" % (h.id, h.auto),
            "<hostRecovery>%s</hostRecovery><hostMaintenance>%s</hostMaintenance>"
            % (h.recovery, h.maintenance),
            "<availabilityZone>%s</availabilityZone>" % h.az,
            "<availableCapacity><availableInstanceCapacity>%s</availableInstanceCapacity>"
            "<availableVCpus>%d</availableVCpus></availableCapacity>" % (cap, vcpus),
            "<clientToken>%s</clientToken>" % escape(h.token) if h.token else "",
            "<hostProperties><cores>%d</cores>%s<instanceFamily>%s</instanceFamily>"
            "<sockets>%d</sockets><totalVCpus>%d</totalVCpus></hostProperties>"
            % (h.cores, "<instanceType>%s</instanceType>" % h.itype if h.itype else "",
               h.family, h.sockets, h.vcpus),
            "<instances>%s</instances>" % "".join(
                "<item><instanceId>%s</instanceId><instanceType>%s</instanceType>"
                "<ownerId>%s</ownerId></item>" % (i.id, i.type, i.account) for i in insts),
            "<state>%s</state><allocationTime>%s</allocationTime>" % (h.state, h.allocation_time),
            "<releaseTime>%s</releaseTime>" % h.release_time if h.release_time else "",
            "<tagSet>%s</tagSet>" % tags,
            "<allowsMultipleInstanceTypes>%s</allowsMultipleInstanceTypes>"
            % ("off" if h.itype else "on"),
            "<ownerId>%s</ownerId><memberOfServiceLinkedResourceGroup>false"
            "</memberOfServiceLinkedResourceGroup></item>" % h.account])

    def DescribeHosts(self, p, dry):
        ids = params_list(p, "HostId")
        filters = parse_filters(p)
        mr = p.get("MaxResults")
        if mr is not None and ids:
            raise ApiError("InvalidParameterCombination",
                           "The parameter hostIdSet cannot be used with the parameter maxResults")
        if mr is not None:
            try:
                mr = int(mr)
            except ValueError:
                raise ApiError("InvalidParameterValue", "MaxResults must be an integer")
            if not 5 <= mr <= 500:
                raise ApiError("InvalidParameterValue",
                               "Value (%d) for parameter maxResults is invalid. Expecting a value "
                               "between 5 and 500." % mr)
        for f, values in filters:
            if len(values) > 200:
                raise ApiError("InvalidParameterValue",
                               "The filter '%s' has more than 200 values" % f)
        t = time.monotonic()
        fp = fingerprint(dict(p, _account=self.w.account))
        start = self.w.read_token(p["NextToken"], "hosts", fp) if p.get("NextToken") else 0
        next_token, out = None, []
        if ids:
            for hid in ids:
                check_id(hid, "h", "InvalidHostId.Malformed")
                h = self.w.hosts.get(hid)
                if not h or h.account != self.w.account or self.w.host_gone(h, t):
                    raise ApiError("InvalidHostID.NotFound",
                                   "The host ID '%s' does not exist" % hid)
                if self.host_matches(h, filters):
                    out.append(h)
        else:
            # A token is a position in allocation order, as for instances.
            pos = start
            while pos < len(self.w.host_order):
                h = self.w.hosts[self.w.host_order[pos]]
                if h.account == self.w.account and not self.w.host_gone(h, t) \
                        and self.host_matches(h, filters):
                    if mr is not None and len(out) == mr:
                        next_token = self.w.make_token("hosts", pos, fp)
                        break
                    out.append(h)
                pos += 1
        self.items = len(out)
        return ("<DescribeHostsResponse xmlns=\"%s\"><requestId>%s</requestId><hostSet>%s"
                "</hostSet>%s</DescribeHostsResponse>"
                % (NS, uuid.uuid4(), "".join(self.host_xml(h) for h in out),
                   "<nextToken>%s</nextToken>" % next_token if next_token else ""))

    @staticmethod
    def batch_xml(root, ok, failed):
        """successful / unsuccessful, per host, inside an HTTP 200."""
        return ("<%s xmlns=\"%s\"><requestId>%s</requestId><unsuccessful>%s</unsuccessful>"
                "<successful>%s</successful></%s>"
                % (root, NS, uuid.uuid4(), "".join(
                    "<item><error><code>%s</code><message>%s</message></error>"
                    "<resourceId>%s</resourceId></item>" % (c, escape(m), escape(r))
                    for r, c, m in failed), "".join("<item>%s</item>" % h for h in ok), root))

    def host_ids(self, p):
        ids = params_list(p, "HostId")
        if not ids:
            raise ApiError("MissingParameter", "The request must contain the parameter HostId")
        for hid in ids:
            check_id(hid, "h", "InvalidHostId.Malformed")
        return ids

    def ModifyHosts(self, p, dry):
        ids = self.host_ids(p)
        itype, fam = p.get("InstanceType"), p.get("InstanceFamily")
        if itype and fam:
            raise ApiError("InvalidParameterCombination",
                           "You cannot specify InstanceFamily and InstanceType in the same request")
        auto = self.on_off(p, "AutoPlacement", "InvalidAutoPlacement")
        recovery = self.on_off(p, "HostRecovery")
        maintenance = self.on_off(p, "HostMaintenance")
        if not (auto or recovery or maintenance or itype or fam):
            raise ApiError("MissingParameter", "Specify AutoPlacement, HostRecovery, "
                           "HostMaintenance, InstanceType or InstanceFamily")
        ok, failed = [], []
        for hid in ids:
            h = self.modelled_host(hid)
            if h is None:
                failed.append((hid, "Client.InvalidHostID.NotFound",
                               "The host ID '%s' does not exist" % hid))
                continue
            if h.state != "available":
                failed.append((hid, "Client.InvalidHostState",
                               "Dedicated host %s is %s; it must be available" % (hid, h.state)))
                continue
            running = self.w.host_instances(h)
            if fam:
                if fam != h.family:
                    failed.append((hid, "Client.InvalidInstanceFamily",
                                   "Dedicated host %s supports the %s family; its family cannot "
                                   "be changed" % (hid, h.family)))
                    continue
                if h.itype and running:
                    failed.append((hid, "Client.InvalidHost.Occupied",
                                   "Dedicated host '%s' must have no running instances to support "
                                   "multiple instance types" % hid))
                    continue
            if itype:
                t = self.w.catalog.get(itype)
                if not t or itype.split(".")[0] != h.family or not t.get("DedicatedHostsSupported"):
                    failed.append((hid, "Client.InvalidHostConfiguration",
                                   "Dedicated host %s (%s family) cannot support instance type %s"
                                   % (hid, h.family, itype)))
                    continue
                if any(i.type != itype for i in running):
                    failed.append((hid, "Client.InvalidHost.Occupied",
                                   "Dedicated host '%s' runs instances of other types than %s"
                                   % (hid, itype)))
                    continue
            if auto:
                h.auto = auto
            if recovery:
                h.recovery = recovery
            if maintenance:
                h.maintenance = maintenance
            if fam:
                h.itype = None
            if itype:
                h.itype = itype
            ok.append(hid)
        self.items = len(ids)
        return self.batch_xml("ModifyHostsResponse", ok, failed)

    def ReleaseHosts(self, p, dry):
        ids = self.host_ids(p)
        ok, failed = [], []
        for hid in ids:
            h = self.modelled_host(hid)
            if h is None:
                failed.append((hid, "Client.InvalidHostID.NotFound",
                               "The host ID '%s' does not exist" % hid))
            elif self.w.host_instances(h):
                failed.append((hid, "Client.InvalidHost.Occupied",
                               "Dedicated host '%s' cannot be released as it is occupied" % hid))
            else:
                h.state, h.release_time, h.released_at = "released", now_iso(), time.monotonic()
                ok.append(hid)
        self.items = len(ids)
        return self.batch_xml("ReleaseHostsResponse", ok, failed)

    # -- DescribeInstanceTypes ---------------------------------------------
    def type_xml(self, t):
        v, pi = t["VCpuInfo"], t.get("ProcessorInfo", {})
        items = lambda xs: "".join("<item>%s</item>" % x for x in xs)  # noqa: E731
        return ("<item><instanceType>%s</instanceType><bareMetal>%s</bareMetal>"
                "<hypervisor>%s</hypervisor><processorInfo><supportedArchitectures>%s"
                "</supportedArchitectures><supportedFeatures>%s</supportedFeatures>"
                "</processorInfo><vCpuInfo><defaultVCpus>%d</defaultVCpus><defaultCores>%d"
                "</defaultCores><defaultThreadsPerCore>%d</defaultThreadsPerCore><validCores>%s"
                "</validCores><validThreadsPerCore>%s</validThreadsPerCore></vCpuInfo>"
                "<memoryInfo><sizeInMiB>%d</sizeInMiB></memoryInfo>"
                "<hibernationSupported>%s</hibernationSupported><dedicatedHostsSupported>%s"
                "</dedicatedHostsSupported><supportedUsageClasses>%s</supportedUsageClasses></item>"
                % (t["InstanceType"], str(t.get("BareMetal", False)).lower(),
                   t.get("Hypervisor", "nitro"), items(pi.get("SupportedArchitectures", [])),
                   items(pi.get("SupportedFeatures", [])), v["DefaultVCpus"],
                   v.get("DefaultCores", v["DefaultVCpus"]), v.get("DefaultThreadsPerCore", 1),
                   items(v.get("ValidCores", [])), items(v.get("ValidThreadsPerCore", [])),
                   t.get("MemoryInfo", {}).get("SizeInMiB", 0),
                   str(t.get("HibernationSupported", False)).lower(),
                   str(t.get("DedicatedHostsSupported", False)).lower(),
                   items(t.get("SupportedUsageClasses", []))))

    def DescribeInstanceTypes(self, p, dry):
        names = params_list(p, "InstanceType")
        if len(names) > 100:
            raise ApiError("InvalidParameterValue", "At most 100 instance types per call")
        unknown = [n for n in names if n not in self.w.catalog]
        if unknown:
            raise ApiError("InvalidInstanceType",
                           "The following supplied instance types do not exist: [%s]"
                           % ", ".join(unknown))
        mr = int(p.get("MaxResults", "100"))
        if not 5 <= mr <= 100:
            raise ApiError("InvalidParameterValue", "MaxResults must be between 5 and 100")
        if dry:
            return None
        types = [self.w.catalog[n] for n in names] if names else \
            [self.w.catalog[k] for k in sorted(self.w.catalog)]
        for name, values in parse_filters(p):
            if name == "processor-info.supported-features":
                types = [t for t in types
                         if set(values) & set(t.get("ProcessorInfo", {}).get("SupportedFeatures", []))]
            elif name == "instance-type":
                types = [t for t in types if any(glob_match(v, t["InstanceType"]) for v in values)]
            elif name == "bare-metal":
                types = [t for t in types if str(t.get("BareMetal", False)).lower() in values]
            elif name == "hibernation-supported":
                types = [t for t in types
                         if str(t.get("HibernationSupported", False)).lower() in values]
            else:
                raise ApiError("InvalidParameterValue", "The filter '%s' is invalid" % name)
        start = 0
        fp = fingerprint(dict(p, _account=self.w.account))
        if p.get("NextToken"):
            start = self.w.read_token(p["NextToken"], "types", fp)
        page = types[start:start + mr]
        self.items = len(page)
        nxt = self.w.make_token("types", start + mr, fp) if start + mr < len(types) else None
        return ("<DescribeInstanceTypesResponse xmlns=\"%s\"><requestId>%s</requestId>"
                "<instanceTypeSet>%s</instanceTypeSet>%s</DescribeInstanceTypesResponse>"
                % (NS, uuid.uuid4(), "".join(self.type_xml(t) for t in page),
                   "<nextToken>%s</nextToken>" % nxt if nxt else ""))


ACTIONS = ("RunInstances", "DescribeInstances", "StopInstances", "StartInstances",
           "TerminateInstances", "ModifyInstanceCpuOptions", "ModifyInstanceAttribute",
           "ModifyInstancePlacement", "CreateTags", "DeleteTags", "DescribeInstanceTypes",
           "AllocateHosts", "DescribeHosts", "ModifyHosts", "ReleaseHosts")
# Every action needs its row of parameters (regenerate with gen_params.py).
assert all(a in PARAMS for a in ACTIONS), "ec2_params.json lacks an action: run gen_params.py"


def request_bucket(action, params):
    if action in MUTATING:
        return "mutating"
    if action == "DescribeInstances" and not any(k.startswith(("Filter.", "InstanceId.", "MaxResults"))
                                                  for k in params):
        return "unfiltered"
    return "non-mutating"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonEC2"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    # -- plumbing -----------------------------------------------------------
    def send(self, status, body, ctype="text/xml;charset=UTF-8"):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_error_doc(self, e):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>%s</Code>"
                "<Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>"
                % (e.code, escape(e.message), uuid.uuid4()))
        self.send(e.status, body)

    def drop(self):
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # -- control API --------------------------------------------------------
    def control(self, method, path, body):
        w = self.server.world
        with w.lock:
            if method == "GET" and path == "/_sim/stats":
                return {"calls": dict(w.calls), "throttled": dict(w.throttled),
                        "instances": len(w.instances), "hosts": len(w.hosts),
                        "latency_model": w.latency_model()}
            if method == "GET" and path == "/_sim/latency_model":
                return w.latency_model()
            if method == "GET" and path == "/_sim/hosts":
                return {"hosts": [w.hosts[h].to_json(w) for h in w.host_order]}
            if method == "GET" and path == "/_sim/instances":
                for i in w.instances.values():
                    w.settle(i)
                return {"instances": [w.instances[i].to_json() for i in w.order]}
            if method == "GET" and path == "/_sim/calls":
                return {"calls": list(w.call_log)}
            if method == "GET" and path == "/_sim/requests":
                return {"requests": list(w.requests)}
            if path == "/_sim/account":
                if method == "POST":
                    acct = json.loads(body or b"{}").get("account_id")
                    if not isinstance(acct, str) or not re.fullmatch(r"[0-9]{12}", acct):
                        raise ValueError("account_id must be 12 digits")
                    w.account = acct
                return {"account_id": w.account}
            if method == "POST" and path == "/_sim/reset":
                w.reset()
                return {"ok": True}
            if method == "POST" and path == "/_sim/faults":
                req = json.loads(body or b"{}")
                if "rate_limits" in req:
                    # On or off at run time; either way the buckets start full.
                    w.args.rate_limits = bool(req.pop("rate_limits"))
                    w.fill_buckets()
                for k, v in req.items():
                    if k not in w.faults:
                        raise ValueError("unknown fault '%s'" % k)
                    if k == "action_errors":
                        v = check_action_errors(v)
                    if k == "latency_model" and v not in ("none", "aws"):
                        raise ValueError("latency_model must be none or aws")
                    if k == "host_placement" and v not in ("implicit", "strict"):
                        raise ValueError("host_placement must be implicit or strict")
                    if k in ("latency_base_ms", "latency_per_item_ms", "latency_jitter") and (
                            not isinstance(v, (int, float)) or v < 0):
                        raise ValueError("%s must be a number >= 0" % k)
                    w.faults[k] = v
                w.nth = {}
                return {"faults": w.faults}
            m = re.fullmatch(r"/_sim/hosts/(h-[0-9a-f]+)", path)
            if method == "POST" and m:
                h = w.hosts.get(m.group(1))
                if not h:
                    raise KeyError(m.group(1))
                req = json.loads(body or b"{}")
                for k, v in req.items():
                    if k == "state":
                        # e.g. under-assessment or permanent-failure, out of band
                        if v not in ("available", "under-assessment", "permanent-failure",
                                     "released", "released-permanent-failure", "pending"):
                            raise ValueError("unknown host state '%s'" % v)
                        h.state = v
                        if v.startswith("released"):
                            h.release_time, h.released_at = now_iso(), time.monotonic()
                    elif k in ("auto_placement", "host_recovery") and v in ON_OFF:
                        setattr(h, "auto" if k == "auto_placement" else "recovery", v)
                    elif k == "tags":
                        h.tags = dict(v)
                    else:
                        raise ValueError("unknown field or value '%s'" % k)
                return h.to_json(w)
            m = re.fullmatch(r"/_sim/instances/(i-[0-9a-f]+)", path)
            if method == "POST" and m:
                inst = w.instances.get(m.group(1))
                if not inst:
                    raise KeyError(m.group(1))
                w.settle(inst)
                req = json.loads(body or b"{}")
                field = {"instance_type": "type", "tenancy": "tenancy", "core_count": "cores",
                         "threads_per_core": "threads", "nested_virtualization": "nv",
                         "platform": "platform", "host_id": "host_id", "spot": "spot",
                         "account_id": "account", "affinity": "affinity"}
                for k, v in req.items():
                    if k == "state":
                        if v not in STATE_CODES:
                            raise ValueError("unknown state '%s'" % v)
                        inst.state, inst.next_state = v, None
                        inst.terminated_at = time.monotonic() if v == "terminated" else None
                    elif k == "tags":
                        inst.tags = dict(v)
                    elif k in field:
                        setattr(inst, field[k], v)
                    else:
                        raise ValueError("unknown field '%s'" % k)
                inst._xml, inst.stale = None, None
                return inst.to_json()
        raise KeyError(path)

    def handle_control(self, method):
        path = urllib.parse.urlsplit(self.path).path
        body = self.read_body() if method == "POST" else b""
        try:
            out = self.control(method, path, body)
            self.send(200, json.dumps(out), "application/json")
        except KeyError as e:
            self.send(404, json.dumps({"error": "not found: %s" % e}), "application/json")
        except (ValueError, TypeError) as e:
            self.send(400, json.dumps({"error": str(e)}), "application/json")

    # -- the EC2 API ----------------------------------------------------------
    def authenticate(self, method, path, query, body):
        w = self.server.world
        auth = self.headers.get("Authorization")
        if not auth:
            raise ApiError("AuthFailure", "AWS was not able to validate the provided access "
                                          "credentials (no Authorization header)", 401)
        parsed = sigv4.parse_authorization(auth)
        if not parsed:
            raise ApiError("AuthFailure", "Malformed Authorization header", 401)
        cred = parsed["Credential"].split("/")
        if len(cred) != 5 or cred[4] != "aws4_request":
            raise ApiError("AuthFailure", "Malformed credential scope", 401)
        akid, date, region, service = cred[:4]
        if akid != w.args.access_key:
            raise ApiError("AuthFailure", "AWS was not able to validate the provided access "
                                          "credentials", 401)
        if region != w.args.region or service != "ec2":
            raise ApiError("AuthFailure", "Credential should be scoped to a valid region "
                                          "('%s') and service 'ec2'" % w.args.region, 401)
        amz_date = self.headers.get("X-Amz-Date", "")
        try:
            t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise ApiError("AuthFailure", "Missing or malformed X-Amz-Date", 401)
        skew = abs((datetime.datetime.utcnow() - t).total_seconds())
        if skew > MAX_SKEW or amz_date[:8] != date:
            raise ApiError("RequestExpired", "Request has expired (X-Amz-Date %s)" % amz_date)
        signed = parsed["SignedHeaders"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            raise ApiError("AuthFailure", "host and x-amz-date must be signed", 401)
        if self.headers.get("X-Amz-Security-Token") and "x-amz-security-token" not in signed:
            raise ApiError("AuthFailure", "x-amz-security-token must be signed", 401)
        headers = {k.lower(): v for k, v in self.headers.items()}
        expect = sigv4.signature(method, path, query, headers, signed, body, amz_date,
                                 "/".join(cred[1:]), w.args.secret_key)
        if expect != parsed["Signature"]:
            raise ApiError("AuthFailure", "AWS was not able to validate the provided access "
                                          "credentials (signature mismatch)", 401)

    def faults_before(self, action):
        """Returns 'lose' when the answer is to be dropped after the call."""
        w = self.server.world
        with w.lock:
            f = dict(w.faults)
            w.nth[action] = w.nth.get(action, 0) + 1
            nth = w.nth[action]
            r_reset, r_throttle, r_error = w.rng.random(), w.rng.random(), w.rng.random()
        if f["latency_ms"]:
            time.sleep(f["latency_ms"] / 1000.0)
        stall = f.get("stall")
        if stall and stall.get("action") == action and int(stall.get("nth", 1)) == nth:
            time.sleep(float(stall.get("seconds", 30)))
        if r_reset < f["reset_rate"]:
            raise DropConnection()
        if r_throttle < f["throttle_rate"]:
            raise ApiError("RequestLimitExceeded", "Request limit exceeded.", 503)
        if r_error < f["error_rate"]:
            raise ApiError("InternalError", "An internal error has occurred", 500)
        lose = f.get("lose_response")
        return bool(lose and lose.get("action") == action and int(lose.get("nth", 1)) == nth)

    def action_error(self, action, dry):
        """The configured fault for this action and kind of call, if it fires."""
        w = self.server.world
        with w.lock:
            spec = w.faults["action_errors"].get(action)
            if not spec or bool(spec.get("dry_run", False)) != dry:
                return
            if spec.get("count") is not None:
                if spec["count"] <= 0:
                    return
                spec["count"] -= 1
        status = int(spec.get("status", 500))
        code = spec.get("code", "InternalError")
        message = spec.get("message", "An internal error has occurred")
        if spec.get("html"):
            raise HtmlAnswer(status, "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>"
                                     "<body><h1>%s</h1><p>%s</p></body></html>\n"
                             % (status, escape(code), escape(code), escape(message)))
        raise ApiError(code, message, status)

    def model_wait(self, items):
        """The latency model's time for this answer, slept outside the lock so
        that concurrent requests overlap as they do on EC2."""
        w = self.server.world
        with w.lock:
            delay = w.model_delay(items)
        if delay > 0:
            time.sleep(delay)
        self.latency_s = delay

    def handle_api(self, method):
        w = self.server.world
        split = urllib.parse.urlsplit(self.path)
        body = self.read_body() if method == "POST" else b""
        action, status, dry, ids = "?", 200, False, []
        self.latency_s = 0.0
        form = body.decode("utf-8", "replace") if method == "POST" else split.query
        params = dict(urllib.parse.parse_qsl(form, keep_blank_values=True))
        try:
            try:
                self.authenticate(method, split.path, split.query, body)
                action = params.get("Action", "?")
                dry = params.get("DryRun") == "true"
                ids = params_list(params, "InstanceId") or params_list(params, "ResourceId") or \
                    ([params["InstanceId"]] if "InstanceId" in params else [])
                if action not in ACTIONS:
                    raise ApiError("InvalidAction",
                                   "The action %s is not valid for this web service." % action)
                if params.get("Version") != "2016-11-15":
                    raise ApiError("InvalidParameterValue" if "Version" in params
                                   else "MissingParameter", "Version must be 2016-11-15")
                unknown = unknown_params(action, params)
                if unknown:
                    raise ApiError("UnknownParameter",
                                   "The parameter %s is not recognized" % unknown[0])
                with w.lock:
                    w.calls[action] = w.calls.get(action, 0) + 1
                lose = self.faults_before(action)
                self.action_error(action, dry)
                with w.lock:
                    if action in w.faults["deny_actions"]:
                        raise ApiError("UnauthorizedOperation",
                                       "You are not authorized to perform this operation. "
                                       "Encoded authorization failure message: %s"
                                       % base64.b64encode(action.encode()).decode(), 403)
                    if w.args.rate_limits and not w.request_bucket(action, params).take():
                        raise ApiError("RequestLimitExceeded", "Request limit exceeded.", 503)
                    ec2 = Ec2(w)
                    out = getattr(ec2, action)(params, dry)
                    items = ec2.items
                if dry:
                    raise ApiError("DryRunOperation",
                                   "Request would have succeeded, but DryRun flag is set.", 412)
                if lose:
                    raise DropConnection()
                self.model_wait(items)
                self.send(200, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + out)
            except ApiError as e:
                status = e.status
                if e.code == "RequestLimitExceeded":
                    with w.lock:
                        w.throttled[action] = w.throttled.get(action, 0) + 1
                self.model_wait(0)
                self.send_error_doc(e)
            except HtmlAnswer as e:
                status = e.status
                self.send(e.status, e.body, "text/html; charset=utf-8")
        except DropConnection:
            status = 0
            self.drop()
        with w.lock:
            w.call_log.append({"action": action, "instance_ids": ids, "dry_run": dry,
                               "status": status,
                               "count": int(params.get("MaxCount") or 0)
                               if action == "RunInstances" else len(ids)})
            w.requests.append({"action": params.get("Action"), "params": params,
                               "status": status, "account_id": w.account,
                               "latency_ms": round(self.latency_s * 1000.0, 3)})

    def do_POST(self):
        if self.path.startswith("/_sim/"):
            return self.handle_control("POST")
        return self.handle_api("POST")

    def do_GET(self):
        if self.path.startswith("/_sim/"):
            return self.handle_control("GET")
        return self.handle_api("GET")


def check_action_errors(v):
    """{"ACTION": {"code", "status", "dry_run", "message", "count", "html"}}"""
    if not isinstance(v, dict):
        raise ValueError("action_errors must be an object")
    out = {}
    for action, spec in v.items():
        if not isinstance(spec, dict) or set(spec) - ACTION_ERROR_KEYS:
            raise ValueError("action_errors.%s: an object with keys %s"
                             % (action, ", ".join(sorted(ACTION_ERROR_KEYS))))
        status = spec.get("status", 500)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError("action_errors.%s.status must be 400 to 599" % action)
        count = spec.get("count")
        if count is not None and (not isinstance(count, int) or count < 0):
            raise ValueError("action_errors.%s.count must be a count" % action)
        out[action] = dict(spec)
    return out


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main(argv=None):
    ap = argparse.ArgumentParser(description="A strict local EC2 Query API simulator.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--transition-seconds", type=float, default=0.5)
    ap.add_argument("--throttle-rate", type=float, default=0.0)
    ap.add_argument("--error-rate", type=float, default=0.0)
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--access-key", default="AKIDNESTPLANSIM")
    ap.add_argument("--secret-key", default="nestplan-sim-secret")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--rate-limits", action="store_true",
                    help="apply EC2's documented request and resource token buckets")
    ap.add_argument("--stale-ms", type=int, default=0,
                    help="after a write, Describe shows the old instance for up to N ms")
    ap.add_argument("--terminated-ttl", type=float, default=3600.0,
                    help="seconds a terminated instance stays in Describe")
    ap.add_argument("--next-token-ttl", type=float, default=86400.0,
                    help="seconds a NextToken stays valid")
    ap.add_argument("--account-id", default=DEFAULT_ACCOUNT,
                    help="the account the simulator answers as at start")
    ap.add_argument("--latency-model", choices=("none", "aws"), default="none",
                    help="aws: every answer takes base + per item + seeded jitter")
    ap.add_argument("--latency-base-ms", type=float, default=LATENCY_DEFAULTS["base_ms"])
    ap.add_argument("--latency-per-item-ms", type=float, default=LATENCY_DEFAULTS["per_item_ms"])
    ap.add_argument("--latency-jitter", type=float, default=LATENCY_DEFAULTS["jitter"],
                    help="answers take (1 +- jitter) times the model's time")
    ap.add_argument("--released-host-ttl", type=float, default=3600.0,
                    help="seconds a released Dedicated Host stays in DescribeHosts")
    ap.add_argument("--host-placement", choices=("implicit", "strict"), default="implicit",
                    help="strict: host tenancy needs an allocated Dedicated Host")
    args = ap.parse_args(argv)
    if not re.fullmatch(r"[0-9]{12}", args.account_id):
        ap.error("--account-id must be 12 digits")
    if min(args.latency_base_ms, args.latency_per_item_ms, args.latency_jitter) < 0:
        ap.error("--latency-* must be >= 0")
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
