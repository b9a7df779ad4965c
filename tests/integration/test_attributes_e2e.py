"""Every attribute of the table that the generic code handles (issue 14), end
to end against the simulator: launched with it, read back, no change on the
next plan, changed (live ones without a stop, the others in the cycle), drift
after an out-of-band change; and protection against nestplan's own work."""
import unittest

from tests.integration.common import SimTestCase

IMAGE = "ami-0abcdef1234567890"

# name -> (YAML at launch, RunInstances parameters, the simulator's view at launch,
#          YAML changed, the simulator's view after, policy, out-of-band change, EC2's value)
CASES = {
    "ebs_optimized": (
        "ebs_optimized: true", {"EbsOptimized": "true"},
        lambda i: i["ebs_optimized"] is True,
        "ebs_optimized: false", lambda i: i["ebs_optimized"] is False,
        "stopped", {"ebs_optimized": True}),
    "monitoring": (
        "monitoring: true", {"Monitoring.Enabled": "true"},
        lambda i: i["monitoring"] in ("enabled", "pending"),
        "monitoring: false", lambda i: i["monitoring"] in ("disabled", "disabling"),
        "live", {"monitoring": "enabled"}),
    "disable_api_termination": (
        "disable_api_termination: true", {"DisableApiTermination": "true"},
        lambda i: i["disable_api_termination"] is True,
        "disable_api_termination: false", lambda i: i["disable_api_termination"] is False,
        "live", {"disable_api_termination": True}),
    "disable_api_stop": (
        "disable_api_stop: true", {"DisableApiStop": "true"},
        lambda i: i["disable_api_stop"] is True,
        "disable_api_stop: false", lambda i: i["disable_api_stop"] is False,
        "live", {"disable_api_stop": True}),
    "metadata_options.http_tokens": (
        "metadata_options: { http_tokens: required }", {"MetadataOptions.HttpTokens": "required"},
        lambda i: i["metadata_options"]["http_tokens"] == "required",
        "metadata_options: { http_tokens: optional }",
        lambda i: i["metadata_options"]["http_tokens"] == "optional",
        "live", {"metadata_options": {"http_tokens": "required"}}),
    "metadata_options.http_put_response_hop_limit": (
        "metadata_options: { http_put_response_hop_limit: 2 }",
        {"MetadataOptions.HttpPutResponseHopLimit": "2"},
        lambda i: i["metadata_options"]["http_put_response_hop_limit"] == 2,
        "metadata_options: { http_put_response_hop_limit: 3 }",
        lambda i: i["metadata_options"]["http_put_response_hop_limit"] == 3,
        "live", {"metadata_options": {"http_put_response_hop_limit": 5}}),
    "metadata_options.http_endpoint": (
        "metadata_options: { http_endpoint: enabled }", {"MetadataOptions.HttpEndpoint": "enabled"},
        lambda i: i["metadata_options"]["http_endpoint"] == "enabled",
        "metadata_options: { http_endpoint: disabled }",
        lambda i: i["metadata_options"]["http_endpoint"] == "disabled",
        "live", {"metadata_options": {"http_endpoint": "enabled"}}),
    "metadata_options.instance_metadata_tags": (
        "metadata_options: { instance_metadata_tags: enabled }",
        {"MetadataOptions.InstanceMetadataTags": "enabled"},
        lambda i: i["metadata_options"]["instance_metadata_tags"] == "enabled",
        "metadata_options: { instance_metadata_tags: disabled }",
        lambda i: i["metadata_options"]["instance_metadata_tags"] == "disabled",
        "live", {"metadata_options": {"instance_metadata_tags": "enabled"}}),
    "placement.group_name": (
        "placement: { group_name: pg-a }", {"Placement.GroupName": "pg-a"},
        lambda i: i["placement_group"] == "pg-a",
        "placement: { group_name: pg-b }", lambda i: i["placement_group"] == "pg-b",
        "stopped", {"placement_group": "pg-a"}),
}

BASE = """\
version: 1
instances:
  box:
    image_id: %s
    instance_type: %s
%s
"""


def config(extra, itype="m8i.large"):
    return BASE % (IMAGE, itype, "\n".join("    " + line for line in extra.splitlines()))


def state_value(res, name):
    """A dotted attribute's value in `show -json`'s resource."""
    v = res
    for part in name.split("."):
        if not isinstance(v, dict) or part not in v:
            return None
        v = v[part]
    return v


