"""Tenancy directions and irreversible steps (issue #10 point 4,
docs/TENANCY.md): the simulator refuses the directions the table forbids, the
planner replaces instead, and a failure after an irreversible move is
reported as what it is, never as a rollback."""
import unittest

from tests.integration.common import SimTestCase
from client import allocate_host  # noqa: E402  (tests/ec2sim/client.py)

CONFIG = """\
version: 1
instances:
  box:
    image_id: ami-0abcdef1234567890
    instance_type: %s
    placement: { tenancy: %s }
"""


class TestTenancy(SimTestCase):
    """tenancy: host without a host_id is auto-placement: the account has one
    m8i host that takes untargeted launches (the simulator is strict)."""

    def setUp(self):
        super().setUp()
        allocate_host(self.sim.url)

    def test_failure_after_the_irreversible_step_is_not_called_a_rollback(self):
        self.write_config(CONFIG % ("m8i.large", "dedicated"))
        self.ok("apply", "-auto-approve")
        iid = self.live()["box"]["instance_id"]
        self.write_config(CONFIG % ("m8i.xlarge", "host"))
        plan = self.ok("plan", "-json").json()["changes"][0]
        self.assertEqual(plan["steps"], ["stop", "modify_instance_type", "modify_placement", "start"])
        self.assertEqual(plan["irreversible_steps"], ["modify_placement"])
        self.sim.faults(action_errors={"StartInstances": {
            "code": "InsufficientHostCapacity", "status": 400, "count": 1,
            "message": "There is not enough capacity on the host"}})
        r = self.np("apply", "-auto-approve")
        self.assertEqual(r.rc, 1, r)
        text = r.out + r.err
        self.assertIn("EC2 allows no way back", text)
        self.assertIn("keeps its new configuration", text)
        self.assertNotIn("previous configuration", text)
        box = self.live()["box"]
        # started again as it now is: nothing left stopped, nothing undone
        self.assertEqual((box["instance_id"], box["tenancy"], box["instance_type"], box["state"]),
                         (iid, "host", "m8i.xlarge", "running"))
        types = [r["params"].get("InstanceType.Value") for r in
                 self.sim._req("GET", "/_sim/requests")["requests"]
                 if r["action"] == "ModifyInstanceAttribute" and r["params"].get("DryRun") != "true"]
        self.assertEqual(types, ["m8i.xlarge"])

    def test_a_failure_before_it_is_undone(self):
        self.write_config(CONFIG % ("m8i.large", "dedicated"))
        self.ok("apply", "-auto-approve")
        self.write_config(CONFIG % ("m8i.xlarge", "host"))
        self.sim.faults(action_errors={"ModifyInstancePlacement": {
            "code": "InsufficientHostCapacity", "status": 400, "count": 1}})
        r = self.np("apply", "-auto-approve")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("previous configuration", r.out + r.err)
        box = self.live()["box"]
        self.assertEqual((box["tenancy"], box["instance_type"], box["state"]),
                         ("dedicated", "m8i.large", "running"))

    def test_forbidden_directions_are_replacements(self):
        for before, after in (("default", "dedicated"), ("default", "host"),
                              ("dedicated", "default"), ("host", "dedicated"), ("host", "default")):
            with self.subTest(before=before, after=after):
                self.sim.reset()
                allocate_host(self.sim.url)
                self.ok("state", "rm", "box") if self.np("state", "list").out.strip() else None
                self.write_config(CONFIG % ("m8i.large", before))
                self.ok("apply", "-auto-approve")
                old = self.live()["box"]["instance_id"]
                self.write_config(CONFIG % ("m8i.large", after))
                plan = self.ok("plan", "-json").json()["changes"][0]
                self.assertEqual(plan["action"], "replace")
                self.assertIn("%s → %s" % (before, after), plan["replace_reason"])
                self.ok("apply", "-auto-approve")
                box = self.live()["box"]
                self.assertNotEqual(box["instance_id"], old)
                self.assertEqual(box["tenancy"], after)


if __name__ == "__main__":
    unittest.main()
