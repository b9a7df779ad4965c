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
            "CreateTags", "DeleteTags", "AllocateHosts", "ModifyHosts", "ReleaseHosts",
            "ModifyInstanceMetadataOptions", "MonitorInstances", "UnmonitorInstances",
            "AssociateIamInstanceProfile", "ReplaceIamInstanceProfileAssociation",
            "DisassociateIamInstanceProfile", "ModifyVolume", "CreatePlacementGroup",
            "DeletePlacementGroup"}
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
# EBS volume types (README.md, "Instance attributes"): sizes in GiB, provisioned
# IOPS, the IOPS-to-size ratio, throughput in MiB/s and its ratio to IOPS. Today's
# API reference (ModifyVolume, EbsBlockDevice) and the EBS User Guide.
VOLUME_TYPES = {
    "gp2": {"size": (1, 16384)},
    "gp3": {"size": (1, 65536), "iops": (3000, 80000), "iops_per_gib": 500,
            "throughput": (125, 2000), "mibps_per_iops": 0.25},
    "io1": {"size": (4, 16384), "iops": (100, 64000), "iops_per_gib": 50},
    "io2": {"size": (4, 65536), "iops": (100, 256000), "iops_per_gib": 1000},
    "st1": {"size": (125, 16384)},
    "sc1": {"size": (125, 16384)},
    "standard": {"size": (1, 1024)},
}
# What an image's root snapshot holds when nothing else is said (README.md).
LINUX_IMAGE = {"root_device_name": "/dev/xvda", "snapshot_size_gib": 8, "volume_type": "gp3"}
WINDOWS_IMAGE = {"root_device_name": "/dev/sda1", "snapshot_size_gib": 30, "volume_type": "gp3"}
DEVICE_NAME = re.compile(r"/dev/(sd[a-z][0-9]*|xvd[a-z]{1,2}[0-9]*)")
METADATA_ENUMS = (("http_tokens", "HttpTokens", ("optional", "required")),
                  ("http_endpoint", "HttpEndpoint", ("enabled", "disabled")),
                  ("http_protocol_ipv6", "HttpProtocolIpv6", ("enabled", "disabled")),
                  ("instance_metadata_tags", "InstanceMetadataTags", ("enabled", "disabled")))
METADATA_DEFAULTS = {"http_tokens": "optional", "http_put_response_hop_limit": 1,
                     "http_endpoint": "enabled", "http_protocol_ipv6": "disabled",
                     "instance_metadata_tags": "disabled"}
PLACEMENT_STRATEGIES = ("cluster", "spread", "partition")
MAX_PARTITIONS = 7
# POST /_sim/instances/ID fields for issue 14's attributes (Handler.set_attributes).
ATTRIBUTE_FIELDS = ("monitoring", "ebs_optimized", "disable_api_termination", "disable_api_stop",
                    "metadata_options", "iam_instance_profile", "root_volume", "placement_group",
                    "user_data_b64", "security_group_ids", "instance_initiated_shutdown_behavior")
S_INSTANCE_ATTRIBUTES = ("instanceType", "kernel", "ramdisk", "userData", "disableApiTermination",
                         "instanceInitiatedShutdownBehavior", "rootDeviceName",
                         "blockDeviceMapping", "productCodes", "sourceDestCheck", "groupSet",
                         "ebsOptimized", "sriovNetSupport", "enaSupport", "enclaveOptions",
                         "disableApiStop")
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
                 "terminated_at", "stale", "stale_until",
                 # issue 14's attributes
                 "monitoring", "monitoring_next", "monitoring_due", "ebs_optimized",
                 "metadata", "metadata_due", "iam", "bdm", "root_device", "dat", "das",
                 "pgroup", "shutdown_behavior")

    def copy(self):
        """A frozen copy: what a lagging read replica still shows."""
        c = Instance()
        for k in self.__slots__:
            setattr(c, k, getattr(self, k, None))
        c.tags, c.next_state, c.stale, c._xml = dict(self.tags), None, None, None
        c.sgs, c.metadata = list(self.sgs), dict(self.metadata)
        c.bdm = [dict(b) for b in self.bdm]
        c.iam = dict(self.iam) if self.iam else None
        c.monitoring_next = None
        return c

    def to_json(self):
        return {"instance_id": self.id, "account_id": self.account, "state": self.state,
                "instance_type": self.type,
                "tenancy": self.tenancy, "core_count": self.cores,
                "threads_per_core": self.threads, "nested_virtualization": self.nv,
                "platform": self.platform, "host_id": self.host_id, "image_id": self.image_id,
                "hibernation": self.hibernation, "spot": self.spot, "tags": dict(self.tags),
                "launch_index": self.launch_index, "affinity": self.affinity,
                "monitoring": self.monitoring, "ebs_optimized": self.ebs_optimized,
                "metadata_options": dict(self.metadata),
                "iam_instance_profile": dict(self.iam) if self.iam else None,
                "disable_api_termination": self.dat, "disable_api_stop": self.das,
                "placement_group": self.pgroup, "user_data_b64": self.user_data,
                "root_device_name": self.root_device,
                "security_group_ids": list(self.sgs),
                "instance_initiated_shutdown_behavior": self.shutdown_behavior,
                "block_devices": [dict(b) for b in self.bdm]}


