"""Parallel refresh (issue #16 point 2): a large fleet is listed as several
independent paginated streams at once, partitioned on the instance id's last
hex digit; every instance is seen exactly once and the plan is the one a
single stream gives; a small fleet still makes one call."""
import json
import unittest

from tests.integration.common import SimTestCase

CONFIG = """\
version: 1
instances:
  runner:
    count: %d
    image_id: ami-0abcdef1234567890
    instance_type: m8i.large
"""


class TestParallelRefresh(SimTestCase):
    def describe_calls(self):
        return [r for r in self.sim._req("GET", "/_sim/requests")["requests"]
                if r["action"] == "DescribeInstances"]

    def test_streams_see_every_instance_once_and_plan_the_same(self):
        self.write_config(CONFIG % 2100)
        # EC2's launch bucket would take minutes to launch 2,100: not the point here
        self.ok("apply", "-auto-approve", timeout=300,
                env=dict(self.env, NESTPLAN_RATE_LIMIT="off"))
        self.write_config(CONFIG % 2050)     # 50 to destroy, the rest no-op
        before = len(self.describe_calls())
        many = self.ok("plan", "-json").json()
        calls = self.describe_calls()[before:]
        streams = [c for c in calls if c["params"].get("Filter.2.Name") == "instance-id"]
        digits = sorted(v for c in streams for k, v in c["params"].items()
                        if k.startswith("Filter.2.Value."))
        self.assertEqual(digits, sorted("i-*%s" % d for d in "0123456789abcdef"))
        env = dict(self.env, NESTPLAN_REFRESH_STREAMS="1")
        one = self.ok("plan", "-json", env=env).json()
        self.assertEqual(json.dumps(many, sort_keys=True), json.dumps(one, sort_keys=True))
        self.assertEqual(sum(c["action"] == "delete" for c in many["changes"]), 50)
        self.assertEqual(sum(c["action"] == "no-op" for c in many["changes"]), 2050)

    def test_a_small_fleet_makes_one_call(self):
        self.write_config(CONFIG % 3)
        self.ok("apply", "-auto-approve")
        before = len(self.describe_calls())
        self.ok("plan", "-detailed-exitcode")
        listing = [c for c in self.describe_calls()[before:]
                   if c["params"].get("Filter.1.Name") == "tag:nestplan:lineage"]
        self.assertEqual(len(listing), 1)
        self.assertNotIn("Filter.2.Name", listing[0]["params"])


if __name__ == "__main__":
    unittest.main()
