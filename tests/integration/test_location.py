"""The state pins where it lives (issue #10 point 2): the region of the first
apply and the account of EC2's answers. A run against another region is
refused before any call; another account or a listing where none of the
recorded instances exists is refused instead of planned as a fleet to launch
again; an adopted instance EC2 does not report is an error, never a launch."""
import json
import unittest

from tests.integration.common import SimTestCase

CONFIG = """\
version: 1
instances:
  web:
    count: 2
    image_id: ami-0abcdef1234567890
    instance_type: m8i.large
"""

ADOPT = CONFIG + """\
  legacy:
    instance_id: %s
    instance_type: m8i.large
"""


class TestLocation(SimTestCase):
    def setUp(self):
        super().setUp()
        self.write_config(CONFIG)
        self.ok("apply", "-auto-approve")

    def calls(self):
        return sum(self.sim.stats()["calls"].values())

    def test_first_apply_pins_region_and_account(self):
        shown = self.ok("show", "-json").json()
        self.assertEqual(shown["region"], "us-east-1")
        self.assertEqual(shown["account"], "123456789012")
        self.assertNotIn("owner_id", shown["resources"][0])

    def test_another_region_is_refused_before_any_call(self):
        env = dict(self.env, AWS_REGION="eu-west-1")
        before = self.calls()
        for cmd in (["plan"], ["apply", "-auto-approve"], ["drift"], ["destroy", "-auto-approve"]):
            r = self.np(*cmd, env=env)
            self.assertEqual(r.rc, 1, r)
            self.assertIn("us-east-1", r.err)
            self.assertIn("eu-west-1", r.err)
            self.assertIn("refusing before any call", r.err)
        self.assertEqual(self.calls(), before)
        self.assertEqual(sorted(self.live()), ["web[0]", "web[1]"])
        self.ok("plan", "-detailed-exitcode")

    def test_none_of_the_recorded_instances_exist(self):
        # Another endpoint's (or account's) EC2 knows none of them: today the
        # whole fleet would be planned as gone and launched again.
        ids = sorted(i["instance_id"] for i in self.live().values())
        self.sim.reset()
        r = self.np("plan", "-json")
        self.assertEqual(r.rc, 1, r)
        # With -json the error is the plan document's diagnostic (issue 17).
        (diag,) = r.json()["diagnostics"]
        self.assertEqual(diag["severity"], "error")
        self.assertIn("none of the 2 recorded instances exist in us-east-1", diag["message"])
        r = self.np("plan")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("none of the 2 recorded instances exist in us-east-1", r.err)
        r = self.np("apply", "-auto-approve")
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(self.sim.instances(), [])
        # the ids were looked up one by one before refusing
        described = [c for c in self.sim.calls() if c["action"] == "DescribeInstances"]
        self.assertTrue(described)
        self.assertEqual(sorted(i["instance_id"] for i in self.state_resources().values()), ids)

    def test_answers_of_another_account_are_refused(self):
        # Credentials of another account: its answer carries its ownerId.
        web0 = self.live()["web[0]"]["instance_id"]
        self.sim.set_instance(web0, account_id="210987654321")
        self.sim._req("POST", "/_sim/account", {"account_id": "210987654321"})
        for cmd in (["plan"], ["apply", "-auto-approve"], ["drift"]):
            r = self.np(*cmd)
            self.assertEqual(r.rc, 1, r)
            self.assertIn("EC2 answered for account 210987654321", r.err)
            self.assertIn("belongs to account 123456789012", r.err)
        self.assertEqual(len(self.sim.instances()), 2)
        # an account that sees none of them at all
        self.sim._req("POST", "/_sim/account", {"account_id": "111111111111"})
        r = self.np("plan")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("none of the 2 recorded instances exist", r.err)

    def test_an_adopted_instance_ec2_no_longer_reports_is_an_error(self):
        # an instance launched outside this state (by a second one, then forgotten)
        other = self.write_config(CONFIG.replace("web", "other").replace("count: 2", "count: 1"),
                                  "other.yaml")
        self.ok("apply", "-auto-approve", "-config=" + other, "-state=other.db")
        outside = [i for i in self.sim.instances()
                   if i["tags"].get("nestplan:address") == "other[0]"][0]["instance_id"]
        self.ok("state", "rm", "-state=other.db", "other[0]")
        self.sim.set_instance(outside, tags={})
        self.write_config(ADOPT % outside)
        self.ok("apply", "-auto-approve")
        self.sim.set_instance(outside, state="terminated")
        n = len(self.sim.instances())
        r = self.np("plan", "-json")
        self.assertEqual(r.rc, 1, r)
        diags = [d["message"] for d in json.loads(r.out)["diagnostics"] if d["severity"] == "error"]
        self.assertTrue(any("adopted instance %s" % outside in d for d in diags), diags)
        r = self.np("apply", "-auto-approve")
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(len(self.sim.instances()), n)


if __name__ == "__main__":
    unittest.main()
