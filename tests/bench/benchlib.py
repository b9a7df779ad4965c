"""Shared pieces of the benchmarks: the simulator, a fleet seeded straight
into it and into the state, and one measured run of a command (wall, CPU
and peak memory of that process alone, and the EC2 calls it made)."""
import json
import os
import selectors
import sqlite3
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "ec2sim"))

from client import call  # noqa: E402,F401  (tests/ec2sim/client.py)
from harness import Simulator  # noqa: E402,F401

NESTPLAN = os.environ.get("NESTPLAN") or os.path.join(ROOT, "build", "nestplan")
AMI = "ami-0abcdef1234567890"

FLEET = """version: 1
instances:
  runner:
    count: %d
    image_id: ami-0abcdef1234567890
    instance_type: %s
    cpu_options: { nested_virtualization: enabled }
%s"""

# Every attribute of the table's gen entries set (issue 14's refresh cost):
# the file, the RunInstances parameters and the state's fields.
ATTRS_PG = "bench-pg"
ATTRS_YAML = """    placement: { tenancy: default, group_name: %s }
    ebs_optimized: true
    monitoring: true
    disable_api_termination: true
    disable_api_stop: false
    metadata_options: { http_tokens: required, http_put_response_hop_limit: 2,
                        http_endpoint: enabled, instance_metadata_tags: enabled }
""" % ATTRS_PG
ATTRS_PARAMS = {"Placement.GroupName": ATTRS_PG, "EbsOptimized": "true",
                "Monitoring.Enabled": "true", "DisableApiTermination": "true",
                "DisableApiStop": "false", "MetadataOptions.HttpTokens": "required",
                "MetadataOptions.HttpPutResponseHopLimit": "2",
                "MetadataOptions.HttpEndpoint": "enabled",
                "MetadataOptions.InstanceMetadataTags": "enabled"}
ATTRS_STATE = {"ebs_optimized": True, "monitoring": True, "disable_api_termination": True,
               "disable_api_stop": False,
               "metadata_options": {"http_tokens": "required", "http_put_response_hop_limit": 2,
                                    "http_endpoint": "enabled",
                                    "instance_metadata_tags": "enabled"}}


class Run:
    """One measured process: wall, cpu (s), rss_mib (peak), rc, out, err,
    calls (EC2 calls by action) and throttled (calls EC2 refused)."""


def measured(argv, cwd, env, sim=None):
    """Run argv and measure that process only (wall, CPU, peak RSS via wait4)."""
    c0 = sim.stats() if sim else None
    t0 = time.monotonic()
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out = bytearray()
    err = bytearray()
    # Read both pipes without reaping the child, then reap it with wait4.
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ, out)
    sel.register(p.stderr, selectors.EVENT_READ, err)
    while sel.get_map():
        for key, _ in sel.select():
            chunk = os.read(key.fileobj.fileno(), 65536)
            if not chunk:
                sel.unregister(key.fileobj)
            else:
                key.data.extend(chunk)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stdout.close()
    p.stderr.close()
    r = Run()
    r.wall = time.monotonic() - t0
    r.rc = p.returncode
    r.out, r.err = out.decode(errors="replace"), err.decode(errors="replace")
    r.cpu = ru.ru_utime + ru.ru_stime
    r.rss_mib = ru.ru_maxrss / 1024.0
    r.calls, r.throttled = {}, 0
    if sim:
        c1 = sim.stats()
        r.calls = {k: v - c0["calls"].get(k, 0) for k, v in c1["calls"].items()
                   if v != c0["calls"].get(k, 0)}
        r.throttled = sum(c1["throttled"].values()) - sum(c0["throttled"].values())
    return r


def nestplan_env(sim):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("AWS_") or k.startswith("NESTPLAN_"):
            del env[k]
    env.update(sim.env(), NESTPLAN_IN_AUTOMATION="1", NO_COLOR="1")
    return env


def write_config(work, n, instance_type, user_data_kib=0, attributes=False):
    with open(os.path.join(work, "nestplan.yaml"), "w") as f:
        f.write(FLEET % (n, instance_type, ATTRS_YAML if attributes else ""))
        if user_data_kib:
            # A boot script of that size, shared by the group's instances.
            line = "      echo " + "x" * 58 + "\n"
            f.write("    user_data: |\n      #!/bin/sh\n" + line * (user_data_kib * 1024 // 70))


def seed_fleet(sim, work, env, n, instance_type="m8i.2xlarge", user_data_kib=0,
               attributes=False):
    """A managed fleet of n running instances, launched in the simulator and
    recorded in the state as nestplan would (faster than applying it); with
    attributes, every attribute of the table set."""
    write_config(work, n, instance_type, user_data_kib, attributes)
    if attributes:
        sim._req("POST", "/_sim/placement_groups", {"name": ATTRS_PG, "strategy": "partition"})
    subprocess.run([NESTPLAN, "init"], cwd=work, env=env, check=True, capture_output=True)
    lineage = json.loads(subprocess.run([NESTPLAN, "show", "-json"], cwd=work, env=env,
                                        check=True, capture_output=True,
                                        text=True).stdout)["lineage"]
    ids = []
    for off in range(0, n, 1000):
        k = min(1000, n - off)
        r = call(sim.url, "RunInstances", {
            "ImageId": AMI, "InstanceType": instance_type,
            "MinCount": str(k), "MaxCount": str(k),
            "CpuOptions.NestedVirtualization": "enabled",
            "TagSpecification.1.ResourceType": "instance",
            "TagSpecification.1.Tag.1.Key": "nestplan:lineage",
            "TagSpecification.1.Tag.1.Value": lineage,
            "TagSpecification.1.Tag.2.Key": "nestplan:address",
            "TagSpecification.1.Tag.2.Value": "runner[%d..%d]" % (off, off + k - 1),
            **(ATTRS_PARAMS if attributes else {})})
        if r.status != 200:
            raise RuntimeError("seeding the fleet: %s" % r.body[:300])
        ids += [e.text for e in r.find_all("instanceId")]
    cores = {"m8i.large": 1, "m8i.xlarge": 2, "m8i.2xlarge": 4}[instance_type]
    db = sqlite3.connect(os.path.join(work, "nestplan.db"))
    db.executemany("INSERT INTO resources(address, instance_id, data) VALUES (?, ?, ?)", [
        ("runner[%d]" % i, iid, json.dumps({
            "address": "runner[%d]" % i, "instance_id": iid, "instance_type": instance_type,
            "image_id": AMI, "state": "running",
            "cpu_options": {"core_count": cores, "threads_per_core": 2,
                            "nested_virtualization": "enabled"},
            "placement": dict({"tenancy": "default"},
                              **({"group_name": ATTRS_PG} if attributes else {})),
            "platform": "linux", "tags": {}, **(ATTRS_STATE if attributes else {})}))
        for i, iid in enumerate(ids)])
    db.commit()
    db.close()
    return lineage, ids
