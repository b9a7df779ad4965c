"""After a type change every CPU option the file sets is sent again,
nested_virtualization: disabled included, whatever EC2 reset them to (issue
#10 point 7)."""
import unittest

from tests.integration.common import SimTestCase

CONFIG = """\
version: 1
instances:
  box:
    image_id: ami-0abcdef1234567890
    instance_type: %s
    cpu_options: { nested_virtualization: disabled }
"""


class TestCpuResend(SimTestCase):
    def test_disabled_is_sent_again_after_the_type_change(self):
        self.write_config(CONFIG % "m8i.large")
        self.ok("apply", "-auto-approve")
        self.write_config(CONFIG % "m8i.xlarge")
        plan = self.ok("plan", "-json").json()["changes"][0]
        self.assertEqual(plan["steps"], ["stop", "modify_instance_type", "modify_cpu_options", "start"])
        self.ok("apply", "-auto-approve")
        sent = [(r["action"], r["params"].get("NestedVirtualization"))
                for r in self.sim._req("GET", "/_sim/requests")["requests"]
                if r["params"].get("DryRun") != "true" and r["action"] in
                ("ModifyInstanceAttribute", "ModifyInstanceCpuOptions")]
        self.assertEqual(sent, [("ModifyInstanceAttribute", None),
                                ("ModifyInstanceCpuOptions", "disabled")])
        box = self.live()["box"]
        self.assertEqual((box["instance_type"], box["nested_virtualization"], box["state"]),
                         ("m8i.xlarge", "disabled", "running"))
        self.ok("plan", "-detailed-exitcode")


if __name__ == "__main__":
    unittest.main()
