#!/usr/bin/env python3
"""A strict local stand-in for the EC2 Query API (2016-11-15), standard
library only. See README.md beside this file."""
import argparse
import base64
import datetime
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
            "CreateTags", "DeleteTags"}
# Images the simulator treats as Windows (real EC2 knows from the AMI).
WINDOWS_AMI_PREFIXES = ("ami-0fedcba", "ami-0ffff")
WINDOWS_NV_MAX_VCPUS = 192
MAX_SKEW = 300

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
                 "launch_index", "spot", "visible_at", "_xml")

    def to_json(self):
        return {"instance_id": self.id, "state": self.state, "instance_type": self.type,
                "tenancy": self.tenancy, "core_count": self.cores,
                "threads_per_core": self.threads, "nested_virtualization": self.nv,
                "platform": self.platform, "host_id": self.host_id, "image_id": self.image_id,
                "hibernation": self.hibernation, "spot": self.spot, "tags": dict(self.tags),
                "launch_index": self.launch_index}


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
            self.calls = {}
            self.throttled = {}
            self.call_log = []
            self.nth = {}
            self.faults = {"throttle_rate": self.args.throttle_rate,
                           "error_rate": self.args.error_rate, "reset_rate": 0.0,
                           "latency_ms": self.args.latency_ms, "invisible_ms": 0,
                           "deny_actions": [], "stall": None, "lose_response": None,
                           "capacity": None}
            self.fill_buckets()
            self.rng = random.Random(self.args.seed)

    def fill_buckets(self):
        self.buckets = {}
        self.resource_buckets = {k: Bucket(*v) for k, v in RESOURCE_BUCKETS.items()}

    def request_bucket(self, action, params):
        """The bucket of this API (and of its unfiltered form): EC2 evaluates
        each API on its own."""
        cat = request_bucket(action, params)
        key = action + ("/unfiltered" if cat == "unfiltered" else "")
        if key not in self.buckets:
            self.buckets[key] = Bucket(*REQUEST_BUCKETS[cat])
        return self.buckets[key]

    # -- time ---------------------------------------------------------------
    def settle(self, inst, t=None):
        t = time.monotonic() if t is None else t
        if inst.next_state and t >= inst.due:
            inst.state, inst.next_state = inst.next_state, None
            inst._xml = None

    def transition(self, inst, now_state, then_state):
        inst.state, inst.next_state = now_state, then_state
        inst.due = time.monotonic() + self.args.transition_seconds
        inst._xml = None
        if self.args.transition_seconds <= 0:
            self.settle(inst)

    # -- rendering ----------------------------------------------------------
    def item_xml(self, inst):
        if inst._xml is not None:
            return inst._xml
        tags = "".join("<item><key>%s</key><value>%s</value></item>" % (escape(k), escape(v))
                       for k, v in inst.tags.items())
        sgs = "".join("<item><groupId>%s</groupId><groupName>%s</groupName></item>" % (g, g)
                      for g in inst.sgs)
        host = ("<hostId>%s</hostId><affinity>host</affinity>" % inst.host_id
                if inst.tenancy == "host" and inst.host_id else "")
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


def glob_match(pattern, value):
    rx = "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"
    return re.match(rx, value) is not None


def check_id(value, prefix, code):
    if not re.fullmatch(prefix + r"-[0-9a-f]{8,17}", value or ""):
        raise ApiError(code, "Invalid id: \"%s\"" % value)


