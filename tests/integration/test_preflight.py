"""Preflight that stops on anything it does not understand (issue #10 point
3): only DryRunOperation, UnauthorizedOperation (named) and the documented
state/parameter errors of a not-yet-modified instance may pass; a 5xx after
retries, an unknown code or an HTML page stops the apply before any instance
is stopped. Calls EC2 cannot dry-run get no DryRun and are listed."""
import unittest

from tests.integration.common import SimTestCase

CONFIG = """\
version: 1
instances:
  web:
    count: 2
    image_id: ami-0abcdef1234567890
    instance_type: %s
    cpu_options: { nested_virtualization: enabled }
"""


class TestPreflight(SimTestCase):
    def setUp(self):
        super().setUp()
        self.write_config(CONFIG % "m8i.large")
        self.ok("apply", "-auto-approve")
        self.write_config(CONFIG % "m8i.xlarge")

    def real_calls(self, action):
        return [c for c in self.sim.calls() if c["action"] == action and not c["dry_run"]]

    def refused(self, fault, *expect):
        self.sim.faults(action_errors={"ModifyInstanceCpuOptions": dict(fault, dry_run=True)})
        r = self.np("apply", "-auto-approve")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("ModifyInstanceCpuOptions", r.err)
        self.assertIn("nothing was changed", r.err)
        for e in expect:
            self.assertIn(e, r.err)
        self.assertEqual(self.real_calls("StopInstances"), [])
        for i in self.live().values():
            self.assertEqual((i["state"], i["instance_type"]), ("running", "m8i.large"))
        self.sim.faults(action_errors={})

    def test_a_500_on_the_dry_run_stops_before_any_stop(self):
        self.refused({"code": "InternalError", "status": 500}, "InternalError", "HTTP 500")

    def test_an_unknown_code_stops(self):
        self.refused({"code": "InvalidAction", "status": 400}, "InvalidAction")
        self.refused({"code": "SomethingNew", "status": 400}, "SomethingNew")

    def test_an_html_answer_stops(self):
        self.refused({"code": "InternalError", "status": 502, "html": True}, "HTTP 502")

    def test_denied_names_the_permission(self):
        self.refused({"code": "UnauthorizedOperation", "status": 403},
                     "ec2:ModifyInstanceCpuOptions")

    def test_expected_state_error_passes_and_apply_converges(self):
        # EC2 checks a running instance's state in a dry run of a stopped-only call
        self.sim.faults(action_errors={"ModifyInstanceCpuOptions": {
            "code": "IncorrectInstanceState", "status": 400, "dry_run": True}})
        self.ok("apply", "-auto-approve")
        self.sim.faults(action_errors={})
        for i in self.live().values():
            self.assertEqual((i["state"], i["instance_type"]), ("running", "m8i.xlarge"))
        self.ok("plan", "-detailed-exitcode")


if __name__ == "__main__":
    unittest.main()
