"""The latency model (issue 19, point 1) and what parallel listing needs from
the simulator: answers take base + per item + seeded jitter, concurrent
requests overlap, and DescribeInstances filter wildcards partition a fleet
into streams that page independently."""
import os
import sys
import threading
import time
import unittest
import urllib.error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client import call  # noqa: E402
from harness import Simulator  # noqa: E402

AMI = "ami-0abcdef1234567890"
TAG = "nestplan:address"


def ids_of(reply):
    return [e.text for e in reply.find_all("instanceId")]


def tag_filter(*values):
    p = {"Filter.1.Name": "tag:" + TAG}
    for n, v in enumerate(values, 1):
        p["Filter.1.Value.%d" % n] = v
    return p


class LatencyCase(unittest.TestCase):
    options = {}

    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator(transition_seconds=0, seed=5, **cls.options)
        cls.sim.__enter__()
        cls.url = cls.sim.url

    @classmethod
    def tearDownClass(cls):
        cls.sim.__exit__(None, None, None)

    def setUp(self):
        self.sim.reset()

    def fleet(self, addresses):
        """One instance per address, tagged as nestplan tags them."""
        r = call(self.url, "RunInstances", {"ImageId": AMI, "InstanceType": "t3.small",
                                            "MinCount": str(len(addresses)),
                                            "MaxCount": str(len(addresses))})
        self.assertEqual(r.status, 200, r.body)
        out = {}
        for iid, address in zip(ids_of(r), addresses):
            self.sim.set_instance(iid, tags={TAG: address})
            out[address] = iid
        return out

    def stream(self, params, page=5):
        """All ids of one filtered listing, following its NextToken chain."""
        got, token = [], None
        while True:
            p = dict(params, MaxResults=str(page))
            if token:
                p["NextToken"] = token
            r = call(self.url, "DescribeInstances", p)
            self.assertEqual(r.status, 200, r.body)
            got += ids_of(r)
            token = r.text("nextToken")
            if not token:
                return got

    def latencies(self, action):
        return [r["latency_ms"] for r in self.sim.requests() if r["action"] == action]


class TestModelSettings(LatencyCase):
    options = {"latency_model": "aws", "latency_base_ms": 30, "latency_per_item_ms": 2,
               "latency_jitter": 0.1}

    def test_flags_are_reported_and_the_model_switches_at_run_time(self):
        m = self.sim.latency_model()
        self.assertEqual((m["model"], m["base_ms"], m["per_item_ms"], m["jitter"], m["seed"]),
                         ("aws", 30.0, 2.0, 0.1, 5))
        self.assertEqual(self.sim.stats()["latency_model"], m)
        self.sim.faults(latency_model="none")
        self.assertEqual(self.sim.latency_model()["model"], "none")
        call(self.url, "DescribeInstances")
        self.assertEqual(self.latencies("DescribeInstances"), [0.0])
        self.sim.faults(latency_model="aws", latency_base_ms=10, latency_per_item_ms=0.5,
                        latency_jitter=0)
        self.assertEqual(self.sim.latency_model()["base_ms"], 10)
        for bad in ({"latency_model": "slow"}, {"latency_jitter": -1},
                    {"latency_base_ms": "x"}):
            with self.assertRaises(urllib.error.HTTPError) as e:
                self.sim.faults(**bad)
            self.assertEqual(e.exception.code, 400)
        self.sim.reset()
        self.assertEqual(self.sim.latency_model()["base_ms"], 30.0)

    def test_each_answer_costs_base_plus_items_within_the_jitter(self):
        self.fleet(["runner[%d]" % i for i in range(40)])
        call(self.url, "DescribeInstances", {"MaxResults": "10"})
        call(self.url, "DescribeInstances", {"MaxResults": "40"})
        call(self.url, "DescribeInstances", {"InstanceId.1": "i-0000000000000dead"})  # an error
        ten, forty, err = self.latencies("DescribeInstances")
        self.assertTrue(50 * 0.9 <= ten <= 50 * 1.1, ten)       # 30 + 10 x 2
        self.assertTrue(110 * 0.9 <= forty <= 110 * 1.1, forty)  # 30 + 40 x 2
        self.assertTrue(30 * 0.9 <= err <= 30 * 1.1, err)        # an error: base only
        launch = self.latencies("RunInstances")[0]                # 40 launched
        self.assertTrue(110 * 0.9 <= launch <= 110 * 1.1, launch)
        r = call(self.url, "DescribeInstanceTypes", {"MaxResults": "5"})
        self.assertEqual(len(r.find_all("instanceType")), 5)
        types = self.latencies("DescribeInstanceTypes")[0]
        self.assertTrue(40 * 0.9 <= types <= 40 * 1.1, types)
        # the answer really waited (a lower bound, not a timing of speed)
        t0 = time.monotonic()
        call(self.url, "DescribeInstances", {"MaxResults": "40"})
        self.assertGreaterEqual(time.monotonic() - t0, 0.110 * 0.9)


class TestJitterIsSeeded(unittest.TestCase):
    def run_sim(self, seed):
        with Simulator(transition_seconds=0, seed=seed, latency_model="aws", latency_base_ms=2,
                       latency_per_item_ms=0, latency_jitter=0.5) as sim:
            for _ in range(5):
                call(sim.url, "DescribeInstances")
            return [r["latency_ms"] for r in sim.requests()]

    def test_same_seed_same_delays(self):
        a, b, c = self.run_sim(3), self.run_sim(3), self.run_sim(4)
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)
        self.assertEqual(len(set(a)), 5)
        self.assertTrue(all(1.0 <= d <= 3.0 for d in a), a)


