"""Fleet scale: identical instances launch together, lifecycle calls are
shared, and EC2's rate limits are met rather than hit."""
import unittest

from tests.integration.common import SimTestCase

FLEET = """\
version: 1
instances:
  runner:
    count: %d
    image_id: ami-0abcdef1234567890
    instance_type: %s
    cpu_options: { nested_virtualization: enabled }
    tags: { team: ci }
"""


class TestFleet(SimTestCase):
    sim_args = {"transition_seconds": 0.2}

    def calls(self, action):
        return [c for c in self.sim.calls() if c["action"] == action and not c["dry_run"]]

    def test_identical_instances_launch_in_one_call_per_hundred(self):
        self.write_config(FLEET % (150, "m8i.large"))
        self.ok("apply", "-auto-approve")
        runs = self.calls("RunInstances")
        # runner[0..99] and runner[100..149]: EC2 launches all or none of a call.
        self.assertEqual(sorted(c["count"] for c in runs), [50, 100])
        self.assertEqual(self.calls("CreateTags"), [])  # tags went with the launch
        live = self.live()
        self.assertEqual(sorted(live), sorted("runner[%d]" % i for i in range(150)))
        self.assertTrue(all(i["tags"]["team"] == "ci" for i in live.values()))
        self.assert_state_matches_sim()
        self.ok("plan", "-detailed-exitcode", rc=0)

        # A state that lost some of them finds them again by tag and launch index.
        before = {a: i["instance_id"] for a, i in live.items()}
        self.ok("state", "rm", "runner[5]", "runner[120]")
        self.ok("apply", "-auto-approve")
        self.assertEqual(len(self.calls("RunInstances")), 2)  # nothing launched again
        res = self.state_resources()
        self.assertEqual(res["runner[5]"]["instance_id"], before["runner[5]"])
        self.assertEqual(res["runner[120]"]["instance_id"], before["runner[120]"])

    def test_only_identical_instances_share_a_launch(self):
        self.write_config(FLEET % (3, "m8i.large") + """\
  builder:
    count: 2
    image_id: ami-0abcdef1234567890
    instance_type: m8i.xlarge
""")
        self.ok("apply", "-auto-approve")
        runs = sorted(c["count"] for c in self.calls("RunInstances"))
        self.assertEqual(runs, [2, 3])
        self.assertEqual(sorted(self.live()), ["builder[0]", "builder[1]", "runner[0]",
                                               "runner[1]", "runner[2]"])
        self.assert_state_matches_sim()

    def test_capacity_shortfall_fails_only_the_instances_without_capacity(self):
        self.write_config(FLEET % (5, "m8i.large"))
        self.sim.faults(capacity={"instance_type": "m8i.large", "available": 3})
        r = self.ok("apply", "-auto-approve", rc=1)
        # The call for all five is refused whole; one by one, three get capacity.
        self.assertEqual(len(self.live()), 3)
        self.assertIn("InsufficientInstanceCapacity", r.err)
        self.assertIn("hint: try another availability zone or instance type", r.err)
        self.assertIn("2 instances failed", r.err)
        self.assert_state_matches_sim()
        self.sim.faults(capacity=None)
        self.ok("apply", "-auto-approve")
        self.assertEqual(sorted(self.live()), ["runner[%d]" % i for i in range(5)])
        self.assertEqual(len([i for i in self.sim.instances() if i["state"] != "terminated"]), 5)
        self.assert_state_matches_sim()

    def test_fleet_change_under_ec2_rate_limits_is_not_throttled(self):
        self.sim.faults(rate_limits=True)
        self.write_config(FLEET % (60, "m8i.large"))
        self.ok("apply", "-auto-approve", "-parallelism=20")
        self.write_config(FLEET % (60, "m8i.xlarge"))
        self.ok("apply", "-auto-approve", "-parallelism=20")
        self.assertEqual(self.sim.stats()["throttled"], {})
        self.assertLessEqual(len(self.calls("StopInstances")), 3)
        self.assertLessEqual(len(self.calls("StartInstances")), 12)
        self.assertTrue(all(i["instance_type"] == "m8i.xlarge" for i in self.live().values()))
        self.assert_state_matches_sim()


if __name__ == "__main__":
    unittest.main()
