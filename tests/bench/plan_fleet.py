#!/usr/bin/env python3
"""Benchmark: `nestplan plan` over N managed instances, beside the floor (a
raw, signed fetch of the same DescribeInstances pages) and the AWS CLI
listing the same fleet.

    python3 tests/bench/plan_fleet.py [N ...]        (default 10000)
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (NESTPLAN, Simulator, call, measured, nestplan_env, seed_fleet,  # noqa: E402
                      write_config)

RUNS = 3


def one_page(sim, lineage):
    """One 1,000-instance DescribeInstances page: under the latency model,
    the time EC2 takes for a page (the unit of the parallel-refresh target)."""
    t0 = time.monotonic()
    call(sim.url, "DescribeInstances", {"Filter.1.Name": "tag:nestplan:lineage",
                                        "Filter.1.Value.1": lineage, "MaxResults": "1000"})
    return time.monotonic() - t0


def raw_fetch(sim, lineage):
    """The floor of one stream: the pages nestplan fetches, signed, fetched
    and not parsed, one after the other (each needs the previous token)."""
    t0 = time.monotonic()
    token, pages = None, 0
    while True:
        p = {"Filter.1.Name": "tag:nestplan:lineage", "Filter.1.Value.1": lineage,
             "MaxResults": "1000"}
        if token:
            p["NextToken"] = token
        r = call(sim.url, "DescribeInstances", p)
        pages += 1
        token = r.text("nextToken")
        if not token:
            return time.monotonic() - t0, pages


def aws_cli(sim, env, lineage):
    if not shutil.which("aws"):
        return None, "aws CLI not installed"
    r = measured(["aws", "ec2", "describe-instances", "--page-size", "1000",
                  "--filters", "Name=tag:nestplan:lineage,Values=" + lineage,
                  "--query", "Reservations[].Instances[].InstanceId", "--output", "text"],
                 None, env, sim)
    if r.rc != 0:
        return None, "aws CLI failed: " + r.err.strip()[-200:]
    return r, str(len(r.out.split()))


def plan_bench(n, latency_model=None, user_data_kib=0, runs=RUNS, cli=True):
    """Returns a dict of figures for a plan over n instances; latency_model
    "aws" runs the simulator with EC2's latency (tests/ec2sim/README.md)."""
    work = tempfile.mkdtemp(prefix="nestplan-bench-")
    opts = {"transition_seconds": 0}
    if latency_model:
        opts["latency_model"] = latency_model
        opts["seed"] = 7
    try:
        with Simulator(**opts) as sim:
            env = nestplan_env(sim)
            lineage, _ = seed_fleet(sim, work, env, n, user_data_kib=user_data_kib)
            cold = measured([NESTPLAN, "plan", "-detailed-exitcode"], work, env, sim)
            if cold.rc != 0:
                raise RuntimeError("plan exited %d (expected 0: nothing to change)\n%s%s"
                                   % (cold.rc, cold.out[-1500:], cold.err[-1500:]))
            warm = [measured([NESTPLAN, "plan", "-detailed-exitcode"], work, env, sim)
                    for _ in range(runs)]
            floor = [raw_fetch(sim, lineage) for _ in range(runs)]
            page = [one_page(sim, lineage) for _ in range(runs)]
            cli, cli_note = aws_cli(sim, env, lineage) if cli else (None, "not run")
            if cli and cli_note != str(n):
                raise RuntimeError("the AWS CLI counted %s instances, not %d" % (cli_note, n))
        return {
            "n": n,
            "cold": cold,
            "wall": statistics.median(r.wall for r in warm),
            "cpu": statistics.median(r.cpu for r in warm),
            "rss": max(r.rss_mib for r in warm + [cold]),
            "calls": warm[0].calls,
            "floor": statistics.median(f[0] for f in floor),
            "page": statistics.median(page),
            "pages": floor[0][1],
            "cli": cli.wall if cli else None,
            "cli_note": None if cli else cli_note,
        }
    finally:
        subprocess.run(["rm", "-rf", work])


def attributes_bench(n, n_cycle=None):
    """The calls of a plan over n instances with every attribute set: with
    nothing to change, and with a type change of every one of n_cycle
    instances (default n; a stop for each, so its stop protection flag is
    read: one DescribeInstanceAttribute per instance, paced at EC2's rate)."""
    work = tempfile.mkdtemp(prefix="nestplan-bench-")
    try:
        with Simulator(transition_seconds=0) as sim:
            env = nestplan_env(sim)
            seed_fleet(sim, work, env, n, attributes=True)
            same = measured([NESTPLAN, "plan", "-detailed-exitcode"], work, env, sim)
            if same.rc != 0:
                raise RuntimeError("plan exited %d (expected 0: nothing to change)\n%s%s"
                                   % (same.rc, same.out[-1500:], same.err[-1500:]))
            if n_cycle is not None and n_cycle != n:
                sim.reset()
                subprocess.run(["rm", "-rf", work])
                os.mkdir(work)
                seed_fleet(sim, work, env, n_cycle, attributes=True)
            write_config(work, n_cycle or n, "m8i.xlarge", attributes=True)
            cycle = measured([NESTPLAN, "plan", "-detailed-exitcode"], work, env, sim)
            if cycle.rc != 2:
                raise RuntimeError("plan exited %d (expected 2: every type changes)\n%s%s"
                                   % (cycle.rc, cycle.out[-1500:], cycle.err[-1500:]))
        return {"n": n, "n_cycle": n_cycle or n, "same": same, "cycle": cycle}
    finally:
        subprocess.run(["rm", "-rf", work])


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [10000]
    for n in sizes:
        f = plan_bench(n)
        print("plan over %d managed instances (warm cache, median of %d)" % (n, RUNS))
        print("  nestplan plan   wall %.2f s  cpu %.2f s  peak %.1f MiB  calls %s"
              % (f["wall"], f["cpu"], f["rss"], f["calls"]))
        print("  cold cache      wall %.2f s  calls %s" % (f["cold"].wall, f["cold"].calls))
        print("  raw page fetch  wall %.2f s  (%d pages; the floor)" % (f["floor"], f["pages"]))
        print("  AWS CLI         %s" % ("wall %.2f s" % f["cli"] if f["cli"] else f["cli_note"]))
        a = attributes_bench(n)
        print("every attribute set, nothing to change  wall %.2f s  calls %s"
              % (a["same"].wall, a["same"].calls))
        print("every attribute set, every type changes wall %.2f s  calls %s"
              % (a["cycle"].wall, a["cycle"].calls))


if __name__ == "__main__":
    main()