class Volume:
    """An EBS volume: a root or launch-time volume of an instance."""

    def __init__(self, vid, account, az):
        self.id, self.account, self.az = vid, account, az
        self.size, self.type, self.iops, self.throughput = 8, "gp3", 3000, 125
        self.encrypted, self.kms_key_id, self.snapshot_id = False, None, None
        self.state, self.instance_id, self.device = "in-use", None, None
        self.create_time, self.tags, self.mods = now_iso(), {}, []
        self.deleted_at = None

    def to_json(self, world):
        att = world.attachment(self)
        return {"volume_id": self.id, "account_id": self.account, "size_gib": self.size,
                "type": self.type, "iops": self.iops, "throughput": self.throughput,
                "encrypted": self.encrypted, "kms_key_id": self.kms_key_id,
                "snapshot_id": self.snapshot_id, "state": self.state,
                "instance_id": self.instance_id, "device": self.device,
                "delete_on_termination": att["delete_on_termination"] if att else None,
                "modifications": [dict(m) for m in self.mods]}


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
                           "latency_jitter": self.args.latency_jitter,
                           "volume_modification_cooldown_s":
                               self.args.volume_modification_cooldown,
                           "volume_modification_window_s": self.args.volume_modification_window,
                           "volume_modifications_per_window":
                               self.args.volume_modifications_per_window,
                           "volume_modification_seconds": self.args.volume_modification_seconds}
            self.fill_buckets()
            self.rng = random.Random(self.args.seed)
            # A stream of its own, so read-after-write delays do not move the ids.
            self.stale_rng = random.Random(self.args.seed)
            # And one for the latency model's jitter.
            self.latency_rng = random.Random(self.args.seed)
            self.token_key = os.urandom(16)
            # Volumes, associations, keys and groups draw their ids from a
            # stream of their own, so instance ids stay what they were.
            self.res_rng = random.Random(None if self.args.seed is None
                                         else "%s-resources" % self.args.seed)
            self.volumes = {}
            self.volume_order = []
            self.images = {}
            self.profiles = {}       # (account, name) -> {name, arn, id, created}
            self.associations = {}   # iip-assoc-… -> {…}
            self.association_order = []
            self.kms = {}            # account -> {"aliases": {alias: key id}, "keys": [ids]}
            self.pgroups = {}        # (account, name) -> {…}
            self.pgroup_order = []

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
                self.release_resources(inst)
        self.settle_attributes(inst, t)

    def settle_attributes(self, inst, t):
        """Monitoring, metadata options and the profile association move on
        with time, as the instance's state does."""
        if inst.monitoring_next and t >= inst.monitoring_due:
            inst.monitoring, inst.monitoring_next, inst._xml = inst.monitoring_next, None, None
        md = inst.metadata
        # Options changed on a stopped instance apply once it runs (ModifyInstanceMetadataOptions).
        if md and md.get("state") == "pending" and inst.state == "running" \
                and t >= inst.metadata_due:
            md["state"], inst._xml = "applied", None
        if inst.iam:
            a = self.associations.get(inst.iam["association_id"])
            if a:
                self.settle_association(a, t)
                if a["state"] == "disassociated":
                    inst.iam, inst._xml = None, None
                elif inst.iam.get("state") != a["state"]:
                    inst.iam["state"] = a["state"]

    def settle_association(self, a, t):
        if a.get("next") and t >= a["due"]:
            a["state"], a["next"] = a["next"], None

    def due(self, seconds=None):
        return time.monotonic() + (self.args.transition_seconds if seconds is None else seconds)

    def new_id(self, prefix, bits=68):
        return "%s-%0*x" % (prefix, (bits + 3) // 4, self.res_rng.getrandbits(bits))

    # -- what terminating an instance releases --------------------------------
    def release_resources(self, inst):
        """Its volumes are deleted (DeleteOnTermination) or detached; its
        profile association ends."""
        for b in inst.bdm:
            v = self.volumes.get(b["volume_id"])
            if not v:
                continue
            if b["delete_on_termination"]:
                v.state, v.deleted_at = "deleted", time.monotonic()
            else:
                v.state = "available"
            v.instance_id, v.device = None, None
        inst.bdm = []
        if inst.iam:
            a = self.associations.get(inst.iam["association_id"])
            if a:
                a["state"], a["next"] = "disassociated", None
            inst.iam = None
        inst._xml = None

    def attachment(self, vol):
        """The volume's attachment as its instance records it, or None."""
        inst = self.instances.get(vol.instance_id) if vol.instance_id else None
        if not inst:
            return None
        for b in inst.bdm:
            if b["volume_id"] == vol.id:
                return b
        return None

    # -- images ----------------------------------------------------------------
    def image(self, image_id):
        """What the simulator knows of an AMI: any well-formed id is an image
        (Windows by its prefix) unless the control API said otherwise."""
        img = self.images.get(image_id)
        if img is None:
            windows = image_id.startswith(WINDOWS_AMI_PREFIXES)
            img = dict(WINDOWS_IMAGE if windows else LINUX_IMAGE)
            img.update({"image_id": image_id, "platform": "windows" if windows else "linux",
                        "missing": False,
                        "snapshot_id": "snap-%s" % hashlib.sha256(image_id.encode())
                        .hexdigest()[:17],
                        "name": "%s-image-%s" % ("windows" if windows else "linux",
                                                 image_id[4:])})
            self.images[image_id] = img
        return img

    # -- KMS keys --------------------------------------------------------------
    def kms_account(self, account):
        k = self.kms.get(account)
        if k is None:
            # Every account has the AWS managed key for EBS, alias/aws/ebs.
            k = self.kms[account] = {"aliases": {}, "keys": []}
            self.add_key(account, "alias/aws/ebs")
        return k

    def add_key(self, account, alias, key_id=None):
        k = self.kms.get(account) or self.kms_account(account)
        if alias in k["aliases"]:
            return k["aliases"][alias]
        key_id = key_id or str(uuid.UUID(int=self.res_rng.getrandbits(128), version=4))
        k["aliases"][alias] = key_id
        if key_id not in k["keys"]:
            k["keys"].append(key_id)
        return key_id

    def key_arn(self, account, key_id):
        return "arn:aws:kms:%s:%s:key/%s" % (self.args.region, account, key_id)

    def resolve_kms(self, value):
        """A key id, key ARN, alias name or alias ARN -> the key's ARN, or None."""
        m = re.fullmatch(r"arn:aws:kms:([a-z0-9-]+):([0-9]{12}):(key|alias)/(.+)", value)
        if m:
            region, account, kind, rest = m.groups()
            if region != self.args.region:
                return None
            ref = rest if kind == "key" else "alias/" + rest
        else:
            account, ref = self.account, value
        k = self.kms_account(account)
        if ref.startswith("alias/"):
            key_id = k["aliases"].get(ref)
        else:
            key_id = ref if ref in k["keys"] else None
        return self.key_arn(account, key_id) if key_id else None

    # -- volume modifications -----------------------------------------------------
    def settle_volume(self, vol, t=None):
        """A modification goes modifying -> optimizing -> completed; the volume
        shows the new values from optimizing on (README.md)."""
        t = time.monotonic() if t is None else t
        if not vol.mods:
            return
        m = vol.mods[-1]
        step = float(self.faults["volume_modification_seconds"])
        if m["modificationState"] == "modifying" and t >= m["_start"] + step:
            m["modificationState"], m["progress"] = "optimizing", 50
            vol.size, vol.type = m["targetSize"], m["targetVolumeType"]
            vol.iops, vol.throughput = m.get("targetIops"), m.get("targetThroughput")
            inst = self.instances.get(vol.instance_id) if vol.instance_id else None
            if inst:
                inst._xml = None
        if m["modificationState"] == "optimizing" and t >= m["_start"] + 2 * step:
            m["modificationState"], m["progress"] = "completed", 100
            m["endTime"] = datetime.datetime.utcfromtimestamp(
                time.time() - (t - (m["_start"] + 2 * step))).strftime("%Y-%m-%dT%H:%M:%S.000Z")

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
            "<placement><availabilityZone>%s</availabilityZone>%s<tenancy>%s</tenancy>%s"
            "</placement>" % (inst.az, "<groupName>%s</groupName>" % escape(inst.pgroup)
                              if inst.pgroup else "<groupName/>", inst.tenancy, host),
            "<platform>windows</platform>" if inst.platform == "windows" else "",
            "<monitoring><state>%s</state></monitoring>" % inst.monitoring,
            "<subnetId>%s</subnetId><vpcId>vpc-0a1b2c3d4e5f60718</vpcId>" % inst.subnet_id,
            "<groupSet>%s</groupSet>" % sgs,
            "<instanceLifecycle>spot</instanceLifecycle>" if inst.spot else "",
            "<architecture>x86_64</architecture><rootDeviceType>ebs</rootDeviceType>",
            "<rootDeviceName>%s</rootDeviceName>" % inst.root_device,
            "<blockDeviceMapping>%s</blockDeviceMapping>" % self.bdm_xml(inst),
            "<ebsOptimized>%s</ebsOptimized>" % ("true" if inst.ebs_optimized else "false"),
            "<iamInstanceProfile><arn>%s</arn><id>%s</id></iamInstanceProfile>"
            % (escape(inst.iam["arn"]), inst.iam["id"]) if inst.iam else "",
            self.metadata_xml("metadataOptions", inst.metadata),
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

    @staticmethod
    def bdm_xml(inst):
        return "".join(
            "<item><deviceName>%s</deviceName><ebs><volumeId>%s</volumeId><status>%s</status>"
            "<attachTime>%s</attachTime><deleteOnTermination>%s</deleteOnTermination></ebs></item>"
            % (b["device_name"], b["volume_id"], b["status"], b["attach_time"],
               "true" if b["delete_on_termination"] else "false") for b in inst.bdm)

    @staticmethod
    def metadata_xml(tag, md):
        return ("<%s><state>%s</state><httpTokens>%s</httpTokens><httpPutResponseHopLimit>%d"
                "</httpPutResponseHopLimit><httpEndpoint>%s</httpEndpoint><httpProtocolIpv6>%s"
                "</httpProtocolIpv6><instanceMetadataTags>%s</instanceMetadataTags></%s>"
                % (tag, md["state"], md["http_tokens"], md["http_put_response_hop_limit"],
                   md["http_endpoint"], md["http_protocol_ipv6"], md["instance_metadata_tags"],
                   tag))

    def volume_xml(self, v):
        att = self.attachment(v)
        attach = ("<item><volumeId>%s</volumeId><instanceId>%s</instanceId><device>%s</device>"
                  "<status>%s</status><attachTime>%s</attachTime><deleteOnTermination>%s"
                  "</deleteOnTermination></item>"
                  % (v.id, v.instance_id, att["device_name"], att["status"], att["attach_time"],
                     "true" if att["delete_on_termination"] else "false")) if att else ""
        tags = "".join("<item><key>%s</key><value>%s</value></item>" % (escape(k), escape(x))
                       for k, x in v.tags.items())
        return ("<item><volumeId>%s</volumeId><size>%d</size><snapshotId>%s</snapshotId>"
                "<availabilityZone>%s</availabilityZone><status>%s</status>"
                "<createTime>%s</createTime><attachmentSet>%s</attachmentSet><tagSet>%s</tagSet>"
                "<volumeType>%s</volumeType>%s%s<encrypted>%s</encrypted>%s"
                "<multiAttachEnabled>false</multiAttachEnabled></item>"
                % (v.id, v.size, v.snapshot_id or "", v.az, v.state, v.create_time, attach, tags,
                   v.type, "<iops>%d</iops>" % v.iops if v.iops is not None else "",
                   "<throughput>%d</throughput>" % v.throughput
                   if v.throughput is not None else "",
                   "true" if v.encrypted else "false",
                   "<kmsKeyId>%s</kmsKeyId>" % escape(v.kms_key_id) if v.kms_key_id else ""))


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

    # -- issue 14: shared checks ----------------------------------------------
    @staticmethod
    def boolean(p, name, default=None, wire=None):
        """A Boolean Query parameter: botocore sends true or false."""
        v = p.get(name)
        if v is None:
            return default
        if v not in ("true", "false"):
            raise ApiError("InvalidParameterValue", "Value (%s) for parameter %s is invalid. "
                           "Expected: 'true' or 'false'." % (v, wire or name))
        return v == "true"

    @staticmethod
    def integer(p, name, wire=None):
        v = p.get(name)
        if v is None:
            return None
        try:
            return int(v)
        except ValueError:
            raise ApiError("InvalidParameterValue", "Value (%s) for parameter %s is invalid. "
                           "Expected an integer." % (v, wire or name))

    @staticmethod
    def gp2_iops(size):
        # gp2: 3 IOPS per GiB, at least 100, at most 16,000 (EBS User Guide).
        return max(100, min(16000, 3 * size))

    def volume_spec(self, vtype, size, iops, throughput):
        """Checks type, size, IOPS and throughput against EBS's limits; returns
        (iops, throughput) as EC2 reports them (None: not reported)."""
        lim = VOLUME_TYPES.get(vtype)
        if lim is None:
            raise ApiError("InvalidParameterValue",
                           "Value (%s) for parameter volumeType is invalid. Valid values: %s."
                           % (vtype, ", ".join(VOLUME_TYPES)))
        lo, hi = lim["size"]
        if not lo <= size <= hi:
            raise ApiError("InvalidParameterValue",
                           "Volume of %dGiB is invalid for %s volumes: the size must be between "
                           "%d and %d GiB." % (size, vtype, lo, hi))
        if "iops" not in lim:
            if iops is not None:
                raise ApiError("InvalidParameterCombination",
                               "The parameter iops is not supported for %s volumes." % vtype)
            iops = self.gp2_iops(size) if vtype == "gp2" else None
        else:
            if iops is None:
                if vtype != "gp3":
                    raise ApiError("InvalidParameterCombination",
                                   "The parameter iops must be specified for %s volumes." % vtype)
                iops = 3000
            ilo, ihi = lim["iops"]
            if not ilo <= iops <= ihi:
                raise ApiError("InvalidParameterValue",
                               "Value (%d) for parameter iops is invalid. %s volumes support "
                               "%d to %d IOPS." % (iops, vtype, ilo, ihi))
            # gp3's 3,000 IOPS baseline holds at any size; above it the ratio applies.
            if (vtype != "gp3" or iops > 3000) and iops > lim["iops_per_gib"] * size:
                raise ApiError("InvalidParameterValue",
                               "Iops to volume size ratio of %f is too high; maximum is %f."
                               % (iops / float(size), float(lim["iops_per_gib"])))
        if "throughput" not in lim:
            if throughput is not None:
                raise ApiError("InvalidParameterCombination",
                               "The parameter throughput is not supported for %s volumes."
                               % vtype)
        else:
            throughput = 125 if throughput is None else throughput
            tlo, thi = lim["throughput"]
            if not tlo <= throughput <= thi:
                raise ApiError("InvalidParameterValue",
                               "Value (%d) for parameter throughput is invalid. %s volumes "
                               "support %d to %d MiB/s." % (throughput, vtype, tlo, thi))
            if throughput > 125 and throughput > lim["mibps_per_iops"] * iops:
                raise ApiError("InvalidParameterValue",
                               "Throughput (MiBps) to iops ratio of %f is too high; maximum is "
                               "%f MiBps per iops." % (throughput / float(iops),
                                                       lim["mibps_per_iops"]))
        return iops, throughput

    def snapshot_size(self, snap):
        for img in self.w.images.values():
            if img["snapshot_id"] == snap and not img["missing"]:
                return img["snapshot_size_gib"]
        raise ApiError("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist." % snap)

    def launch_volumes(self, p, img):
        """The volumes one instance of this launch gets: the image's root
        volume, changed by a mapping on the image's root device name, and the
        other mappings' EBS volumes. Returns a list of specs, the root first."""
        maps = {}
        for k, v in p.items():
            m = re.fullmatch(r"BlockDeviceMapping\.([1-9][0-9]*)\.(.+)", k)
            if m:
                maps.setdefault(int(m.group(1)), {})[m.group(2)] = v
        root_dev = img["root_device_name"]
        specs = [{"device_name": root_dev, "snapshot_id": img["snapshot_id"],
                  "snap_size": img["snapshot_size_gib"], "type": img["volume_type"],
                  "ebs": {}}]
        seen = set()
        for n in sorted(maps):
            m = maps[n]
            dev = m.get("DeviceName")
            if not dev:
                raise ApiError("MissingParameter", "The request must contain the parameter "
                               "BlockDeviceMapping.%d.DeviceName" % n)
            if dev in seen:
                raise ApiError("InvalidBlockDeviceMapping",
                               "The device name %s is used more than once." % dev)
            seen.add(dev)
            ebs = {k[4:]: v for k, v in m.items() if k.startswith("Ebs.")}
            if dev == root_dev:
                if "NoDevice" in m or "VirtualName" in m:
                    raise ApiError("InvalidBlockDeviceMapping",
                                   "The root device %s must be an EBS volume." % dev)
                specs[0]["ebs"] = ebs
                continue
            if not DEVICE_NAME.fullmatch(dev):
                raise ApiError("InvalidBlockDeviceMapping", "Invalid device name %s" % dev)
            if not ebs:
                continue  # instance store or NoDevice: not modelled
            snap = ebs.get("SnapshotId")
            if not snap and "VolumeSize" not in ebs:
                raise ApiError("InvalidBlockDeviceMapping",
                               "Either snapshot ID or volume size must be provided for: %s" % dev)
            specs.append({"device_name": dev, "snapshot_id": snap,
                          "snap_size": self.snapshot_size(snap) if snap else None,
                          "type": "gp3", "ebs": ebs})
        for spec in specs:
            self.resolve_volume(spec)
        return specs

    def resolve_volume(self, spec):
        ebs, dev = spec["ebs"], spec["device_name"]
        q = {"Ebs." + k: v for k, v in ebs.items()}
        snap = ebs.get("SnapshotId")
        if snap and snap != spec["snapshot_id"]:
            spec["snapshot_id"], spec["snap_size"] = snap, self.snapshot_size(snap)
        size = self.integer(q, "Ebs.VolumeSize", "volumeSize")
        if size is None:
            size = spec["snap_size"]
        elif spec["snap_size"] is not None and size < spec["snap_size"]:
            # EC2's message has the two spaces (seen in published transcripts).
            raise ApiError("InvalidBlockDeviceMapping",
                           "Volume of size %dGB is smaller than  snapshot '%s', expect size >= "
                           "%dGB" % (size, spec["snapshot_id"], spec["snap_size"]))
        vtype = ebs.get("VolumeType", spec["type"])
        iops, tp = self.volume_spec(vtype, size, self.integer(q, "Ebs.Iops", "iops"),
                                    self.integer(q, "Ebs.Throughput", "throughput"))
        encrypted = self.boolean(q, "Ebs.Encrypted", False, "encrypted")
        kms = ebs.get("KmsKeyId")
        if kms is not None and not encrypted:
            raise ApiError("InvalidParameterDependency",
                           "The parameter KmsKeyId requires the parameter Encrypted to be set.")
        arn = None
        if encrypted:
            arn = self.w.resolve_kms(kms or "alias/aws/ebs")
            if arn is None:
                raise ApiError("InvalidParameterValue", "Value (%s) for parameter kmsKeyId is "
                               "invalid. The KMS key does not exist or is not in %s."
                               % (kms, self.w.args.region))
        spec.update({"size": size, "type": vtype, "iops": iops, "throughput": tp,
                     "encrypted": encrypted, "kms_key_id": arn,
                     "delete_on_termination": self.boolean(q, "Ebs.DeleteOnTermination", True,
                                                           "deleteOnTermination")})

    def attach_volumes(self, inst, specs):
        inst.bdm = []
        for spec in specs:
            v = Volume(self.w.new_id("vol"), inst.account, inst.az)
            v.size, v.type, v.iops, v.throughput = (spec["size"], spec["type"], spec["iops"],
                                                    spec["throughput"])
            v.encrypted, v.kms_key_id, v.snapshot_id = (spec["encrypted"], spec["kms_key_id"],
                                                        spec["snapshot_id"])
            v.instance_id, v.device, v.create_time = inst.id, spec["device_name"], inst.launch_time
            self.w.volumes[v.id] = v
            self.w.volume_order.append(v.id)
            inst.bdm.append({"device_name": spec["device_name"], "volume_id": v.id,
                             "status": "attached", "attach_time": inst.launch_time,
                             "delete_on_termination": spec["delete_on_termination"]})

    def metadata_options(self, p, base, prefix=""):
        """MetadataOptions.* (or ModifyInstanceMetadataOptions' members) over base."""
        md = dict(base)
        for key, name, allowed in METADATA_ENUMS:
            v = p.get(prefix + name)
            if v is not None:
                if v not in allowed:
                    raise ApiError("InvalidParameterValue",
                                   "Value (%s) for parameter %s is invalid. Valid values: %s."
                                   % (v, name[0].lower() + name[1:], " | ".join(allowed)))
                md[key] = v
        hop = self.integer(p, prefix + "HttpPutResponseHopLimit", "httpPutResponseHopLimit")
        if hop is not None:
            if not 1 <= hop <= 64:
                raise ApiError("InvalidParameterValue",
                               "Value (%d) for parameter httpPutResponseHopLimit is invalid. "
                               "Possible values: integers from 1 to 64." % hop)
            md["http_put_response_hop_limit"] = hop
        return md

    def profile(self, p, prefix="IamInstanceProfile."):
        """The account's instance profile named by .Name or .Arn, or None."""
        name, arn = p.get(prefix + "Name"), p.get(prefix + "Arn")
        if name is None and arn is None:
            return None
        found = None
        if arn is not None:
            found = next((x for x in self.w.profiles.values()
                          if x["arn"] == arn and x["account"] == self.w.account), None)
            if found is None:
                raise ApiError("InvalidParameterValue", "Value (%s) for parameter "
                               "iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile "
                               "ARN" % arn)
        if name is not None:
            by_name = self.w.profiles.get((self.w.account, name))
            if by_name is None:
                raise ApiError("InvalidParameterValue", "Value (%s) for parameter "
                               "iamInstanceProfile.name is invalid. Invalid IAM Instance Profile "
                               "name" % name)
            if found is not None and found is not by_name:
                raise ApiError("InvalidParameterCombination",
                               "The instance profile name and ARN name different profiles")
            found = by_name
        return found

    def associate(self, inst, prof, state="associating"):
        aid = self.w.new_id("iip-assoc")
        a = {"association_id": aid, "instance_id": inst.id, "account": inst.account,
             "arn": prof["arn"], "id": prof["id"], "name": prof["name"], "state": state,
             "next": "associated" if state == "associating" else None,
             "due": self.w.due(), "timestamp": now_iso()}
        if self.w.args.transition_seconds <= 0 and a["next"]:
            a["state"], a["next"] = a["next"], None
        self.w.associations[aid] = a
        self.w.association_order.append(aid)
        inst.iam = {"association_id": aid, "arn": prof["arn"], "id": prof["id"],
                    "name": prof["name"], "state": a["state"]}
        inst._xml = None
        return a

    def placement_group(self, name=None, gid=None):
        if gid is not None:
            g = next((g for g in self.w.pgroups.values()
                      if g["group_id"] == gid and g["account"] == self.w.account), None)
            if g is None:
                raise ApiError("InvalidPlacementGroup.Unknown",
                               "The Placement Group '%s' is unknown." % gid)
            return g
        g = self.w.pgroups.get((self.w.account, name))
        if g is None:
            raise ApiError("InvalidPlacementGroup.Unknown",
                           "The Placement Group '%s' is unknown." % name)
        return g

    @staticmethod
    def check_group_tenancy(g, tenancy, itype):
        """Placement groups take default or dedicated tenancy; spread only
        default; cluster no burstable types (User Guide, placement groups)."""
        if tenancy == "host":
            raise ApiError("InvalidParameterCombination", "Instances with host tenancy cannot be "
                           "launched into a placement group ('%s')." % g["name"])
        if g["strategy"] == "spread" and tenancy != "default":
            raise ApiError("InvalidParameterCombination", "Spread placement group '%s' only "
                           "takes instances with default tenancy." % g["name"])
        if g["strategy"] == "cluster" and itype.startswith("t"):
            raise ApiError("InvalidParameterCombination", "%s is not supported in cluster "
                           "placement groups." % itype)

    def page(self, p, kind, items, lo, hi, with_ids=False, cap=False):
        """MaxResults and NextToken over a list: tokens bound to the request."""
        mr = self.integer(p, "MaxResults", "maxResults")
        if mr is not None and with_ids:
            raise ApiError("InvalidParameterCombination", "The parameter MaxResults cannot be "
                           "used with an explicit list of ids")
        if mr is not None and (mr < lo or (mr > hi and not cap)):
            raise ApiError("InvalidParameterValue", "Value (%d) for parameter maxResults is "
                           "invalid. Expecting a value between %d and %d." % (mr, lo, hi))
        if mr is not None:
            mr = min(mr, hi)
        fp = fingerprint(dict(p, _account=self.w.account))
        start = self.w.read_token(p["NextToken"], kind, fp) if p.get("NextToken") else 0
        if mr is None:
            return items[start:], None
        nxt = self.w.make_token(kind, start + mr, fp) if start + mr < len(items) else None
        return items[start:start + mr], nxt

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
        img = self.w.image(p["ImageId"])
        if img["missing"]:
            raise ApiError("InvalidAMIID.NotFound",
                           "The image id '[%s]' does not exist" % p["ImageId"])
        platform = img["platform"]
        specs = self.launch_volumes(p, img)
        md = self.metadata_options(p, dict(METADATA_DEFAULTS), "MetadataOptions.")
        prof = self.profile(p)
        monitoring = self.boolean(p, "Monitoring.Enabled", False, "monitoring.enabled")
        ebs_opt = self.boolean(p, "EbsOptimized", False, "ebsOptimized")
        dat = self.boolean(p, "DisableApiTermination", False, "disableApiTermination")
        das = self.boolean(p, "DisableApiStop", False, "disableApiStop")
        if spot and (dat or das):
            raise ApiError("InvalidParameterCombination", "You can't enable %s protection for "
                           "Spot Instances." % ("termination" if dat else "stop"))
        shutdown = p.get("InstanceInitiatedShutdownBehavior", "stop")
        if shutdown not in ("stop", "terminate"):
            raise ApiError("InvalidParameterValue", "Value (%s) for parameter "
                           "instanceInitiatedShutdownBehavior is invalid." % shutdown)
        pg = None
        if p.get("Placement.GroupName") or p.get("Placement.GroupId"):
            if p.get("Placement.GroupName") and p.get("Placement.GroupId"):
                raise ApiError("InvalidParameterCombination", "You can specify GroupId or "
                               "GroupName, but not both.")
            pg = self.placement_group(p.get("Placement.GroupName"), p.get("Placement.GroupId"))
            self.check_group_tenancy(pg, tenancy, t["InstanceType"])
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
            inst.monitoring, inst.monitoring_next = ("pending", "enabled") if monitoring \
                else ("disabled", None)
            inst.monitoring_due = self.w.due()
            inst.ebs_optimized, inst.dat, inst.das = ebs_opt, dat, das
            inst.metadata, inst.metadata_due = dict(md, state="pending"), 0.0
            inst.root_device, inst.pgroup = img["root_device_name"], pg["name"] if pg else None
            inst.shutdown_behavior, inst.iam = shutdown, None
            inst.sgs = list(sgs)
            self.attach_volumes(inst, specs)
            if prof:
                self.associate(inst, prof)
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
                # Wildcards as for every filter (the DescribeInstances reference:
                # "You can use wildcards"); a parallel refresh partitions on them.
                ok = inst.id in values or any(("*" in v or "?" in v) and glob_match(v, inst.id)
                                              for v in values)
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
            elif name == "monitoring-state":
                ok = inst.monitoring in values
            elif name == "placement-group-name":
                ok = inst.pgroup is not None and any(glob_match(v, inst.pgroup) for v in values)
            elif name == "iam-instance-profile.arn":
                ok = inst.iam is not None and inst.iam["arn"] in values
            elif name == "block-device-mapping.volume-id":
                ok = any(b["volume_id"] in values for b in inst.bdm)
            elif name == "root-device-name":
                ok = inst.root_device in values
            elif name == "metadata-options.http-tokens":
                ok = inst.metadata["http_tokens"] in values
            else:
                raise ApiError("InvalidParameterValue", "The filter '%s' is invalid" % name)
            if not ok:
                return False
        return True

    @staticmethod
    def paged_request(p, id_param, id_set, max_results):
        """What a paginated Describe shares: the ids, the filters (at most 200
        values each) and MaxResults (5 to max_results, never with ids; the
        models of DescribeInstances and DescribeHosts)."""
        ids = params_list(p, id_param)
        filters = parse_filters(p)
        mr = p.get("MaxResults")
        if mr is not None and ids:
            raise ApiError("InvalidParameterCombination",
                           "The parameter %s cannot be used with the parameter maxResults"
                           % id_set)
        if mr is not None:
            try:
                mr = int(mr)
            except ValueError:
                raise ApiError("InvalidParameterValue", "MaxResults must be an integer")
            if not 5 <= mr <= max_results:
                raise ApiError("InvalidParameterValue",
                               "Value (%d) for parameter maxResults is invalid. Expecting a value "
                               "between 5 and %d." % (mr, max_results))
        for f, values in filters:
            if len(values) > 200:
                raise ApiError("InvalidParameterValue",
                               "The filter '%s' has more than 200 values" % f)
        return ids, filters, mr

    def DescribeInstances(self, p, dry):
        ids, filters, mr = self.paged_request(p, "InstanceId", "instancesSet", 1000)
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
            idf = [v for n, v in filters if n == "instance-id"
                   and not any("*" in x or "?" in x for x in v)]
            # "i-*X" values (a partition on the last digit): only those ids
            # are scanned, so parallel listings do not each scan the fleet.
            tails = [v for n, v in filters if n == "instance-id"
                     and all(re.fullmatch(r"i-\*[0-9a-f]", x) for x in v)]
            ends = None
            if idf:
                cand = [i for i in dict.fromkeys(idf[0]) if i in self.w.instances]
            elif tails:
                # Skipped as the scan passes them (the token is a position in
                # the fleet's order): a stream's pages cost one pass in all,
                # not a pass of the whole fleet per page.
                ends = {x[-1] for x in tails[0]}
                cand = self.w.order
            else:
                cand = self.w.order
            # The token is a position in the candidates: each page scans on
            # from there, so listing a fleet page by page costs one pass.
            insts = []
            pos = start
            account = self.w.account
            while pos < len(cand):
                if ends is not None and cand[pos][-1] not in ends:
                    pos += 1
                    continue
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
        for i in insts if not dry else []:
            if i.das and i.state not in ("stopping", "stopped"):
                raise ApiError("OperationNotPermitted", "The instance '%s' may not be stopped. "
                               "Modify its 'disableApiStop' instance attribute and try again."
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
        # One protected instance fails the whole request (TerminateInstances);
        # stop protection protects from termination too (User Guide).
        for i in insts if not dry else []:
            if i.state in ("shutting-down", "terminated"):
                continue
            for flag, on in (("disableApiTermination", i.dat), ("disableApiStop", i.das)):
                if on:
                    raise ApiError("OperationNotPermitted", "The instance '%s' may not be "
                                   "terminated. Modify its '%s' instance attribute and try again."
                                   % (i.id, flag))
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

    # ModifyInstanceAttribute's Value-style members and the attribute each sets.
    ATTRIBUTE_PARAMS = {"InstanceType.Value": "instanceType", "EbsOptimized.Value": "ebsOptimized",
                        "DisableApiTermination.Value": "disableApiTermination",
                        "DisableApiStop.Value": "disableApiStop", "UserData.Value": "userData",
                        "InstanceInitiatedShutdownBehavior.Value":
                            "instanceInitiatedShutdownBehavior",
                        "SourceDestCheck.Value": "sourceDestCheck", "Kernel.Value": "kernel",
                        "Ramdisk.Value": "ramdisk", "SriovNetSupport.Value": "sriovNetSupport",
                        "EnaSupport.Value": "enaSupport"}

    def ModifyInstanceAttribute(self, p, dry):
        inst = self.one(p)
        given = {name: p[k] for k, name in self.ATTRIBUTE_PARAMS.items() if k in p}
        if "Attribute" in p:
            if p["Attribute"] not in S_INSTANCE_ATTRIBUTES:
                raise ApiError("InvalidParameterValue", "Value (%s) for parameter attribute is "
                               "invalid. Unknown attribute." % p["Attribute"])
            if "Value" not in p:
                raise ApiError("MissingParameter", "The request must contain the parameter value")
            given[p["Attribute"]] = p["Value"]
        if any(k.startswith("BlockDeviceMapping.") for k in p):
            given["blockDeviceMapping"] = None
        if any(k.startswith("GroupId.") for k in p):
            given["groupSet"] = params_list(p, "GroupId")
        if len(given) != 1:
            # "You can specify only one attribute at a time" (API reference).
            raise ApiError("InvalidParameterCombination" if given else "MissingParameter",
                           "Specify exactly one attribute to modify")
        (name, value), = given.items()
        handler = {"instanceType": self.set_instance_type, "ebsOptimized": self.set_flag,
                   "disableApiTermination": self.set_flag, "disableApiStop": self.set_flag,
                   "userData": self.set_user_data,
                   "instanceInitiatedShutdownBehavior": self.set_shutdown,
                   "blockDeviceMapping": self.set_bdm, "groupSet": self.set_groups}.get(name)
        if handler is None:
            raise ApiError("UnsupportedOperation", "The simulator does not model the instance "
                           "attribute %s" % name)
        apply = handler(inst, name, value, p, dry)
        if dry:
            return None
        self.w.mutate(inst)
        apply()
        inst._xml = None
        return ("<ModifyInstanceAttributeResponse xmlns=\"%s\"><requestId>%s</requestId>"
                "<return>true</return></ModifyInstanceAttributeResponse>" % (NS, uuid.uuid4()))

    def set_instance_type(self, inst, name, new, p, dry):
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

        def apply():
            v = t["VCpuInfo"]
            inst.type = new
            # A type change puts the CPU options back to the new type's defaults.
            inst.cores = v.get("DefaultCores", v["DefaultVCpus"])
            inst.threads = v.get("DefaultThreadsPerCore", 1)
            inst.nv = "disabled"
        return apply

    def set_flag(self, inst, name, value, p, dry):
        on = self.boolean({"v": value}, "v", wire=name)
        if name == "ebsOptimized":
            # EBS optimization changes on a stopped instance only (User Guide,
            # "Modify a stopped instance").
            self.need_stopped(inst, "changing EBS optimization", dry)
        elif on and inst.spot:
            raise ApiError("InvalidParameterCombination", "You can't enable %s protection for "
                           "Spot Instances." % ("stop" if name == "disableApiStop"
                                                else "termination"))
        attr = {"ebsOptimized": "ebs_optimized", "disableApiTermination": "dat",
                "disableApiStop": "das"}[name]
        return lambda: setattr(inst, attr, on)

    def set_user_data(self, inst, name, value, p, dry):
        try:
            base64.b64decode(value, validate=True)
        except Exception:
            raise ApiError("InvalidParameterValue", "Invalid BASE64 encoding of user data")
        self.need_stopped(inst, "changing the user data", dry)
        return lambda: setattr(inst, "user_data", value or None)

    def set_shutdown(self, inst, name, value, p, dry):
        if value not in ("stop", "terminate"):
            raise ApiError("InvalidParameterValue", "Value (%s) for parameter "
                           "instanceInitiatedShutdownBehavior is invalid." % value)
        return lambda: setattr(inst, "shutdown_behavior", value)

    def set_bdm(self, inst, name, value, p, dry):
        """DeleteOnTermination of mapped EBS volumes, live."""
        changes, n = [], 1
        while any(k.startswith("BlockDeviceMapping.%d." % n) for k in p):
            dev = p.get("BlockDeviceMapping.%d.DeviceName" % n)
            if not dev:
                raise ApiError("MissingParameter", "The request must contain the parameter "
                               "BlockDeviceMapping.%d.DeviceName" % n)
            b = next((b for b in inst.bdm if b["device_name"] == dev), None)
            if b is None:
                raise ApiError("InvalidInstanceAttributeValue",
                               "No device is currently mapped at %s" % dev)
            vid = p.get("BlockDeviceMapping.%d.Ebs.VolumeId" % n)
            if vid is not None and vid != b["volume_id"]:
                raise ApiError("InvalidInstanceAttributeValue", "The volume %s is not attached "
                               "at %s" % (vid, dev))
            dot = self.boolean(p, "BlockDeviceMapping.%d.Ebs.DeleteOnTermination" % n,
                               wire="deleteOnTermination")
            if dot is not None:
                changes.append((b["device_name"], dot))
            n += 1

        def apply():
            for dev, dot in changes:
                for b in inst.bdm:
                    if b["device_name"] == dev:
                        b["delete_on_termination"] = dot
        return apply

    def set_groups(self, inst, name, groups, p, dry):
        for g in groups:
            check_id(g, "sg", "InvalidGroupId.Malformed")
        return lambda: setattr(inst, "sgs", list(groups))

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
        # A placement group: an empty GroupName takes the instance out of its group.
        group = inst.pgroup
        if "GroupName" in p or "GroupId" in p:
            if "GroupName" in p and "GroupId" in p:
                raise ApiError("InvalidParameterCombination", "You can specify GroupId or "
                               "GroupName, but not both.")
            if p.get("GroupName", None) == "":
                group = None
            else:
                group = self.placement_group(p.get("GroupName"), p.get("GroupId"))["name"]
        if group is not None and (inst.account, group) in self.w.pgroups:
            self.check_group_tenancy(self.w.pgroups[(inst.account, group)], new, inst.type)
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
        inst.tenancy, inst.pgroup = new, group
        if new == "host":
            # Strict: no host until it starts (auto-placement); implicit: a
            # host outside the model, as before hosts were modelled.
            inst.host_id = host_id or inst.host_id or (
                None if self.w.strict_hosts() else "h-%017x" % self.w.rng.getrandbits(68))
            inst.affinity = affinity or inst.affinity or "host"
        inst._xml = None
        return ("<ModifyInstancePlacementResponse xmlns=\"%s\"><requestId>%s</requestId>"
                "<return>true</return></ModifyInstancePlacementResponse>" % (NS, uuid.uuid4()))

    # -- DescribeInstanceAttribute ------------------------------------------------
    def DescribeInstanceAttribute(self, p, dry):
        inst = self.one(p)
        attr = p.get("Attribute")
        if attr is None:
            raise ApiError("MissingParameter", "The request must contain the parameter Attribute")
        if attr not in S_INSTANCE_ATTRIBUTES:
            raise ApiError("InvalidParameterValue", "Value (%s) for parameter attribute is "
                           "invalid. Unknown attribute." % attr)
        if dry:
            return None
        # Eventually consistent as DescribeInstances (the stop-protection page says so).
        v = self.w.view(inst, time.monotonic())
        value = lambda x: "<value>%s</value>" % escape(str(x))  # noqa: E731
        boolean = lambda b: value("true" if b else "false")  # noqa: E731
        body = {"instanceType": lambda: value(v.type),
                "userData": lambda: value(v.user_data) if v.user_data else "",
                "disableApiTermination": lambda: boolean(v.dat),
                "disableApiStop": lambda: boolean(v.das),
                "ebsOptimized": lambda: boolean(v.ebs_optimized),
                "instanceInitiatedShutdownBehavior": lambda: value(v.shutdown_behavior),
                "rootDeviceName": lambda: value(v.root_device),
                "blockDeviceMapping": lambda: self.w.bdm_xml(v),
                "groupSet": lambda: "".join("<item><groupId>%s</groupId></item>" % g
                                            for g in v.sgs),
                "sourceDestCheck": lambda: boolean(True),
                "productCodes": lambda: "",
                "enaSupport": lambda: boolean(True),
                "kernel": lambda: "", "ramdisk": lambda: ""}.get(attr)
        if body is None:
            raise ApiError("UnsupportedOperation", "The simulator does not model the instance "
                           "attribute %s" % attr)
        return ("<DescribeInstanceAttributeResponse xmlns=\"%s\"><requestId>%s</requestId>"
                "<instanceId>%s</instanceId><%s>%s</%s></DescribeInstanceAttributeResponse>"
                % (NS, uuid.uuid4(), inst.id, attr, body(), attr))

    # -- DescribeImages -----------------------------------------------------------
    def image_xml(self, img):
        win = img["platform"] == "windows"
        return ("<item><imageId>%s</imageId><imageLocation>amazon/%s</imageLocation>"
                "<imageState>available</imageState><imageOwnerId>137112412989</imageOwnerId>"
                "<creationDate>2025-01-01T00:00:00.000Z</creationDate><isPublic>true</isPublic>"
                "<architecture>x86_64</architecture><imageType>machine</imageType>%s"
                "<platformDetails>%s</platformDetails><usageOperation>%s</usageOperation>"
                "<name>%s</name><rootDeviceType>ebs</rootDeviceType>"
                "<rootDeviceName>%s</rootDeviceName><blockDeviceMapping><item><deviceName>%s"
                "</deviceName><ebs><snapshotId>%s</snapshotId><volumeSize>%d</volumeSize>"
                "<deleteOnTermination>true</deleteOnTermination><volumeType>%s</volumeType>"
                "<encrypted>false</encrypted>%s</ebs></item></blockDeviceMapping>"
                "<virtualizationType>hvm</virtualizationType><hypervisor>xen</hypervisor>"
                "<enaSupport>true</enaSupport><sriovNetSupport>simple</sriovNetSupport></item>"
                % (img["image_id"], escape(img["name"]),
                   "<platform>windows</platform>" if win else "",
                   "Windows" if win else "Linux/UNIX", "RunInstances:0002" if win else
                   "RunInstances", escape(img["name"]), img["root_device_name"],
                   img["root_device_name"], img["snapshot_id"], img["snapshot_size_gib"],
                   img["volume_type"], "<iops>3000</iops><throughput>125</throughput>"
                   if img["volume_type"] == "gp3" else ""))

    def DescribeImages(self, p, dry):
        ids = params_list(p, "ImageId")
        for i in ids:
            check_id(i, "ami", "InvalidAMIID.Malformed")
        if dry:
            return None
        if ids:
            imgs = [self.w.image(i) for i in ids]
            missing = [i["image_id"] for i in imgs if i["missing"]]
            if missing:
                raise ApiError("InvalidAMIID.NotFound", "The image id '[%s]' does not exist"
                               % ", ".join(missing))
        else:
            # Without ids: the images this simulator has seen (launched, described
            # or registered through the control API).
            imgs = [i for i in self.w.images.values() if not i["missing"]]
        for name, values in parse_filters(p):
            if name == "image-id":
                imgs = [i for i in imgs if any(glob_match(v, i["image_id"]) for v in values)]
            elif name == "platform":
                imgs = [i for i in imgs if i["platform"] == "windows" and "windows" in values]
            elif name == "root-device-name":
                imgs = [i for i in imgs if i["root_device_name"] in values]
            elif name == "name":
                imgs = [i for i in imgs if any(glob_match(v, i["name"]) for v in values)]
            elif name == "state":
                imgs = [i for i in imgs if "available" in values]
            else:
                raise ApiError("InvalidParameterValue", "The filter '%s' is invalid" % name)
        page, nxt = self.page(p, "images", imgs, 5, 1000, with_ids=bool(ids))
        self.items = len(page)
        return ("<DescribeImagesResponse xmlns=\"%s\"><requestId>%s</requestId>"
                "<imagesSet>%s</imagesSet>%s</DescribeImagesResponse>"
                % (NS, uuid.uuid4(), "".join(self.image_xml(i) for i in page),
                   "<nextToken>%s</nextToken>" % nxt if nxt else ""))

    # -- Volumes ----------------------------------------------------------------------
    def volume(self, vid):
        check_id(vid, "vol", "InvalidVolumeID.Malformed")
        v = self.w.volumes.get(vid)
        if not v or v.account != self.w.account or v.state == "deleted":
            raise ApiError("InvalidVolume.NotFound", "The volume '%s' does not exist." % vid)
        self.w.settle_volume(v)
        return v

    def volume_matches(self, v, filters):
        att = self.w.attachment(v)
        for name, values in filters:
            if name == "attachment.instance-id":
                ok = v.instance_id in values
            elif name == "attachment.device":
                ok = v.device in values
            elif name == "attachment.delete-on-termination":
                ok = att is not None and ("true" if att["delete_on_termination"]
                                          else "false") in values
            elif name == "attachment.status":
                ok = att is not None and att["status"] in values
            elif name == "volume-id":
                ok = v.id in values
            elif name == "volume-type":
                ok = v.type in values
            elif name == "status":
                ok = v.state in values
            elif name == "size":
                ok = str(v.size) in values
            elif name == "encrypted":
                ok = ("true" if v.encrypted else "false") in values
            elif name == "availability-zone":
                ok = any(glob_match(x, v.az) for x in values)
            elif name == "snapshot-id":
                ok = v.snapshot_id in values
            elif name == "tag-key":
                ok = any(glob_match(x, k) for x in values for k in v.tags)
            elif name.startswith("tag:"):
                ok = name[4:] in v.tags and any(glob_match(x, v.tags[name[4:]]) for x in values)
            else:
                raise ApiError("InvalidParameterValue", "The filter '%s' is invalid" % name)
            if not ok:
                return False
        return True

    @staticmethod
    def volume_request(p, dry):
        """VolumeId.N and the filters of a volume Describe; a dry run only
        checks the ids' form."""
        ids, filters = params_list(p, "VolumeId"), parse_filters(p)
        if dry:
            for i in ids:
                check_id(i, "vol", "InvalidVolumeID.Malformed")
        return ids, filters

    def DescribeVolumes(self, p, dry):
        ids, filters = self.volume_request(p, dry)
        if dry:
            return None
        t = time.monotonic()
        if ids:
            vols = [self.volume(i) for i in ids]
        else:
            vols = []
            for vid in self.w.volume_order:
                v = self.w.volumes[vid]
                if v.account == self.w.account and v.state != "deleted":
                    self.w.settle_volume(v, t)
                    vols.append(v)
        vols = [v for v in vols if self.volume_matches(v, filters)]
        # MaxResults: 5 to 500, larger values give 500 (API reference, older text);
        # not together with VolumeId.
        page, nxt = self.page(p, "volumes", vols, 5, 500, with_ids=bool(ids), cap=True)
        self.items = len(page)
        return ("<DescribeVolumesResponse xmlns=\"%s\"><requestId>%s</requestId>"
                "<volumeSet>%s</volumeSet>%s</DescribeVolumesResponse>"
                % (NS, uuid.uuid4(), "".join(self.w.volume_xml(v) for v in page),
                   "<nextToken>%s</nextToken>" % nxt if nxt else ""))

    @staticmethod
    def modification_xml(m, tag="item"):
        keys = ("volumeId", "modificationState", "statusMessage", "targetSize", "targetIops",
                "targetVolumeType", "targetThroughput", "targetMultiAttachEnabled",
                "originalSize", "originalIops", "originalVolumeType", "originalThroughput",
                "originalMultiAttachEnabled", "progress", "startTime", "endTime")
        return "<%s>%s</%s>" % (tag, "".join(
            "<%s>%s</%s>" % (k, ("true" if m[k] else "false") if isinstance(m[k], bool)
                             else escape(str(m[k])), k)
            for k in keys if m.get(k) is not None), tag)

    def ModifyVolume(self, p, dry):
        if "VolumeId" not in p:
            raise ApiError("MissingParameter", "The request must contain the parameter VolumeId")
        v = self.volume(p["VolumeId"])
        size = self.integer(p, "Size", "size")
        vtype = p.get("VolumeType")
        iops = self.integer(p, "Iops", "iops")
        tp = self.integer(p, "Throughput", "throughput")
        multi = self.boolean(p, "MultiAttachEnabled", None, "multiAttachEnabled")
        if size is None and vtype is None and iops is None and tp is None and multi is None:
            raise ApiError("MissingParameter", "Specify Size, VolumeType, Iops, Throughput or "
                           "MultiAttachEnabled")
        if multi:
            raise ApiError("InvalidParameterCombination", "Multi-Attach is not modelled by the "
                           "simulator")
        if size is not None and size < v.size:
            raise ApiError("InvalidParameterValue", "New size cannot be smaller than existing "
                           "size")
        new_type = vtype or v.type
        if new_type not in VOLUME_TYPES:
            self.volume_spec(new_type, 1, None, None)  # the volumeType error
        if "standard" in (new_type, v.type) and new_type != v.type:
            raise ApiError("InvalidParameterValue", "Volumes of type standard (magnetic) cannot "
                           "be modified to or from another type")
        # Defaults (ModifyVolume): IOPS kept on the same type, else 3,000 for
        # gp3/io1/io2; throughput kept gp3 to gp3, else 125.
        if iops is None and "iops" in VOLUME_TYPES[new_type]:
            iops = v.iops if new_type == v.type else 3000
        if tp is None and new_type == "gp3":
            tp = v.throughput if v.type == "gp3" else 125
        new_size = size if size is not None else v.size
        # Types without provisioned IOPS or throughput get only what was sent,
        # so that sending it is refused.
        new_iops, new_tp = self.volume_spec(new_type, new_size, iops, tp)
        if v.state not in ("in-use", "available"):
            raise ApiError("IncorrectState", "Volume '%s' is %s; it must be in-use or available"
                           % (v.id, v.state))
        t = time.monotonic()
        if v.mods and v.mods[-1]["modificationState"] != "completed":
            raise ApiError("IncorrectModificationState", "Volume '%s' cannot be modified while "
                           "its last modification is %s." % (v.id, v.mods[-1]["modificationState"]))
        f = self.w.faults
        cooldown = float(f["volume_modification_cooldown_s"] or 0)
        if cooldown > 0 and v.mods and t - v.mods[-1]["_start"] < cooldown:
            raise ApiError("VolumeModificationRateExceeded", "You've reached the maximum "
                           "modification rate per volume limit. Wait at least %g hours between "
                           "modifications per EBS volume." % (cooldown / 3600.0))
        window = float(f["volume_modification_window_s"])
        recent = [m["_start"] for m in v.mods if t - m["_start"] < window]
        if len(recent) >= int(f["volume_modifications_per_window"]):
            after = datetime.datetime.utcnow() + datetime.timedelta(
                seconds=window - (t - recent[0]))
            raise ApiError("VolumeModificationRateExceeded", "You've reached the maximum "
                           "modification rate per volume limit (%d in %g hours). You can modify "
                           "volume %s again after %s." % (int(f["volume_modifications_per_window"]),
                                                          window / 3600.0, v.id,
                                                          after.strftime("%Y-%m-%dT%H:%M:%SZ")))
        if dry:
            return None
        m = {"volumeId": v.id, "modificationState": "modifying", "targetSize": new_size,
             "targetIops": new_iops, "targetVolumeType": new_type, "targetThroughput": new_tp,
             "targetMultiAttachEnabled": False, "originalSize": v.size, "originalIops": v.iops,
             "originalVolumeType": v.type, "originalThroughput": v.throughput,
             "originalMultiAttachEnabled": False, "progress": 0, "startTime": now_iso(),
             "_start": t}
        v.mods.append(m)
        self.w.settle_volume(v, t)
        self.items = 1
        return ("<ModifyVolumeResponse xmlns=\"%s\"><requestId>%s</requestId>%s"
                "</ModifyVolumeResponse>"
                % (NS, uuid.uuid4(), self.modification_xml(m, "volumeModification")))

    def DescribeVolumesModifications(self, p, dry):
        ids, filters = self.volume_request(p, dry)
        if dry:
            return None
        t = time.monotonic()
        if ids:
            vols = [self.volume(i) for i in ids]
        else:
            vols = [self.w.volumes[x] for x in self.w.volume_order]
            vols = [v for v in vols if v.account == self.w.account and v.state != "deleted"
                    and v.mods]
        rows = []
        for v in vols:
            self.w.settle_volume(v, t)
            # Only the most recent modification; a volume never modified gives
            # an entry whose other fields are empty (API reference).
            rows.append(v.mods[-1] if v.mods else {"volumeId": v.id})
        fields = {"modification-state": "modificationState", "volume-id": "volumeId",
                  "target-size": "targetSize", "target-iops": "targetIops",
                  "target-volume-type": "targetVolumeType", "original-size": "originalSize",
                  "original-iops": "originalIops", "original-volume-type": "originalVolumeType",
                  "start-time": "startTime"}
        for name, values in filters:
            if name not in fields:
                raise ApiError("InvalidParameterValue", "The filter '%s' is invalid" % name)
            rows = [r for r in rows if r.get(fields[name]) is not None
                    and str(r[fields[name]]) in values]
        page, nxt = self.page(p, "modifications", rows, 1, 500, cap=True)
        self.items = len(page)
        return ("<DescribeVolumesModificationsResponse xmlns=\"%s\"><requestId>%s</requestId>"
                "<volumeModificationSet>%s</volumeModificationSet>%s"
                "</DescribeVolumesModificationsResponse>"
                % (NS, uuid.uuid4(), "".join(self.modification_xml(m) for m in page),
                   "<nextToken>%s</nextToken>" % nxt if nxt else ""))

    # -- IAM instance profile associations ------------------------------------------
    @staticmethod
    def association_xml(a, tag="item"):
        return ("<%s><associationId>%s</associationId><instanceId>%s</instanceId>"
                "<iamInstanceProfile><arn>%s</arn><id>%s</id></iamInstanceProfile>"
                "<state>%s</state><timestamp>%s</timestamp></%s>"
                % (tag, a["association_id"], a["instance_id"], escape(a["arn"]), a["id"],
                   a["state"], a["timestamp"], tag))

    def association(self, aid):
        if not aid:
            raise ApiError("MissingParameter", "The request must contain the parameter "
                           "AssociationId")
        a = self.w.associations.get(aid)
        if a is None or a["account"] != self.w.account:
            raise ApiError("InvalidAssociationID.NotFound",
                           "The association ID '%s' does not exist" % aid)
        self.w.settle_association(a, time.monotonic())
        return a

    def need_profile(self, p):
        prof = self.profile(p)
        if prof is None:
            raise ApiError("MissingParameter", "The request must contain the parameter "
                           "IamInstanceProfile")
        return prof

    def AssociateIamInstanceProfile(self, p, dry):
        inst = self.one(p)
        prof = self.need_profile(p)
        if inst.state not in ("running", "stopped"):
            # "Associates an IAM instance profile with a running or stopped instance."
            raise ApiError("IncorrectInstanceState", "The instance '%s' is not in the 'running' "
                           "or 'stopped' state." % inst.id)
        if inst.iam:
            raise ApiError("IncorrectState", "There is an existing association for instance %s"
                           % inst.id)
        self.w.mutate(inst)
        a = self.associate(inst, prof)
        self.items = 1
        return ("<AssociateIamInstanceProfileResponse xmlns=\"%s\"><requestId>%s</requestId>%s"
                "</AssociateIamInstanceProfileResponse>"
                % (NS, uuid.uuid4(), self.association_xml(a, "iamInstanceProfileAssociation")))

    def ReplaceIamInstanceProfileAssociation(self, p, dry):
        a = self.association(p.get("AssociationId"))
        prof = self.need_profile(p)
        inst = self.w.instances[a["instance_id"]]
        self.w.settle(inst)
        if inst.state != "running" or a["state"] not in ("associating", "associated") or \
                not inst.iam or inst.iam["association_id"] != a["association_id"]:
            # What EC2 answers for a stopped instance (aws/aws-cli#5251).
            raise ApiError("IncorrectState", "The association %s is not the active association"
                           % a["association_id"])
        self.w.mutate(inst)
        a["state"], a["next"] = "disassociated", None
        new = self.associate(inst, prof)
        self.items = 1
        return ("<ReplaceIamInstanceProfileAssociationResponse xmlns=\"%s\"><requestId>%s"
                "</requestId>%s</ReplaceIamInstanceProfileAssociationResponse>"
                % (NS, uuid.uuid4(), self.association_xml(new, "iamInstanceProfileAssociation")))

    def DisassociateIamInstanceProfile(self, p, dry):
        a = self.association(p.get("AssociationId"))
        if a["state"] not in ("associating", "associated"):
            raise ApiError("IncorrectState", "The association %s is not the active association"
                           % a["association_id"])
        inst = self.w.instances[a["instance_id"]]
        self.w.mutate(inst)
        a["state"], a["next"], a["due"] = "disassociating", "disassociated", self.w.due()
        if self.w.args.transition_seconds <= 0:
            a["state"], a["next"] = "disassociated", None
        out = self.association_xml(a, "iamInstanceProfileAssociation")
        self.w.settle(inst)
        inst._xml = None
        self.items = 1
        return ("<DisassociateIamInstanceProfileResponse xmlns=\"%s\"><requestId>%s</requestId>"
                "%s</DisassociateIamInstanceProfileResponse>" % (NS, uuid.uuid4(), out))

    def DescribeIamInstanceProfileAssociations(self, p, dry):
        ids = params_list(p, "AssociationId")
        t = time.monotonic()
        if ids:
            rows = [self.association(i) for i in ids]
        else:
            rows = [self.w.associations[x] for x in self.w.association_order]
            rows = [a for a in rows if a["account"] == self.w.account]
        for a in rows:
            self.w.settle_association(a, t)
        # A finished disassociation is no longer listed (the state filter knows
        # associating, associated and disassociating only).
        rows = [a for a in rows if a["state"] != "disassociated"]
        for name, values in parse_filters(p):
            if name == "instance-id":
                rows = [a for a in rows if a["instance_id"] in values]
            elif name == "state":
                rows = [a for a in rows if a["state"] in values]
            else:
                raise ApiError("InvalidParameterValue", "The filter '%s' is invalid" % name)
        page, nxt = self.page(p, "associations", rows, 5, 1000, with_ids=bool(ids))
        self.items = len(page)
        return ("<DescribeIamInstanceProfileAssociationsResponse xmlns=\"%s\"><requestId>%s"
                "</requestId><iamInstanceProfileAssociationSet>%s"
                "</iamInstanceProfileAssociationSet>%s"
                "</DescribeIamInstanceProfileAssociationsResponse>"
                % (NS, uuid.uuid4(), "".join(self.association_xml(a) for a in page),
                   "<nextToken>%s</nextToken>" % nxt if nxt else ""))

    # -- metadata options and monitoring ------------------------------------------------
    def ModifyInstanceMetadataOptions(self, p, dry):
        inst = self.one(p)
        md = self.metadata_options(p, inst.metadata)
        if not dry and inst.state in ("shutting-down", "terminated"):
            raise ApiError("IncorrectInstanceState", "The instance '%s' is not in the 'running' "
                           "or 'stopped' state." % inst.id)
        if dry:
            return None
        self.w.mutate(inst)
        # Pending, then applied: on a running instance after a moment, on a
        # stopped one once it runs again (API reference).
        md["state"] = "pending"
        inst.metadata, inst.metadata_due, inst._xml = md, self.w.due(), None
        self.w.settle(inst)
        self.items = 1
        return ("<ModifyInstanceMetadataOptionsResponse xmlns=\"%s\"><requestId>%s</requestId>"
                "<instanceId>%s</instanceId>%s</ModifyInstanceMetadataOptionsResponse>"
                % (NS, uuid.uuid4(), inst.id,
                   self.w.metadata_xml("instanceMetadataOptions", inst.metadata)))

    def set_monitoring(self, root, p, dry, on):
        insts = self.ids(p)
        for i in insts if not dry else []:
            if i.state in ("shutting-down", "terminated"):
                raise ApiError("IncorrectInstanceState", "The instance '%s' is not in a state "
                               "from which its monitoring can be changed." % i.id)
        if dry:
            return None
        rows = []
        for i in insts:
            target = "enabled" if on else "disabled"
            cur = i.monitoring_next or i.monitoring
            if cur != target:
                self.w.mutate(i)
                i.monitoring = "pending" if on else "disabling"
                i.monitoring_next, i.monitoring_due, i._xml = target, self.w.due(), None
                self.w.settle(i)
            rows.append("<item><instanceId>%s</instanceId><monitoring><state>%s</state>"
                        "</monitoring></item>" % (i.id, i.monitoring))
        self.items = len(rows)
        return ("<%s xmlns=\"%s\"><requestId>%s</requestId><instancesSet>%s</instancesSet></%s>"
                % (root, NS, uuid.uuid4(), "".join(rows), root))

    def MonitorInstances(self, p, dry):
        return self.set_monitoring("MonitorInstancesResponse", p, dry, True)

    def UnmonitorInstances(self, p, dry):
        return self.set_monitoring("UnmonitorInstancesResponse", p, dry, False)

    # -- placement groups ------------------------------------------------------------------
    def new_group(self, name, strategy, partitions=None, spread_level=None, tags=None,
                  commit=True):
        if not name or len(name) > 255 or not name.isascii():
            raise ApiError("InvalidParameterValue", "Value (%s) for parameter groupName is "
                           "invalid: 1 to 255 ASCII characters" % name)
        if strategy not in PLACEMENT_STRATEGIES:
            raise ApiError("InvalidParameterValue", "Value (%s) for parameter strategy is "
                           "invalid. Valid values: cluster | spread | partition." % strategy)
        if partitions is not None and strategy != "partition":
            raise ApiError("InvalidParameterCombination", "PartitionCount is valid only with "
                           "the partition strategy")
        if strategy == "partition":
            partitions = 2 if partitions is None else partitions
            if not 1 <= partitions <= MAX_PARTITIONS:
                raise ApiError("InvalidParameterValue", "Value (%d) for parameter partitionCount "
                               "is invalid: 1 to %d" % (partitions, MAX_PARTITIONS))
        if spread_level is not None and strategy != "spread":
            raise ApiError("InvalidParameterCombination", "SpreadLevel is valid only with the "
                           "spread strategy")
        if spread_level not in (None, "rack", "host"):
            raise ApiError("InvalidParameterValue", "Value (%s) for parameter spreadLevel is "
                           "invalid. Valid values: host | rack." % spread_level)
        if spread_level == "host":
            raise ApiError("InvalidParameterCombination", "Host spread level placement groups "
                           "are only available with AWS Outposts")
        key = (self.w.account, name)
        if key in self.w.pgroups:
            raise ApiError("InvalidPlacementGroup.Duplicate",
                           "The placement group '%s' already exists." % name)
        if not commit:
            return None
        gid = self.w.new_id("pg")
        g = {"name": name, "group_id": gid, "strategy": strategy, "state": "available",
             "partition_count": partitions,
             "spread_level": "rack" if strategy == "spread" else None, "tags": dict(tags or {}),
             "account": self.w.account,
             "arn": "arn:aws:ec2:%s:%s:placement-group/%s" % (self.w.args.region,
                                                              self.w.account, name)}
        self.w.pgroups[key] = g
        self.w.pgroup_order.append(key)
        return g

    @staticmethod
    def group_xml(g, tag="item"):
        tags = "".join("<item><key>%s</key><value>%s</value></item>" % (escape(k), escape(v))
                       for k, v in g["tags"].items())
        return ("<%s><groupName>%s</groupName><state>%s</state><strategy>%s</strategy>%s"
                "<groupId>%s</groupId><tagSet>%s</tagSet><groupArn>%s</groupArn>%s</%s>"
                % (tag, escape(g["name"]), g["state"], g["strategy"],
                   "<partitionCount>%d</partitionCount>" % g["partition_count"]
                   if g["partition_count"] else "", g["group_id"], tags, escape(g["arn"]),
                   "<spreadLevel>%s</spreadLevel>" % g["spread_level"]
                   if g["spread_level"] else "", tag))

    def CreatePlacementGroup(self, p, dry):
        tags, i = {}, 1
        while "TagSpecification.%d.ResourceType" % i in p:
            if p["TagSpecification.%d.ResourceType" % i] != "placement-group":
                raise ApiError("InvalidParameterValue", "'%s' is not a valid taggable resource "
                               "type for this operation." % p["TagSpecification.%d.ResourceType"
                                                              % i])
            k = 1
            while "TagSpecification.%d.Tag.%d.Key" % (i, k) in p:
                key = p["TagSpecification.%d.Tag.%d.Key" % (i, k)]
                self.check_tag(key)
                tags[key] = p.get("TagSpecification.%d.Tag.%d.Value" % (i, k), "")
                k += 1
            i += 1
        g = self.new_group(p.get("GroupName"), p.get("Strategy"),
                           self.integer(p, "PartitionCount", "partitionCount"),
                           p.get("SpreadLevel"), tags, commit=not dry)
        if dry:
            return None
        self.items = 1
        return ("<CreatePlacementGroupResponse xmlns=\"%s\"><requestId>%s</requestId>"
                "<return>true</return>%s</CreatePlacementGroupResponse>"
                % (NS, uuid.uuid4(), self.group_xml(g, "placementGroup")))

    def DescribePlacementGroups(self, p, dry):
        names, gids = params_list(p, "GroupName"), params_list(p, "GroupId")
        if dry:
            return None
        if names or gids:
            groups = [self.placement_group(n) for n in names] + \
                [self.placement_group(gid=g) for g in gids]
        else:
            groups = [self.w.pgroups[k] for k in self.w.pgroup_order
                      if k[0] == self.w.account and k in self.w.pgroups]
        for name, values in parse_filters(p):
            if name == "group-name":
                groups = [g for g in groups if any(glob_match(v, g["name"]) for v in values)]
            elif name == "group-arn":
                groups = [g for g in groups if g["arn"] in values]
            elif name == "strategy":
                groups = [g for g in groups if g["strategy"] in values]
            elif name == "state":
                groups = [g for g in groups if g["state"] in values]
            elif name == "spread-level":
                groups = [g for g in groups if g["spread_level"] in values]
            elif name == "tag-key":
                groups = [g for g in groups if any(glob_match(v, k) for v in values
                                                   for k in g["tags"])]
            elif name.startswith("tag:"):
                groups = [g for g in groups if name[4:] in g["tags"] and
                          any(glob_match(v, g["tags"][name[4:]]) for v in values)]
            else:
                raise ApiError("InvalidParameterValue", "The filter '%s' is invalid" % name)
        self.items = len(groups)
        return ("<DescribePlacementGroupsResponse xmlns=\"%s\"><requestId>%s</requestId>"
                "<placementGroupSet>%s</placementGroupSet></DescribePlacementGroupsResponse>"
                % (NS, uuid.uuid4(), "".join(self.group_xml(g) for g in groups)))

    def DeletePlacementGroup(self, p, dry):
        g = self.placement_group(p.get("GroupName"))
        t = time.monotonic()
        for iid in self.w.order:
            i = self.w.instances[iid]
            self.w.settle(i, t)
            if i.account == g["account"] and i.pgroup == g["name"] and i.state != "terminated":
                raise ApiError("InvalidPlacementGroup.InUse", "The placement group '%s' is in "
                               "use and may not be deleted." % g["name"])
        if dry:
            return None
        del self.w.pgroups[(g["account"], g["name"])]
        self.w.pgroup_order.remove((g["account"], g["name"]))
        return ("<DeletePlacementGroupResponse xmlns=\"%s\"><requestId>%s</requestId>"
                "<return>true</return></DeletePlacementGroupResponse>" % (NS, uuid.uuid4()))

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
        ids, filters, mr = self.paged_request(p, "HostId", "hostIdSet", 500)
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
           "AllocateHosts", "DescribeHosts", "ModifyHosts", "ReleaseHosts",
           "DescribeInstanceAttribute", "DescribeImages", "DescribeVolumes", "ModifyVolume",
           "DescribeVolumesModifications", "AssociateIamInstanceProfile",
           "ReplaceIamInstanceProfileAssociation", "DisassociateIamInstanceProfile",
           "DescribeIamInstanceProfileAssociations", "ModifyInstanceMetadataOptions",
           "MonitorInstances", "UnmonitorInstances", "CreatePlacementGroup",
           "DescribePlacementGroups", "DeletePlacementGroup")
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
                        "volumes": len(w.volumes),
                        "latency_model": w.latency_model()}
            if method == "GET" and path == "/_sim/latency_model":
                return w.latency_model()
            if method == "GET" and path == "/_sim/hosts":
                return {"hosts": [w.hosts[h].to_json(w) for h in w.host_order]}
            if method == "GET" and path == "/_sim/instances":
                for i in w.instances.values():
                    w.settle(i)
                return {"instances": [self.instance_json(w, w.instances[i]) for i in w.order]}
            out = self.control_resources(w, method, path, body)
            if out is not None:
                return out
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
                self.set_attributes(w, inst, req)
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
                        if v == "terminated":
                            w.release_resources(inst)
                    elif k == "tags":
                        inst.tags = dict(v)
                    elif k in field:
                        setattr(inst, field[k], v)
                    elif k not in ATTRIBUTE_FIELDS:
                        raise ValueError("unknown field '%s'" % k)
                inst._xml, inst.stale = None, None
                return self.instance_json(w, inst)
        raise KeyError(path)

    # -- control API: issue 14's resources ------------------------------------------
    @staticmethod
    def instance_json(w, inst):
        out = inst.to_json()
        root = next((b for b in inst.bdm if b["device_name"] == inst.root_device), None)
        v = w.volumes.get(root["volume_id"]) if root else None
        if v is not None:
            w.settle_volume(v)
        out["root_volume"] = {"volume_id": v.id, "size_gib": v.size, "type": v.type,
                              "iops": v.iops, "throughput": v.throughput,
                              "encrypted": v.encrypted, "kms_key_id": v.kms_key_id,
                              "delete_on_termination": root["delete_on_termination"]} \
            if v is not None else None
        return out

    @staticmethod
    def control_resources(w, method, path, body):
        """Instance profiles, KMS keys, placement groups, images and volumes;
        None when the path is none of them."""
        req = json.loads(body or b"{}") if method == "POST" else {}
        if path == "/_sim/instance_profiles":
            if method == "POST":
                name, acct = req.get("name"), req.get("account_id", w.account)
                if not isinstance(name, str) or not re.fullmatch(r"[\w+=,.@-]{1,128}", name):
                    raise ValueError("name: 1 to 128 of letters, digits and +=,.@_-")
                key = (acct, name)
                if key not in w.profiles:
                    w.profiles[key] = {
                        "name": name, "account": acct,
                        "arn": "arn:aws:iam::%s:instance-profile/%s" % (acct, name),
                        "id": "AIPA" + "".join(w.res_rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
                                               for _ in range(17)),
                        "created": now_iso()}
                return dict(w.profiles[key])
            return {"instance_profiles": [dict(x) for x in w.profiles.values()]}
        if path == "/_sim/kms_keys":
            if method == "POST":
                alias, acct = req.get("alias"), req.get("account_id", w.account)
                if not isinstance(alias, str) or not re.fullmatch(r"alias/[A-Za-z0-9/_-]{1,250}",
                                                                  alias):
                    raise ValueError("alias must be alias/NAME")
                if alias.startswith("alias/aws/") and alias != "alias/aws/ebs":
                    raise ValueError("alias/aws/ is reserved for AWS managed keys")
                w.kms_account(acct)
                key_id = w.add_key(acct, alias, req.get("key_id"))
                return {"alias": alias, "key_id": key_id, "arn": w.key_arn(acct, key_id),
                        "account_id": acct}
            w.kms_account(w.account)
            return {"kms_keys": [{"alias": a, "key_id": k, "arn": w.key_arn(acct, k),
                                  "account_id": acct}
                                 for acct, ks in w.kms.items() for a, k in ks["aliases"].items()]}
        if path == "/_sim/placement_groups":
            if method == "POST":
                try:
                    g = Ec2(w).new_group(req.get("name"), req.get("strategy"),
                                         req.get("partition_count"), req.get("spread_level"),
                                         req.get("tags"))
                except ApiError as e:
                    raise ValueError("%s: %s" % (e.code, e.message))
                return dict(g)
            return {"placement_groups": [dict(w.pgroups[k]) for k in w.pgroup_order]}
        if path == "/_sim/images":
            if method == "POST":
                iid = req.get("image_id")
                check_id(iid, "ami", "InvalidAMIID.Malformed")
                img = w.image(iid)
                for k, v in req.items():
                    if k == "image_id":
                        continue
                    if k not in ("platform", "root_device_name", "snapshot_size_gib",
                                 "volume_type", "missing", "name"):
                        raise ValueError("unknown image field '%s'" % k)
                    img[k] = v
                if img["platform"] not in ("linux", "windows") or \
                        img["volume_type"] not in VOLUME_TYPES or \
                        not DEVICE_NAME.fullmatch(img["root_device_name"]):
                    raise ValueError("platform, volume_type or root_device_name is invalid")
                return dict(img)
            return {"images": [dict(x) for x in w.images.values()]}
        if method == "GET" and path == "/_sim/volumes":
            for v in w.volumes.values():
                w.settle_volume(v)
            return {"volumes": [w.volumes[v].to_json(w) for v in w.volume_order]}
        return None

    @staticmethod
    def set_attributes(w, inst, req):
        """Out-of-band changes of issue 14's attributes (drift tests)."""
        for k, v in req.items():
            if k == "monitoring":
                inst.monitoring = "enabled" if v in (True, "enabled") else "disabled"
                inst.monitoring_next = None
            elif k in ("ebs_optimized", "disable_api_termination", "disable_api_stop"):
                setattr(inst, {"ebs_optimized": "ebs_optimized", "disable_api_termination": "dat",
                               "disable_api_stop": "das"}[k], bool(v))
            elif k == "metadata_options":
                bad = set(v) - set(METADATA_DEFAULTS) - {"state"}
                if bad:
                    raise ValueError("unknown metadata option '%s'" % sorted(bad)[0])
                inst.metadata.update(v)
                inst.metadata.setdefault("state", "applied")
            elif k == "iam_instance_profile":
                if inst.iam:
                    a = w.associations.get(inst.iam["association_id"])
                    if a:
                        a["state"], a["next"] = "disassociated", None
                    inst.iam = None
                if v is not None:
                    prof = w.profiles.get((inst.account, v)) or next(
                        (x for x in w.profiles.values() if x["arn"] == v), None)
                    if prof is None:
                        raise ValueError("unknown instance profile '%s'" % v)
                    ec2 = Ec2(w)
                    ec2.associate(inst, prof, state="associated")
            elif k == "root_volume":
                root = next((b for b in inst.bdm if b["device_name"] == inst.root_device), None)
                if root is None:
                    raise ValueError("the instance has no root volume")
                vol = w.volumes[root["volume_id"]]
                for rk, rv in v.items():
                    if rk == "delete_on_termination":
                        root["delete_on_termination"] = bool(rv)
                    elif rk == "kms_key_id":
                        vol.kms_key_id = (w.resolve_kms(rv) or rv) if rv else None
                    elif rk in ("size_gib", "type", "iops", "throughput", "encrypted"):
                        setattr(vol, {"size_gib": "size"}.get(rk, rk), rv)
                    else:
                        raise ValueError("unknown root_volume field '%s'" % rk)
            elif k == "placement_group":
                if v is not None and (inst.account, v) not in w.pgroups:
                    raise ValueError("unknown placement group '%s'" % v)
                inst.pgroup = v
            elif k == "user_data_b64":
                inst.user_data = v or None
            elif k == "security_group_ids":
                inst.sgs = list(v)
            elif k == "instance_initiated_shutdown_behavior":
                inst.shutdown_behavior = v

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
        # Fixed delays on top of the model's time (not counted as work).
        if f["latency_ms"]:
            self.extra_sleep(f["latency_ms"] / 1000.0)
        stall = f.get("stall")
        if stall and stall.get("action") == action and int(stall.get("nth", 1)) == nth:
            self.extra_sleep(float(stall.get("seconds", 30)))
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

    def extra_sleep(self, seconds):
        time.sleep(seconds)
        self.extra_s += seconds

    def model_wait(self, items):
        """The latency model's time for this answer: the answer takes that
        long in total, so only what the simulator's own work (parsing,
        waiting for the lock, building the XML) did not already take is
        slept, outside the lock so that concurrent requests overlap as they
        do on EC2. Sleeping the whole delay on top of the work would add the
        simulator's CPU time (one Python process: concurrent answers'
        work is serial) to every answer, and parallel listings would pay it
        once per stream in a row."""
        w = self.server.world
        with w.lock:
            delay = w.model_delay(items)
        spent = time.monotonic() - self.started - self.extra_s
        if delay > spent:
            time.sleep(delay - spent)
        self.latency_s = delay

    def handle_api(self, method):
        w = self.server.world
        # From here the answer's time runs (the latency model counts it all).
        self.started, self.extra_s = time.monotonic(), 0.0
        split = urllib.parse.urlsplit(self.path)
        body = self.read_body() if method == "POST" else b""
        action, dry, ids = "?", False, []
        received = time.time()
        self.latency_s = 0.0
        form = body.decode("utf-8", "replace") if method == "POST" else split.query
        params = dict(urllib.parse.parse_qsl(form, keep_blank_values=True))

        def record(status):
            # Logged before the answer goes out, so that a client reading the
            # log right after its call always finds the call there.
            with w.lock:
                w.call_log.append({"action": action, "instance_ids": ids, "dry_run": dry,
                                   "status": status, "received": received,
                                   "count": int(params.get("MaxCount") or 0)
                                   if action == "RunInstances" else len(ids)})
                w.requests.append({"action": params.get("Action"), "params": params,
                                   "status": status, "account_id": w.account,
                                   "latency_ms": round(self.latency_s * 1000.0, 3)})
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
                record(200)
                self.send(200, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + out)
            except ApiError as e:
                if e.code == "RequestLimitExceeded":
                    with w.lock:
                        w.throttled[action] = w.throttled.get(action, 0) + 1
                self.model_wait(0)
                record(e.status)
                self.send_error_doc(e)
            except HtmlAnswer as e:
                record(e.status)
                self.send(e.status, e.body, "text/html; charset=utf-8")
        except DropConnection:
            record(0)
            self.drop()

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
    ap.add_argument("--host-placement", choices=("implicit", "strict"), default="strict",
                    help="strict: host tenancy needs an allocated Dedicated Host")
    ap.add_argument("--volume-modification-cooldown", type=float, default=0.0,
                    help="seconds between two modifications of a volume (EC2's former six hours: "
                         "21600; default 0: only the rolling window applies)")
    ap.add_argument("--volume-modification-window", type=float, default=86400.0,
                    help="the rolling window of the per-volume modification limit, seconds")
    ap.add_argument("--volume-modifications-per-window", type=int, default=4,
                    help="modifications of one volume allowed in the window")
    ap.add_argument("--volume-modification-seconds", type=float, default=0.5,
                    help="seconds a modification spends modifying, then optimizing")
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