class TestEveryAttribute(SimTestCase):
    def setUp(self):
        super().setUp()
        for g in ("pg-a", "pg-b"):
            self.sim._req("POST", "/_sim/placement_groups", {"name": g, "strategy": "partition"})

    def mark(self):
        return len(self.sim.requests()), len(self.sim.calls())

    def since(self, mark):
        reqs = [r for r in self.sim.requests()[mark[0]:] if r["params"].get("DryRun") != "true"]
        calls = [c for c in self.sim.calls()[mark[1]:] if not c.get("dry_run")]
        return reqs, calls

    def run_case(self, name):
        launch, params, launched, changed_yaml, changed, policy, oob = CASES[name]
        self.write_config(config(launch))
        self.ok("apply", "-auto-approve")
        run = [r for r in self.sim.requests() if r["action"] == "RunInstances"
               and r["params"].get("DryRun") != "true"]
        self.assertEqual(len(run), 1)
        for k, v in params.items():
            self.assertEqual(run[0]["params"].get(k), v, (k, run[0]["params"]))
        box = self.live()["box"]
        self.assertTrue(launched(box), box)
        # read back
        res = self.state_resources()["box"]
        self.assertIsNotNone(state_value(res, name), res)
        # no change on the next plan
        self.ok("plan", "-detailed-exitcode")

        # changed
        self.write_config(config(changed_yaml))
        plan = self.ok("plan", "-json").json()
        self.assertEqual(len(plan["changes"]), 1, plan)
        ch = plan["changes"][0]
        self.assertEqual(ch["action"], "update", ch)
        attrs = {a["name"]: a for a in ch["attributes"]}
        self.assertIn(name, attrs, ch)
        self.assertEqual(attrs[name]["policy"], policy)
        mark = self.mark()
        self.ok("apply", "-auto-approve")
        reqs, calls = self.since(mark)
        stops = [c for c in calls if c["action"] == "StopInstances"]
        if policy == "live":
            self.assertEqual(stops, [], calls)
        else:
            self.assertEqual(len(stops), 1, calls)
            self.assertTrue(any(c["action"] == "StartInstances" for c in calls), calls)
        box = self.live()["box"]
        self.assertEqual(box["state"], "running")
        self.assertTrue(changed(box), box)
        self.ok("plan", "-detailed-exitcode")

        # drift after an out-of-band change (back to the launch value); the
        # protection flags only DescribeInstanceAttribute tells: drift -deep
        self.sim.set_instance(box["instance_id"], **oob)
        deep = name.startswith("disable_api_")
        if deep:
            self.ok("drift", "-json")
        r = self.ok("drift", "-json", *(["-deep"] if deep else []), rc=2)
        names = [d.get("attribute") for d in r.json()["drift"]]
        self.assertIn(name, names, r.out)

    def test_ebs_optimized(self):
        self.run_case("ebs_optimized")

    def test_monitoring(self):
        self.run_case("monitoring")

    def test_disable_api_termination(self):
        self.run_case("disable_api_termination")

    def test_disable_api_stop(self):
        self.run_case("disable_api_stop")

    def test_http_tokens(self):
        self.run_case("metadata_options.http_tokens")

    def test_http_put_response_hop_limit(self):
        self.run_case("metadata_options.http_put_response_hop_limit")

    def test_http_endpoint(self):
        self.run_case("metadata_options.http_endpoint")

    def test_instance_metadata_tags(self):
        self.run_case("metadata_options.instance_metadata_tags")

    def test_placement_group(self):
        self.run_case("placement.group_name")


class TestProtection(SimTestCase):
    def test_stop_protection_blocks_a_type_change(self):
        self.write_config(config("disable_api_stop: true"))
        self.ok("apply", "-auto-approve")
        self.write_config(config("disable_api_stop: true", itype="m8i.xlarge"))
        r = self.np("plan")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("disable_api_stop", r.out + r.err)

    def test_stop_protection_lifted_in_the_same_file(self):
        self.write_config(config("disable_api_stop: true"))
        self.ok("apply", "-auto-approve")
        iid = self.live()["box"]["instance_id"]
        self.write_config(config("disable_api_stop: false", itype="m8i.xlarge"))
        mark = len(self.sim.requests())
        self.ok("apply", "-auto-approve")
        reqs = [r for r in self.sim.requests()[mark:] if r["params"].get("DryRun") != "true"]
        acts = [(r["action"], r["params"].get("DisableApiStop.Value")) for r in reqs
                if r["action"] in ("StopInstances", "ModifyInstanceAttribute")]
        lift = acts.index(("ModifyInstanceAttribute", "false"))
        self.assertLess(lift, acts.index(("StopInstances", None)), acts)
        box = self.live()["box"]
        self.assertEqual((box["instance_id"], box["instance_type"], box["disable_api_stop"],
                          box["state"]), (iid, "m8i.xlarge", False, "running"))

    def test_termination_protection_blocks_destroy(self):
        self.write_config(config("disable_api_termination: true"))
        self.ok("apply", "-auto-approve")
        r = self.np("destroy", "-auto-approve")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("disable_api_termination", r.out + r.err)
        self.assertEqual(self.live()["box"]["state"], "running")

    def test_termination_protection_blocks_a_replacement_unless_lifted(self):
        self.write_config(config("disable_api_termination: true"))
        self.ok("apply", "-auto-approve")
        old = self.live()["box"]["instance_id"]
        other = "ami-0abcdef1234567891"
        self.write_config(config("disable_api_termination: true").replace(IMAGE, other))
        r = self.np("plan")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("disable_api_termination", r.out + r.err)
        self.write_config(config("disable_api_termination: false").replace(IMAGE, other))
        self.ok("apply", "-auto-approve")
        box = self.live()["box"]
        self.assertNotEqual(box["instance_id"], old)
        self.assertEqual(box["image_id"], other)


