#!/usr/bin/env python3
"""Benchmark: apply at fleet scale under EC2's rate limits (the simulator's
--rate-limits buckets), beside the floor those buckets allow.

    python3 tests/bench/apply_fleet.py [N]        (default 1000)

1. launch N identical instances;
2. change the type of all N (stop, ModifyInstanceAttribute,
   ModifyInstanceCpuOptions, start), nested virtualization kept.

The floor of a scenario is the transitions it must wait for plus the
longest time any one bucket needs to grant the calls (and, for the
lifecycle actions, the instances) that the scenario cannot do without:
max over buckets of (need - bucket size) / refill rate.
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import NESTPLAN, Simulator, measured, nestplan_env, write_config  # noqa: E402

TRANSITION = 2.0
# EC2's default buckets (tests/ec2sim/README.md): size, refill per second.
MUTATING = (200, 5)
RESOURCE = {"RunInstances": (1000, 2), "StartInstances": (1000, 2),
            "StopInstances": (1000, 20), "TerminateInstances": (1000, 20)}


def bucket_time(need, bucket):
    size, rate = bucket
    return max(0.0, (need - size) / rate)


def launch_floor(n):
    # EC2 allows all n in one call: one request token and n resource tokens.
    return TRANSITION + max(bucket_time(1, MUTATING),
                            bucket_time(n, RESOURCE["RunInstances"]))


def type_change_floor(n):
    # Stop and start can share calls; the two modifications are one call per
    # instance each, on two APIs with buckets of their own.
    per_instance = bucket_time(n, MUTATING)
    return (2 * TRANSITION + bucket_time(n, RESOURCE["StopInstances"])
            + max(per_instance, bucket_time(n, RESOURCE["StartInstances"])))


def scenarios(n):
    work = tempfile.mkdtemp(prefix="nestplan-bench-")
    out = []
    try:
        with Simulator(transition_seconds=TRANSITION, rate_limits=True) as sim:
            env = nestplan_env(sim)
            write_config(work, n, "m8i.large")
            launch = measured([NESTPLAN, "apply", "-auto-approve", "-parallelism=20"], work,
                              env, sim)
            if launch.rc:
                raise RuntimeError(launch.out[-2000:] + launch.err[-2000:])
            out.append(("launch %d" % n, launch, launch_floor(n)))
            sim.faults(rate_limits=True)  # buckets full again, as after a quiet while
            write_config(work, n, "m8i.xlarge")
            change = measured([NESTPLAN, "apply", "-auto-approve", "-parallelism=20"], work,
                              env, sim)
            if change.rc:
                raise RuntimeError(change.out[-2000:] + change.err[-2000:])
            out.append(("type change %d" % n, change, type_change_floor(n)))
    finally:
        shutil.rmtree(work)
    return out


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    print("apply under EC2's rate limits (simulator --rate-limits, transitions %.0f s)"
          % TRANSITION)
    for name, r, floor in scenarios(n):
        total = sum(r.calls.values())
        print("  %-18s wall %7.1f s  floor %7.1f s  (%.2fx)  throttled %d of %d calls (%.1f%%)"
              % (name, r.wall, floor, r.wall / floor, r.throttled, total,
                 100.0 * r.throttled / max(1, total)))
        print("  %-18s calls %s" % ("", r.calls))


if __name__ == "__main__":
    main()
