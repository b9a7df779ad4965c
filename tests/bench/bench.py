#!/usr/bin/env python3
"""`make bench`: every benchmark scenario, one table (Markdown, so it can go
into docs/BENCHMARKS.md as printed), and a PASS/MISS line per target.

    python3 tests/bench/bench.py [--quick] [--out FILE]

--quick: 1,000/5,000 instances for the plans (10,000 for the tenfold one) and
300 for the rate-limited applies (a minute or two instead of about ten).
"""
import argparse
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apply_fleet  # noqa: E402
import plan_fleet  # noqa: E402


def calls_text(calls):
    return ", ".join("%s %d" % (k, v) for k, v in sorted(calls.items())) or "none"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    small, large, fleet = (1000, 5000, 300) if args.quick else (10000, 50000, 1000)
    huge = 10 * small

    lines, checks = [], []
    p1 = plan_fleet.plan_bench(small)
    p2 = plan_fleet.plan_bench(large)
    # At EC2's latency (the simulator's model, tests/ec2sim/README.md), and a
    # fleet ten times larger with 16 KiB of user data in its group.
    pl = plan_fleet.plan_bench(small, latency_model="aws")
    ph = plan_fleet.plan_bench(huge, user_data_kib=16, runs=1, cli=False)
    lines += [
        "| scenario | wall | CPU | peak memory | EC2 calls | reference |",
        "|---|---|---|---|---|---|",
    ]
    for p in (p1, p2):
        ref = "raw page fetch %.2f s (%.2fx)" % (p["floor"], p["wall"] / p["floor"])
        if p["cli"]:
            ref += "; AWS CLI %.2f s (%.2fx)" % (p["cli"], p["wall"] / p["cli"])
        else:
            ref += "; AWS CLI: %s" % p["cli_note"]
        lines.append("| plan, %d instances, warm cache | %.2f s | %.2f s | %.0f MiB | %s | %s |"
                     % (p["n"], p["wall"], p["cpu"], p["rss"], calls_text(p["calls"]), ref))
    lines.append("| plan, %d instances, cold cache | %.2f s | %.2f s | %.0f MiB | %s | |"
                 % (p1["n"], p1["cold"].wall, p1["cold"].cpu, p1["cold"].rss_mib,
                    calls_text(p1["cold"].calls)))
    ref = ("one 1,000-instance page %.2f s (%.2fx); one stream's pages %.2f s (%.2fx)"
           % (pl["page"], pl["wall"] / pl["page"], pl["floor"], pl["wall"] / pl["floor"]))
    ref += ("; AWS CLI %.2f s (%.2fx)" % (pl["cli"], pl["wall"] / pl["cli"]) if pl["cli"]
            else "; AWS CLI: %s" % pl["cli_note"])
    lines.append("| plan, %d instances, --latency-model aws | %.2f s | %.2f s | %.0f MiB | %s | %s |"
                 % (pl["n"], pl["wall"], pl["cpu"], pl["rss"], calls_text(pl["calls"]), ref))
    lines.append("| plan, %d instances, 16 KiB user data | %.2f s | %.2f s | %.0f MiB | %s | "
                 "%d instances %.2f s (%.2fx) |"
                 % (ph["n"], ph["wall"], ph["cpu"], ph["rss"], calls_text(ph["calls"]), p1["n"],
                    p1["wall"], ph["wall"] / p1["wall"]))
    # The type change reads each instance's stop protection, one call each at
    # EC2's pace (20/s after a burst of 100): 1,000 instances show the slope.
    attrs = plan_fleet.attributes_bench(small, min(small, 1000))
    for what, k, r in (("nothing to change", small, attrs["same"]),
                       ("every type changes", attrs["n_cycle"], attrs["cycle"])):
        lines.append("| plan, %d instances, every attribute set, %s | %.2f s | %.2f s | %.0f MiB "
                     "| %s | |" % (k, what, r.wall, r.cpu, r.rss_mib, calls_text(r.calls)))
    lines.append("| (so: plan, %d instances, every attribute set, every type changes) | "
                 "about %.0f s | | | DescribeInstanceAttribute %d more | EC2's refill of 20/s |"
                 % (small, (small - 100) / 20.0, small))
    for name, r, floor in apply_fleet.scenarios(fleet):
        total = sum(r.calls.values())
        lines.append("| %s under --rate-limits | %.1f s | %.2f s | %.0f MiB | %s | floor %.1f s "
                     "(%.2fx); throttled %d of %d calls (%.1f%%) |"
                     % (name, r.wall, r.cpu, r.rss_mib, calls_text(r.calls), floor,
                        r.wall / floor, r.throttled, total, 100.0 * r.throttled / max(1, total)))
        if name.startswith("type change"):
            checks.append(("type change within 1.25x of the rate-limit floor",
                           r.wall <= 1.25 * floor))
            checks.append(("type change under 5% throttled", r.throttled < 0.05 * total))

    checks += [
        ("plan under the latency model: at most 2x one page", pl["wall"] <= 2 * pl["page"]),
        ("plan under the latency model: at most 0.25x the AWS CLI's listing",
         pl["cli"] is None or pl["wall"] <= 0.25 * pl["cli"]),
        ("plan over %d: at most 11x the %d wall" % (huge, small), ph["wall"] <= 11 * p1["wall"]),
        ("plan over %d with 16 KiB user data: at most 400 MiB peak" % huge, ph["rss"] <= 400),
        ("plan: at most 12 DescribeInstances per 10,000 (16 streams: one page each)",
         p1["calls"].get("DescribeInstances", 0) <= max(12, 16 + 2)),
        ("plan, every attribute set: no DescribeInstanceAttribute with nothing to change",
         "DescribeInstanceAttribute" not in attrs["same"].calls),
        ("plan, every attribute set: one DescribeInstanceAttribute per stopped instance",
         attrs["cycle"].calls.get("DescribeInstanceAttribute", 0) == attrs["n_cycle"]),
        ("plan: no DescribeInstanceTypes on a warm cache",
         "DescribeInstanceTypes" not in p1["calls"]),
        ("plan: under 1 s CPU", p1["cpu"] < 1.0),
        ("plan: under 100 MiB peak", p1["rss"] < 100),
        ("plan: wall at most 1.5x the raw page fetch", p1["wall"] <= 1.5 * p1["floor"]),
        ("plan: wall at most half the AWS CLI's", p1["cli"] is None or p1["wall"] <= 0.5 * p1["cli"]),
        ("plan: %d instances in about %dx the time of %d (%.1fx)"
         % (large, large // small, small, p2["wall"] / p1["wall"]),
         p2["wall"] / p1["wall"] <= 1.3 * large / small),
    ]
    head = "Machine: %s, %d CPUs, Python %s; nestplan %s" % (
        platform.platform(), os.cpu_count(), platform.python_version(), plan_fleet.NESTPLAN)
    text = "\n".join([head, ""] + lines + [""] +
                     ["- %s: %s" % ("PASS" if ok else "MISS", what) for what, ok in checks])
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