class Ec2:
    """The operations, each checking what EC2 checks. Called with the lock held."""

    def __init__(self, world):
        self.w = world

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
        check_id(iid, "i", "InvalidInstanceID.Malformed")
        inst = self.w.instances.get(iid)
        if not inst:
            raise ApiError("InvalidInstanceID.NotFound",
                           "The instance ID '%s' does not exist" % iid)
        self.w.settle(inst)
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
        if token and len(token) > 64:
            raise ApiError("InvalidParameterValue", "ClientToken is longer than 64 characters")
        fingerprint = json.dumps({k: v for k, v in sorted(p.items())
                                  if k not in ("ClientToken", "DryRun", "Action", "Version")})
        if dry:
            return None
        if token and token in self.w.tokens:
            fp, reservation, ids = self.w.tokens[token]
            if fp != fingerprint:
                raise ApiError("IdempotentParameterMismatch",
                               "The client token '%s' was used with different parameters" % token)
            return self.reservation_xml("RunInstancesResponse", reservation,
                                        [self.w.instances[i] for i in ids])
        if self.w.args.rate_limits and not self.w.resource_buckets["RunInstances"].take(hi):
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
            inst.tenancy, inst.host_id = tenancy, host_id or (
                "h-%017x" % self.w.rng.getrandbits(68) if tenancy == "host" else None)
            inst.az = p.get("Placement.AvailabilityZone", self.w.args.region + "a")
            inst.hibernation, inst.spot = hib, spot
            inst.tags, inst.token = dict(tags), token or str(uuid.uuid4())
            inst.launch_time, inst.launch_index = now_iso(), n
            inst.visible_at, inst._xml, inst.next_state, inst.due = visible_at, None, None, 0
            self.w.transition(inst, "pending", "running")
            self.w.instances[inst.id] = inst
            self.w.order.append(inst.id)
            made.append(inst)
        if token:
            self.w.tokens[token] = (fingerprint, reservation, [i.id for i in made])
        return self.reservation_xml("RunInstancesResponse", reservation, made)

    def reservation_xml(self, root, reservation, insts):
        return ("<%s xmlns=\"%s\"><requestId>%s</requestId><reservationId>%s</reservationId>"
                "<ownerId>123456789012</ownerId><groupSet/><instancesSet>%s</instancesSet></%s>"
                % (root, NS, uuid.uuid4(), reservation,
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
        token = p.get("NextToken")
        if token:
            try:
                start = int(base64.b64decode(token).decode().split(":")[1])
            except Exception:
                raise ApiError("InvalidParameterValue", "Invalid NextToken")
        next_token = None
        if ids:
            insts = [self.get(i) for i in ids]
            for inst in insts:
                if inst.visible_at > t:
                    raise ApiError("InvalidInstanceID.NotFound",
                                   "The instance ID '%s' does not exist" % inst.id)
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
            while pos < len(cand):
                inst = self.w.instances[cand[pos]]
                self.w.settle(inst, t)
                if inst.visible_at <= t and self.matches(inst, filters):
                    if mr is not None and len(insts) == mr:
                        next_token = base64.b64encode(("page:%d" % pos).encode()).decode()
                        break
                    insts.append(inst)
                pos += 1
        # one reservation element per reservation id, in order
        groups = {}
        for inst in insts:
            groups.setdefault(inst.reservation, []).append(inst)
        body = "".join(
            "<item><reservationId>%s</reservationId><ownerId>123456789012</ownerId><groupSet/>"
            "<instancesSet>%s</instancesSet></item>" % (r, "".join(self.w.item_xml(i) for i in g))
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
        return ("<%s xmlns=\"%s\"><requestId>%s</requestId><instancesSet>%s</instancesSet></%s>"
                % (root, NS, uuid.uuid4(), items, root))

    def resource_tokens(self, action, n):
        if self.w.args.rate_limits and not self.w.resource_buckets[action].take(n):
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
        self.resource_tokens("StartInstances", len(insts))
        rows = []
        for i in insts:
            prev = i.state
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
        inst = self.one(p)
        tenancy, host_id = p.get("Tenancy"), p.get("HostId")
        if not any(k in p for k in ("Tenancy", "HostId", "Affinity", "GroupName", "GroupId")):
            raise ApiError("MissingParameter", "Specify affinity, host ID, tenancy or group")
        if tenancy and tenancy not in ("default", "dedicated", "host"):
            raise ApiError("InvalidParameterValue", "Invalid tenancy '%s'" % tenancy)
        if host_id:
            check_id(host_id, "h", "InvalidHostId.Malformed")
        if tenancy or host_id:
            self.need_stopped(inst, "changing the placement", dry)
        if inst.tenancy == "host" and tenancy in ("default", "dedicated"):
            raise ApiError("InvalidRequest",
                           "An instance on a Dedicated Host cannot be moved to %s tenancy" % tenancy)
        if tenancy == "host" and not self.itype(inst.type).get("DedicatedHostsSupported"):
            raise ApiError("InvalidParameterCombination",
                           "%s is not supported on Dedicated Hosts" % inst.type)
        if dry:
            return None
        if tenancy:
            inst.tenancy = tenancy
        if inst.tenancy == "host":
            inst.host_id = host_id or inst.host_id or "h-%017x" % self.w.rng.getrandbits(68)
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
        return [self.get(i) for i in ids]

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
            for key, value in keys:
                if key in i.tags and (value is None or i.tags[key] == value):
                    del i.tags[key]
            i._xml = None
        return ("<DeleteTagsResponse xmlns=\"%s\"><requestId>%s</requestId><return>true</return>"
                "</DeleteTagsResponse>" % (NS, uuid.uuid4()))

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
        if p.get("NextToken"):
            try:
                start = int(base64.b64decode(p["NextToken"]).decode().split(":")[1])
            except Exception:
                raise ApiError("InvalidParameterValue", "Invalid NextToken")
        page = types[start:start + mr]
        nxt = (base64.b64encode(("types:%d" % (start + mr)).encode()).decode()
               if start + mr < len(types) else None)
        return ("<DescribeInstanceTypesResponse xmlns=\"%s\"><requestId>%s</requestId>"
                "<instanceTypeSet>%s</instanceTypeSet>%s</DescribeInstanceTypesResponse>"
                % (NS, uuid.uuid4(), "".join(self.type_xml(t) for t in page),
                   "<nextToken>%s</nextToken>" % nxt if nxt else ""))


ACTIONS = ("RunInstances", "DescribeInstances", "StopInstances", "StartInstances",
           "TerminateInstances", "ModifyInstanceCpuOptions", "ModifyInstanceAttribute",
           "ModifyInstancePlacement", "CreateTags", "DeleteTags", "DescribeInstanceTypes")


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
                        "instances": len(w.instances)}
            if method == "GET" and path == "/_sim/instances":
                for i in w.instances.values():
                    w.settle(i)
                return {"instances": [w.instances[i].to_json() for i in w.order]}
            if method == "GET" and path == "/_sim/calls":
                return {"calls": list(w.call_log)}
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
                    w.faults[k] = v
                w.nth = {}
                return {"faults": w.faults}
            m = re.fullmatch(r"/_sim/instances/(i-[0-9a-f]+)", path)
            if method == "POST" and m:
                inst = w.instances.get(m.group(1))
                if not inst:
                    raise KeyError(m.group(1))
                w.settle(inst)
                req = json.loads(body or b"{}")
                field = {"instance_type": "type", "tenancy": "tenancy", "core_count": "cores",
                         "threads_per_core": "threads", "nested_virtualization": "nv",
                         "platform": "platform", "host_id": "host_id", "spot": "spot"}
                for k, v in req.items():
                    if k == "state":
                        inst.state, inst.next_state = v, None
                    elif k == "tags":
                        inst.tags = dict(v)
                    elif k in field:
                        setattr(inst, field[k], v)
                    else:
                        raise ValueError("unknown field '%s'" % k)
                inst._xml = None
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
        if not (lose and lose.get("action") == action):
            return False
        first = int(lose.get("nth", 1))
        return first <= nth < first + int(lose.get("times", 1))

    def handle_api(self, method):
        w = self.server.world
        split = urllib.parse.urlsplit(self.path)
        body = self.read_body() if method == "POST" else b""
        action, status, dry, ids = "?", 200, False, []
        received = time.time()
        try:
            try:
                self.authenticate(method, split.path, split.query, body)
                form = body.decode("utf-8") if method == "POST" else split.query
                params = dict(urllib.parse.parse_qsl(form, keep_blank_values=True))
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
                with w.lock:
                    w.calls[action] = w.calls.get(action, 0) + 1
                lose = self.faults_before(action)
                with w.lock:
                    if action in w.faults["deny_actions"]:
                        raise ApiError("UnauthorizedOperation",
                                       "You are not authorized to perform this operation. "
                                       "Encoded authorization failure message: %s"
                                       % base64.b64encode(action.encode()).decode(), 403)
                    if w.args.rate_limits and not w.request_bucket(action, params).take():
                        raise ApiError("RequestLimitExceeded", "Request limit exceeded.", 503)
                    out = getattr(Ec2(w), action)(params, dry)
                if dry:
                    raise ApiError("DryRunOperation",
                                   "Request would have succeeded, but DryRun flag is set.", 412)
                if lose:
                    raise DropConnection()
                self.send(200, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + out)
            except ApiError as e:
                status = e.status
                if e.code == "RequestLimitExceeded":
                    with w.lock:
                        w.throttled[action] = w.throttled.get(action, 0) + 1
                self.send_error_doc(e)
        except DropConnection:
            status = 0
            self.drop()
        with w.lock:
            w.call_log.append({"action": action, "instance_ids": ids, "dry_run": dry,
                               "status": status, "received": received,
                               "count": int(params.get("MaxCount") or 0)
                               if action == "RunInstances" else len(ids)})

    def do_POST(self):
        if self.path.startswith("/_sim/"):
            return self.handle_control("POST")
        return self.handle_api("POST")

    def do_GET(self):
        if self.path.startswith("/_sim/"):
            return self.handle_control("GET")
        return self.handle_api("GET")


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
    args = ap.parse_args(argv)
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
