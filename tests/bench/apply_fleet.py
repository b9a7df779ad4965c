#!/usr/bin/env python3
"""Benchmark: a fleet changing instance type against one instance making
the same change, with --transition-seconds 1 (stop and start take a second).

    python3 tests/bench/apply_fleet.py [N]        (default 200)
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "ec2sim"))
from harness import Simulator  # noqa: E402

NESTPLAN = os.environ.get("NESTPLAN") or os.path.join(ROOT, "build", "nestplan")
CONFIG = """version: 1
instances:
  runner:
    count: %d
    image_id: ami-0abcdef1234567890
    instance_type: %s
    cpu_options: { nested_virtualization: enabled }
"""


def change(n, sim):
    work = tempfile.mkdtemp(prefix="nestplan-bench-")
    env = dict(os.environ, **sim.env(), NESTPLAN_IN_AUTOMATION="1")
    try:
        with open(os.path.join(work, "nestplan.yaml"), "w") as f:
            f.write(CONFIG % (n, "m8i.large"))
        subprocess.run([NESTPLAN, "apply", "-auto-approve", "-parallelism=20"], cwd=work, env=env,
                       check=True, capture_output=True)
        with open(os.path.join(work, "nestplan.yaml"), "w") as f:
            f.write(CONFIG % (n, "m8i.xlarge"))
        c0 = sim.stats()["calls"]
        t0 = time.time()
        p = subprocess.run([NESTPLAN, "apply", "-auto-approve", "-parallelism=20"], cwd=work,
                           env=env, capture_output=True, text=True)
        wall = time.time() - t0
        if p.returncode:
            sys.exit(p.stdout[-2000:] + p.stderr[-2000:])
        c1 = sim.stats()["calls"]
        calls = {k: c1[k] - c0.get(k, 0) for k in c1 if c1[k] != c0.get(k, 0)}
        return wall, calls
    finally:
        shutil.rmtree(work)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with Simulator(transition_seconds=1) as sim:
        one, one_calls = change(1, sim)
        sim.reset()
        fleet, fleet_calls = change(n, sim)
    print("type change m8i.large -> m8i.xlarge, nested virtualization kept, transition 1 s")
    print("  1 instance:    %6.2f s  %s" % (one, one_calls))
    print("  %d instances: %6.2f s  %s" % (n, fleet, fleet_calls))
    print("  fleet / one:   %6.2f (target < 3)" % (fleet / one))


if __name__ == "__main__":
    main()
