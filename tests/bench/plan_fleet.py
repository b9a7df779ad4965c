#!/usr/bin/env python3
"""Benchmark: plan over N managed instances against the simulator.

    python3 tests/bench/plan_fleet.py [N]        (default 10000)

Prints wall time, CPU time, peak memory of `nestplan plan` and the EC2 calls
it made by action, for a cold and a warm instance-type cache."""
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "ec2sim"))
from client import call  # noqa: E402
from harness import Simulator  # noqa: E402

NESTPLAN = os.environ.get("NESTPLAN") or os.path.join(ROOT, "build", "nestplan")


def run(args, cwd, env):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    p = subprocess.run([NESTPLAN] + args, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.time() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p, wall, cpu, after.ru_maxrss / 1024.0


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    work = tempfile.mkdtemp(prefix="nestplan-bench-")
    with Simulator(transition_seconds=0) as sim:
        env = dict(os.environ, **sim.env(), NESTPLAN_IN_AUTOMATION="1")
        with open(os.path.join(work, "nestplan.yaml"), "w") as f:
            f.write("version: 1\ninstances:\n  runner:\n    count: %d\n"
                    "    image_id: ami-0abcdef1234567890\n    instance_type: m8i.2xlarge\n"
                    "    cpu_options: { nested_virtualization: enabled }\n" % n)
        subprocess.run([NESTPLAN, "init"], cwd=work, env=env, check=True, capture_output=True)
        lineage = json.loads(subprocess.run([NESTPLAN, "show", "-json"], cwd=work, env=env,
                                            check=True, capture_output=True, text=True).stdout)["lineage"]
        # The fleet: launched in batches, then tagged and recorded as nestplan would.
        ids = []
        for off in range(0, n, 1000):
            k = min(1000, n - off)
            r = call(sim.url, "RunInstances", {
                "ImageId": "ami-0abcdef1234567890", "InstanceType": "m8i.2xlarge",
                "MinCount": str(k), "MaxCount": str(k),
                "CpuOptions.NestedVirtualization": "enabled",
                "TagSpecification.1.ResourceType": "instance",
                "TagSpecification.1.Tag.1.Key": "nestplan:lineage",
                "TagSpecification.1.Tag.1.Value": lineage})
            ids += [e.text for e in r.find_all("instanceId")]
        db = sqlite3.connect(os.path.join(work, "nestplan.db"))
        rows = []
        for i, iid in enumerate(ids):
            addr = "runner[%d]" % i
            sim.set_instance(iid, tags={"nestplan:lineage": lineage, "nestplan:address": addr})
            rows.append((addr, iid, json.dumps({
                "address": addr, "instance_id": iid, "instance_type": "m8i.2xlarge",
                "image_id": "ami-0abcdef1234567890", "state": "running",
                "cpu_options": {"core_count": 4, "threads_per_core": 2,
                                "nested_virtualization": "enabled"},
                "placement": {"tenancy": "default"}, "platform": "linux", "tags": {}})))
        db.executemany("INSERT INTO resources(address, instance_id, data) VALUES (?, ?, ?)", rows)
        db.commit()
        db.close()
        print("plan over %d managed instances (simulator, loopback)" % n)
        print("%-12s %8s %8s %10s  %s" % ("cache", "wall s", "cpu s", "peak MiB", "EC2 calls"))
        for label in ("cold", "warm"):
            c0 = sim.stats()["calls"]
            p, wall, cpu, rss = run(["plan", "-detailed-exitcode"], work, env)
            c1 = sim.stats()["calls"]
            calls = {k: c1.get(k, 0) - c0.get(k, 0) for k in c1 if c1.get(k, 0) != c0.get(k, 0)}
            if p.returncode != 0:
                print(p.stdout[-2000:], p.stderr[-2000:])
                sys.exit("plan exited %d (expected 0: nothing to change)" % p.returncode)
            print("%-12s %8.2f %8.2f %10.1f  %s" % (label, wall, cpu, rss, json.dumps(calls)))
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