class TestConcurrentPagesOverlap(LatencyCase):
    options = {"latency_model": "aws", "latency_base_ms": 400, "latency_per_item_ms": 0,
               "latency_jitter": 0}

    def test_n_pages_at_once_take_about_one_page(self):
        self.fleet(["runner[%d]" % i for i in range(40)])
        t0 = time.monotonic()
        call(self.url, "DescribeInstances", dict(tag_filter("runner[*0]"), MaxResults="5"))
        single = time.monotonic() - t0
        self.assertGreaterEqual(single, 0.4)
        n, errors = 4, []

        def one(d):
            r = call(self.url, "DescribeInstances", dict(tag_filter("runner[*%d]" % d),
                                                         MaxResults="5"))
            if r.status != 200 or len(ids_of(r)) != 4:
                errors.append(r.body)

        threads = [threading.Thread(target=one, args=(d,)) for d in range(n)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        self.assertEqual(errors, [])
        # Sequential would be n x single; a loose bound, not a benchmark.
        self.assertLess(wall, 0.6 * n * single, (wall, single))


class TestWildcards(LatencyCase):
    """User Guide, "List and filter using the CLI and API": * zero or more
    characters, ? zero or one, backslash escapes; nothing else is special."""

    def setUp(self):
        super().setUp()
        self.by = self.fleet(["runner[%d]" % i for i in range(25)] +
                             ["runner[]", "a*b", "axb", "a\\b", "web[1]"])

    def listed(self, *values):
        r = call(self.url, "DescribeInstances", tag_filter(*values))
        self.assertEqual(r.status, 200, r.body)
        return sorted(a for a, i in self.by.items() if i in ids_of(r))

    def test_star_is_zero_or_more(self):
        self.assertEqual(self.listed("runner[1*"),
                         sorted(["runner[1]"] + ["runner[1%d]" % d for d in range(10)]))
        self.assertEqual(self.listed("*[1]"), ["runner[1]", "web[1]"])

    def test_question_mark_is_zero_or_one(self):
        self.assertEqual(self.listed("runner[?]"),
                         sorted(["runner[]"] + ["runner[%d]" % d for d in range(10)]))
        self.assertEqual(self.listed("runner[2?]"),
                         sorted(["runner[2]"] + ["runner[2%d]" % d for d in range(5)]))

    def test_backslash_makes_a_character_literal(self):
        self.assertEqual(self.listed("a\\*b"), ["a*b"])
        self.assertEqual(self.listed("a*b"), ["a*b", "a\\b", "axb"])
        self.assertEqual(self.listed("a\\\\b"), ["a\\b"])
        self.assertEqual(self.listed("a?b"), ["a*b", "a\\b", "axb"])

    def test_brackets_are_literal_and_values_are_or(self):
        self.assertEqual(self.listed("runner[3]", "web[1]"), ["runner[3]", "web[1]"])
        self.assertEqual(self.listed("runner[[]3]"), [])


class TestPartitionedStreams(LatencyCase):
    options = {"latency_model": "aws", "latency_base_ms": 20, "latency_per_item_ms": 0.5,
               "latency_jitter": 0.2}

    def test_last_digit_partitions_page_independently_and_cover_the_fleet_once(self):
        by = self.fleet(["runner[%d]" % i for i in range(100)])
        results, errors = {}, []

        def run(d):
            try:
                results[d] = self.stream(tag_filter("runner[*%d]" % d), page=5)
            except Exception as e:  # reported below, not lost in the thread
                errors.append(repr(e))

        threads = [threading.Thread(target=run, args=(d,)) for d in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for d, got in results.items():
            self.assertEqual(sorted(got), sorted(by["runner[%d]" % i]
                                                 for i in range(d, 100, 10)))
        everything = [i for got in results.values() for i in got]
        self.assertEqual(len(everything), 100)
        self.assertEqual(set(everything), set(by.values()))
        # each stream paged: 10 matches at 5 a page is two pages and a token
        tokens = [r for r in self.sim.requests()
                  if r["action"] == "DescribeInstances" and "NextToken" in r["params"]]
        self.assertEqual(len(tokens), 10)

    def test_a_partition_token_is_bound_to_its_partition(self):
        self.fleet(["runner[%d]" % i for i in range(20)])
        r = call(self.url, "DescribeInstances", dict(tag_filter("runner[*1]"), MaxResults="5"))
        self.assertEqual(len(ids_of(r)), 2)
        r = call(self.url, "DescribeInstances", dict(tag_filter("runner[1*"), MaxResults="5"))
        token = r.text("nextToken")
        self.assertTrue(token)
        r = call(self.url, "DescribeInstances", dict(tag_filter("runner[*1]"), MaxResults="5",
                                                    NextToken=token))
        self.assertEqual((r.status, r.code), (400, "InvalidParameterValue"))
        r = call(self.url, "DescribeInstances", dict(tag_filter("runner[1*"), MaxResults="5",
                                                    NextToken=token))
        self.assertEqual(len(ids_of(r)), 5)  # runner[1], runner[10..19]: 11 = 5 + 5 + 1


if __name__ == "__main__":
    unittest.main()
