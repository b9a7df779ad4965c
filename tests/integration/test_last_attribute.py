"""The last attribute added to the table (metadata_options.http_protocol_ipv6)
end to end: launched with it, read back, no change on the next plan, changed
live with no StopInstances, drift reported. Its commit touched two files
under src/ and include/: a field and a table entry."""
import unittest

from tests.integration.common import SimTestCase

CONFIG = """\
version: 1
instances:
  box:
    image_id: ami-0abcdef1234567890
    instance_type: m8i.large
    metadata_options: { http_tokens: required, http_protocol_ipv6: %s }
"""


class TestLastAttribute(SimTestCase):
    def requests(self, action):
        return [r for r in self.sim._req("GET", "/_sim/requests")["requests"]
                if r["action"] == action and r["params"].get("DryRun") != "true"]

    def test_http_protocol_ipv6_end_to_end(self):
        self.write_config(CONFIG % "enabled")
        self.ok("apply", "-auto-approve")
        run = self.requests("RunInstances")[0]["params"]
        self.assertEqual(run.get("MetadataOptions.HttpProtocolIpv6"), "enabled")
        shown = self.state_resources()["box"]
        self.assertEqual(shown["metadata_options"]["http_protocol_ipv6"], "enabled")
        self.ok("plan", "-detailed-exitcode")
        self.write_config(CONFIG % "disabled")
        plan = self.ok("plan", "-json").json()["changes"][0]
        self.assertEqual(plan["steps"], ["modify_metadata_options"])
        self.assertEqual(plan["attributes"][0]["policy"], "live")
        self.ok("apply", "-auto-approve")
        self.assertEqual(self.requests("StopInstances"), [])
        mod = self.requests("ModifyInstanceMetadataOptions")[-1]["params"]
        self.assertEqual(mod.get("HttpProtocolIpv6"), "disabled")
        self.ok("plan", "-detailed-exitcode")
        iid = self.live()["box"]["instance_id"]
        self.sim.set_instance(iid, metadata_options={"http_protocol_ipv6": "enabled"})
        drift = self.np("drift", "-json")
        self.assertEqual(drift.rc, 2, drift)
        self.assertIn("metadata_options.http_protocol_ipv6",
                      [d["attribute"] for d in drift.json()["drift"]])


if __name__ == "__main__":
    unittest.main()
