"""A saved plan acts only on what it may (issue #13 point 8): an edited plan
file's instance ids are not obeyed; each change is checked again at apply
time against the state and the live instance."""
import json
import os
import unittest

from tests.integration.common import SimTestCase

CONFIG = """\
version: 1
instances:
  %s:
    image_id: ami-0abcdef1234567890
    instance_type: %s
"""


class TestSavedPlan(SimTestCase):
    def setUp(self):
        super().setUp()
        self.write_config(CONFIG % ("web", "m8i.large"))
        self.ok("apply", "-auto-approve")
        other = self.write_config(CONFIG % ("db", "m8i.large"), "other.yaml")
        self.ok("apply", "-auto-approve", "-config=" + other, "-state=other.db")
        self.mine = self.live()["web"]["instance_id"]
        self.theirs = self.live()["db"]["instance_id"]
        self.write_config(CONFIG % ("web", "m8i.xlarge"))
        self.ok("plan", "-out=change.plan", rc=0)

    def edit(self, fn):
        path = os.path.join(self.dir, "change.plan")
        with open(path) as f:
            plan = json.load(f)
        fn(plan)
        with open(path, "w") as f:
            json.dump(plan, f)

    def stops(self):
        return [c for c in self.sim.calls() if c["action"] == "StopInstances" and not c["dry_run"]]

    def test_an_edited_instance_id_is_refused(self):
        def swap(plan):
            for c in plan["changes"]:
                if c.get("instance_id") == self.mine:
                    c["instance_id"] = self.theirs
        self.edit(swap)
        r = self.np("apply", "change.plan")
        self.assertEqual(r.rc, 1, r)
        self.assertIn(self.theirs, r.err)
        self.assertIn("does not manage", r.err)
        self.assertEqual(self.stops(), [])
        db = self.live()["db"]
        self.assertEqual((db["instance_type"], db["state"]), ("m8i.large", "running"))

    def test_a_change_that_no_longer_matches_is_refused(self):
        self.sim.set_instance(self.mine, instance_type="m8i.2xlarge")
        r = self.np("apply", "change.plan")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("no longer matches", r.err)
        self.assertEqual(self.stops(), [])

    def test_the_untouched_plan_applies(self):
        self.ok("apply", "change.plan")
        self.assertEqual(self.live()["web"]["instance_type"], "m8i.xlarge")
        self.assertEqual(self.live()["db"]["instance_type"], "m8i.large")


if __name__ == "__main__":
    unittest.main()