class TestProtectionReads(SimTestCase):
    """The flags only DescribeInstanceAttribute reports are read for the
    instances the plan would stop, modify or terminate, and only those."""

    def reads(self, mark):
        return [(r["params"]["InstanceId"], r["params"]["Attribute"])
                for r in self.sim.requests()[mark:] if r["action"] == "DescribeInstanceAttribute"]

    def test_a_plan_without_changes_reads_nothing(self):
        self.write_config(config("disable_api_stop: true\ndisable_api_termination: true"))
        self.ok("apply", "-auto-approve")
        mark = len(self.sim.requests())
        self.ok("plan", "-detailed-exitcode")
        self.assertEqual(self.reads(mark), [])
        r = self.ok("drift", "-deep", "-json")
        self.assertEqual(r.json()["drift"], [])
        iid = self.live()["box"]["instance_id"]
        self.assertEqual(sorted(self.reads(mark)),
                         [(iid, "disableApiStop"), (iid, "disableApiTermination")])

    def test_stop_protection_set_outside_is_lifted_before_the_cycle(self):
        self.write_config(config("disable_api_stop: false"))
        self.ok("apply", "-auto-approve")
        iid = self.live()["box"]["instance_id"]
        self.sim.set_instance(iid, disable_api_stop=True)
        self.write_config(config("disable_api_stop: false", itype="m8i.xlarge"))
        mark = len(self.sim.requests())
        plan = self.ok("plan", "-json").json()["changes"][0]
        self.assertEqual(self.reads(mark), [(iid, "disableApiStop")])
        self.assertEqual(plan["steps"][0], "modify_attribute", plan)
        self.ok("apply", "-auto-approve")
        box = self.live()["box"]
        self.assertEqual((box["instance_type"], box["disable_api_stop"], box["state"]),
                         ("m8i.xlarge", False, "running"))

    def test_termination_protection_set_outside_blocks_destroy_in_the_plan(self):
        self.write_config(config("disable_api_termination: false"))
        self.ok("apply", "-auto-approve")
        iid = self.live()["box"]["instance_id"]
        self.sim.set_instance(iid, disable_api_termination=True)
        mark = len(self.sim.requests())
        r = self.np("destroy", "-auto-approve")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("disable_api_termination", r.out + r.err)
        self.assertFalse(any(x["action"] == "TerminateInstances"
                             for x in self.sim.requests()[mark:]))

    def test_stop_protection_blocks_a_replacement_unless_lifted(self):
        self.write_config(config("disable_api_stop: true"))
        self.ok("apply", "-auto-approve")
        other = "ami-0abcdef1234567891"
        self.write_config(config("disable_api_stop: true").replace(IMAGE, other))
        r = self.np("plan")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("disable_api_stop", r.out + r.err)
        self.write_config(config("disable_api_stop: false").replace(IMAGE, other))
        self.ok("apply", "-auto-approve")
        self.assertEqual(self.live()["box"]["image_id"], other)


class TestUserDataInPlace(SimTestCase):
    def test_in_place_sends_the_new_user_data_in_the_cycle(self):
        import base64
        ud = "user_data: \"#!/bin/sh\\necho %s\\n\"\nlifecycle: { user_data_change: in_place }"
        self.write_config(config(ud % "one"))
        self.ok("apply", "-auto-approve")
        iid = self.live()["box"]["instance_id"]
        self.write_config(config(ud % "two"))
        r = self.ok("plan", "-json").json()
        ch = r["changes"][0]
        self.assertEqual((ch["action"], ch["steps"]),
                         ("update", ["stop", "modify_user_data", "start"]), ch)
        self.assertTrue(any("every boot" in d["message"] for d in r["diagnostics"]), r)
        mark = len(self.sim.requests())
        self.ok("apply", "-auto-approve")
        sent = [x["params"]["UserData.Value"] for x in self.sim.requests()[mark:]
                if x["action"] == "ModifyInstanceAttribute" and x["params"].get("DryRun") != "true"]
        self.assertEqual([base64.b64decode(v).decode() for v in sent], ["#!/bin/sh\necho two\n"])
        box = self.live()["box"]
        self.assertEqual((box["instance_id"], box["state"]), (iid, "running"))
        self.assertEqual(base64.b64decode(box["user_data_b64"]).decode(), "#!/bin/sh\necho two\n")
        self.ok("plan", "-detailed-exitcode")

    def test_replace_is_the_default(self):
        ud = "user_data: \"#!/bin/sh\\necho %s\\n\""
        self.write_config(config(ud % "one"))
        self.ok("apply", "-auto-approve")
        self.write_config(config(ud % "two"))
        self.assertEqual(self.ok("plan", "-json").json()["changes"][0]["action"], "replace")


if __name__ == "__main__":
    unittest.main()
