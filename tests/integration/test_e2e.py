"""End to end: the real nestplan binary against the EC2 simulator."""
import json
import os
import unittest

from tests.integration.common import SimTestCase

QUICK = """\
version: 1
defaults:
  image_id: ami-0abcdef1234567890
instances:
  runner:
    count: 2
    instance_type: m8i.2xlarge
    cpu_options: { nested_virtualization: enabled }
    tags: { team: ci }
  single:
    instance_type: c8i.large
    cpu_options: { core_count: 1, threads_per_core: 2, nested_virtualization: enabled }
"""


class TestPlanApply(SimTestCase):
    def test_plan_on_empty_state_creates_everything_with_exit_2(self):
        self.write_config(QUICK)
        r = self.ok("plan", "-detailed-exitcode", rc=2)
        self.assertIn("3 to add", r.out)
        r = self.ok("plan", "-json")
        plan = r.json()
        self.assertEqual(plan["format_version"], "1")
        self.assertEqual(plan["summary"]["add"], 3)
        actions = {c["address"]: c["action"] for c in plan["changes"]}
        self.assertEqual(actions, {"runner[0]": "create", "runner[1]": "create", "single": "create"})
        for c in plan["changes"]:
            self.assertEqual(c["steps"][0], "run_instances")

    def test_apply_launches_with_nested_virtualization_then_plan_is_empty(self):
        self.write_config(QUICK)
        r = self.ok("apply", "-auto-approve")
        self.assertIn("Apply complete! 3 added, 0 changed, 0 destroyed.", r.out)
        live = self.live()
        self.assertEqual(sorted(live), ["runner[0]", "runner[1]", "single"])
        for addr, inst in live.items():
            self.assertEqual(inst["nested_virtualization"], "enabled", addr)
            self.assertEqual(inst["state"], "running", addr)
            self.assertIn("nestplan:lineage", inst["tags"])
        self.assertEqual(live["single"]["core_count"], 1)
        self.assertEqual(live["runner[0]"]["tags"]["team"], "ci")
        self.assert_state_matches_sim()
        self.ok("plan", "-detailed-exitcode", rc=0)
        self.ok("drift", rc=0)

    def test_type_change_onto_nested_virtualization_orders_calls(self):
        self.write_config("""\
            version: 1
            instances:
              box:
                image_id: ami-0abcdef1234567890
                instance_type: m6i.2xlarge
            """)
        self.ok("apply", "-auto-approve")
        iid = self.live()["box"]["instance_id"]
        self.write_config("""\
            version: 1
            instances:
              box:
                image_id: ami-0abcdef1234567890
                instance_type: m8i.2xlarge
                cpu_options: { nested_virtualization: enabled }
            """)
        plan = self.ok("plan", "-json").json()
        (change,) = plan["changes"]
        self.assertEqual(change["action"], "update")
        self.assertTrue(change["requires_stop"])
        self.assertEqual(change["steps"], ["stop", "modify_instance_type", "modify_cpu_options", "start"])
        before = len(self.sim.calls())
        self.ok("apply", "-auto-approve")
        calls = [c for c in self.sim.calls()[before:]
                 if not c["dry_run"] and c["action"] not in ("DescribeInstances", "DescribeInstanceTypes")]
        self.assertEqual([c["action"] for c in calls],
                         ["StopInstances", "ModifyInstanceAttribute", "ModifyInstanceCpuOptions", "StartInstances"])
        box = self.live()["box"]
        self.assertEqual(box["instance_id"], iid)
        self.assertEqual(box["instance_type"], "m8i.2xlarge")
        self.assertEqual(box["nested_virtualization"], "enabled")
        self.assertEqual(box["state"], "running")
        self.assert_state_matches_sim()

    def test_type_change_off_nested_virtualization_disables_it_first(self):
        self.write_config("""\
            version: 1
            instances:
              box:
                image_id: ami-0abcdef1234567890
                instance_type: m8i.2xlarge
                cpu_options: { nested_virtualization: enabled }
            """)
        self.ok("apply", "-auto-approve")
        self.write_config("""\
            version: 1
            instances:
              box:
                image_id: ami-0abcdef1234567890
                instance_type: m6i.2xlarge
            """)
        plan = self.ok("plan", "-json").json()
        self.assertEqual(plan["changes"][0]["steps"],
                         ["stop", "modify_cpu_options", "modify_instance_type", "start"])
        before = len(self.sim.calls())
        self.ok("apply", "-auto-approve")
        calls = [c["action"] for c in self.sim.calls()[before:]
                 if not c["dry_run"] and not c["action"].startswith("Describe")]
        self.assertEqual(calls, ["StopInstances", "ModifyInstanceCpuOptions", "ModifyInstanceAttribute",
                                 "StartInstances"])
        box = self.live()["box"]
        self.assertEqual(box["instance_type"], "m6i.2xlarge")
        self.assertEqual(box["nested_virtualization"], "disabled")

    def test_unsupported_type_is_an_error_before_anything_stops(self):
        self.write_config("""\
            version: 1
            instances:
              box:
                image_id: ami-0abcdef1234567890
                instance_type: m6i.2xlarge
                cpu_options: { nested_virtualization: enabled }
            """)
        r = self.ok("plan", rc=1)
        self.assertIn("m6i.2xlarge", r.out + r.err)
        # the hint names the families that do support it
        self.assertIn("families that support it: c8i-flex, c8i, m8i-flex, m8i, r8i-flex, r8i",
                      r.out + r.err)
        self.ok("apply", "-auto-approve", rc=1)
        self.assertEqual(self.sim.instances(), [])

    def test_misspelt_type_and_denied_listing_say_what_to_do(self):
        self.write_config("""\
            version: 1
            instances:
              box: { image_id: ami-0abcdef1234567890, instance_type: m8i.larg }
              other: { image_id: ami-0abcdef1234567890, instance_type: c8i.large }
            """)
        r = self.ok("plan", rc=1)
        self.assertIn("box: instance type 'm8i.larg' does not exist in this Region", r.out + r.err)
        self.assertIn("did you mean 'm8i.large'?", r.out + r.err)
        self.sim.faults(deny_actions=["DescribeInstances"])
        r = self.ok("plan", rc=1)
        self.assertIn("UnauthorizedOperation", r.err)
        self.assertIn("allow the IAM action ec2:DescribeInstances", r.err)

    def test_drift_after_out_of_band_change_exits_2_and_apply_repairs(self):
        self.write_config(QUICK)
        self.ok("apply", "-auto-approve")
        iid = self.live()["single"]["instance_id"]
        self.sim.set_instance(iid, instance_type="c8i.xlarge")
        r = self.ok("drift", "-json", rc=2)
        drift = r.json()["drift"]
        self.assertTrue(any(d["address"] == "single" and d["attribute"] == "instance_type"
                            and d["recorded"] == "c8i.large" and d["live"] == "c8i.xlarge" for d in drift), drift)
        self.ok("apply", "-auto-approve")
        self.assertEqual(self.live()["single"]["instance_type"], "c8i.large")
        self.ok("drift", rc=0)

    def test_terminated_outside_is_drift_and_planned_again(self):
        self.write_config(QUICK)
        self.ok("apply", "-auto-approve")
        iid = self.live()["single"]["instance_id"]
        self.sim.set_instance(iid, state="terminated")
        self.ok("drift", rc=2)
        plan = self.ok("plan", "-json").json()
        actions = {c["address"]: c["action"] for c in plan["changes"]}
        self.assertEqual(actions.get("single"), "create")
        self.ok("apply", "-auto-approve")
        self.assertNotEqual(self.live()["single"]["instance_id"], iid)
        self.assert_state_matches_sim()

    def test_state_stopped_keeps_instance_stopped(self):
        self.write_config("""\
            version: 1
            instances:
              idle:
                image_id: ami-0abcdef1234567890
                instance_type: c8i.large
                state: stopped
            """)
        self.ok("apply", "-auto-approve")
        self.assertEqual(self.live()["idle"]["state"], "stopped")
        self.write_config("""\
            version: 1
            instances:
              idle:
                image_id: ami-0abcdef1234567890
                instance_type: c8i.xlarge
                state: stopped
            """)
        self.ok("apply", "-auto-approve")
        idle = self.live()["idle"]
        self.assertEqual(idle["instance_type"], "c8i.xlarge")
        self.assertEqual(idle["state"], "stopped")

    def test_destroy_terminates_everything_and_empties_state(self):
        self.write_config(QUICK)
        self.ok("apply", "-auto-approve")
        r = self.ok("destroy", "-auto-approve")
        self.assertIn("3 destroyed", r.out)
        self.assertEqual(self.live(), {})
        self.assertEqual(self.ok("state", "list").out, "")

    def test_saved_plan_applies_and_is_refused_when_stale(self):
        self.write_config(QUICK)
        self.ok("plan", "-out=plan.bin")
        shown = self.ok("show", "-json", "plan.bin").json()
        self.assertEqual(shown["summary"]["add"], 3)
        self.ok("apply", "plan.bin")
        self.assertEqual(len(self.live()), 3)
        r = self.ok("apply", "plan.bin", rc=1)
        self.assertIn("stale", r.err.lower())

    def test_count_shrink_deletes_highest_index(self):
        self.write_config(QUICK)
        self.ok("apply", "-auto-approve")
        self.write_config(QUICK.replace("count: 2", "count: 1"))
        plan = self.ok("plan", "-json").json()
        deletes = [c["address"] for c in plan["changes"] if c["action"] == "delete"]
        self.assertEqual(deletes, ["runner[1]"])

    def test_import_adopts_existing_instance(self):
        iid = self.launch_outside()
        self.write_config("""\
            version: 1
            instances:
              legacy:
                instance_id: %s
                instance_type: m8i.2xlarge
            """ % iid)
        self.ok("import", "nosuch", iid, rc=1)
        r = self.ok("import", "legacy", iid)
        self.assertIn("imported", r.out)
        tags = self.sim.instances()[0]["tags"]
        self.assertEqual(tags["nestplan:address"], "legacy")
        self.assertIn("nestplan:lineage", tags)
        self.assertEqual(self.state_resources()["legacy"]["instance_id"], iid)
        self.ok("import", "legacy", iid, rc=1)  # already managed
        self.ok("plan", "-detailed-exitcode", rc=0)

    def test_adoption_by_instance_id_in_apply(self):
        iid = self.launch_outside()
        self.write_config("""\
            version: 1
            instances:
              legacy:
                instance_id: %s
                instance_type: m8i.2xlarge
                cpu_options: { nested_virtualization: enabled }
            """ % iid)
        plan = self.ok("plan", "-json").json()
        self.assertEqual(plan["changes"][0]["steps"],
                         ["create_tags", "stop", "modify_cpu_options", "start"])
        self.ok("apply", "-auto-approve")
        inst = self.sim.instances()[0]
        self.assertEqual((inst["instance_id"], inst["nested_virtualization"], inst["state"]),
                         (iid, "enabled", "running"))
        self.assert_state_matches_sim()

    def test_denied_action_stops_apply_before_any_stop(self):
        self.write_config(QUICK)
        self.ok("apply", "-auto-approve")
        self.write_config(QUICK.replace("c8i.large", "c8i.xlarge"))
        self.sim.faults(deny_actions=["ModifyInstanceAttribute"])
        before = len(self.sim.calls())
        r = self.ok("apply", "-auto-approve", rc=1)
        self.assertIn("ec2:ModifyInstanceAttribute", r.err)
        made = [c for c in self.sim.calls()[before:] if not c["dry_run"]]
        self.assertFalse([c for c in made if c["action"] == "StopInstances"])
        self.assertEqual(self.live()["single"]["state"], "running")

    def test_second_run_fails_naming_the_lock_holder(self):
        import subprocess
        import time
        self.write_config(QUICK)
        self.sim.faults(stall={"action": "RunInstances", "nth": 1, "seconds": 3})
        first = subprocess.Popen([self.np_path(), "apply", "-auto-approve"], cwd=self.dir,
                                 env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        try:
            time.sleep(1.0)
            r = self.ok("plan", rc=1)
            self.assertIn("locked by", r.err)
            self.assertIn("'apply'", r.err)
            r = self.ok("plan", "-lock-timeout=30s")
        finally:
            out, err = first.communicate(timeout=60)
        self.assertEqual(first.returncode, 0, err)

    def test_interrupted_apply_resumes_without_duplicates(self):
        import signal
        import subprocess
        import time
        self.write_config(QUICK)
        self.sim.faults(lose_response={"action": "RunInstances", "nth": 2})
        r = self.np("apply", "-auto-approve")
        self.sim.faults(lose_response=None)
        # a launch whose answer was lost: the next apply finds it, no duplicate
        self.ok("apply", "-auto-approve")
        self.assertEqual(len(self.live()), 3)
        self.assertEqual(len([i for i in self.sim.instances() if i["state"] != "terminated"]), 3)
        self.assert_state_matches_sim()
        # killed in the middle of a stop/modify/start cycle: the rerun starts it again
        self.write_config(QUICK.replace("c8i.large", "c8i.xlarge"))
        self.sim.faults(stall={"action": "ModifyInstanceAttribute", "nth": 1, "seconds": 5})
        p = subprocess.Popen([self.np_path(), "apply", "-auto-approve"], cwd=self.dir,
                             env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2.0)
        p.send_signal(signal.SIGKILL)
        p.wait()
        self.sim.faults(stall=None)
        time.sleep(0.5)
        self.ok("apply", "-auto-approve", "-lock-timeout=10s")
        single = self.live()["single"]
        self.assertEqual((single["instance_type"], single["state"]), ("c8i.xlarge", "running"))
        self.assert_state_matches_sim()

    def test_tenancy_in_place_and_replacement(self):
        cfg = """\
            version: 1
            instances:
              box:
                image_id: ami-0abcdef1234567890
                instance_type: m8i.large
                placement: { tenancy: %s }
            """
        # default -> dedicated is not in place (docs/TENANCY.md): a replacement
        self.write_config(cfg % "default")
        self.ok("apply", "-auto-approve")
        first = self.live()["box"]["instance_id"]
        self.write_config(cfg % "dedicated")
        plan = self.ok("plan", "-json").json()
        self.assertEqual(plan["changes"][0]["action"], "replace")
        self.assertIn("default → dedicated", plan["changes"][0]["replace_reason"])
        self.ok("apply", "-auto-approve")
        iid = self.live()["box"]["instance_id"]
        self.assertNotEqual(iid, first)
        # dedicated -> host is in place, with no way back (onto the account's
        # auto-placement host: the simulator is strict)
        from client import allocate_host

        allocate_host(self.sim.url)
        self.write_config(cfg % "host")
        plan = self.ok("plan", "-json").json()
        self.assertEqual(plan["changes"][0]["steps"], ["stop", "modify_placement", "start"])
        self.assertEqual(plan["changes"][0]["irreversible_steps"], ["modify_placement"])
        self.assertEqual(plan["unchecked_permissions"], ["ec2:ModifyInstancePlacement"])
        text = self.ok("plan").out
        self.assertIn("irreversible: modify_placement", text)
        self.assertIn("Not checked in advance (EC2 has no DryRun for these calls): "
                      "ec2:ModifyInstancePlacement", text)
        self.ok("apply", "-auto-approve")
        # the preflight sent no DryRun to ModifyInstancePlacement (EC2 has none)
        self.assertFalse([c for c in self.sim.calls()
                          if c["action"] == "ModifyInstancePlacement" and c["dry_run"]])
        box = self.live()["box"]
        self.assertEqual((box["instance_id"], box["tenancy"], box["state"]), (iid, "host", "running"))
        self.write_config(cfg % "dedicated")
        plan = self.ok("plan", "-json").json()
        self.assertEqual(plan["changes"][0]["action"], "replace")
        self.assertIn("host", plan["changes"][0]["replace_reason"])
        self.ok("apply", "-auto-approve")
        box = self.live()["box"]
        self.assertNotEqual(box["instance_id"], iid)
        self.assertEqual(box["tenancy"], "dedicated")
        self.assert_state_matches_sim()

    def test_apply_json_prints_one_event_per_line(self):
        self.write_config(QUICK)
        r = self.ok("apply", "-auto-approve", "-json")
        events = [json.loads(l) for l in r.out.splitlines()]  # every line is an event
        self.assertEqual(events[0]["type"], "version")
        plan = [e for e in events if e["type"] == "change_summary"][0]
        self.assertEqual(plan["changes"]["add"], 3)
        kinds = {e["type"] for e in events}
        self.assertLessEqual({"planned_change", "apply_start", "apply_complete"}, kinds)
        self.assertEqual(events[-1]["type"], "change_summary")
        self.assertEqual(events[-1]["changes"]["add"], 3)

    def test_refresh_only_apply_accepts_live_values(self):
        self.write_config(QUICK)
        self.ok("apply", "-auto-approve")
        iid = self.live()["single"]["instance_id"]
        self.sim.set_instance(iid, tags={"team": "hand-edited",
                                         "nestplan:address": "single",
                                         "nestplan:lineage": self.live()["single"]["tags"]["nestplan:lineage"]})
        self.ok("drift", rc=2)
        self.ok("apply", "-refresh-only", "-auto-approve")
        self.ok("drift", rc=0)
        self.assertEqual(self.state_resources()["single"]["tags"]["team"], "hand-edited")

    def test_rollout_max_unavailable_one_at_a_time(self):
        cfg = """\
            version: 1
            instances:
              fleet:
                count: 3
                image_id: ami-0abcdef1234567890
                instance_type: %s
                rollout: { max_unavailable: 1 }
            """
        self.write_config(cfg % "m8i.large")
        self.ok("apply", "-auto-approve")
        self.write_config(cfg % "m8i.xlarge")
        before = len(self.sim.calls())
        self.ok("apply", "-auto-approve")
        out = 0
        for c in self.sim.calls()[before:]:
            if c["dry_run"] or c["status"] != 200:
                continue
            if c["action"] == "StopInstances":
                out += len(c["instance_ids"])
                self.assertLessEqual(out, 1, "more than one instance out of service")
            elif c["action"] == "StartInstances":
                out -= len(c["instance_ids"])
        self.assertEqual({i["instance_type"] for i in self.live().values()}, {"m8i.xlarge"})

    def test_failed_modification_puts_the_instance_back(self):
        import subprocess
        import time
        self.write_config(QUICK)
        self.ok("apply", "-auto-approve")
        iid = self.live()["single"]["instance_id"]
        self.write_config(QUICK.replace("c8i.large", "c8i.xlarge"))
        # The permission disappears after the preflight, while the stop is in flight.
        self.sim.faults(stall={"action": "StopInstances", "nth": 2, "seconds": 1.0})
        p = subprocess.Popen([self.np_path(), "apply", "-auto-approve"], cwd=self.dir, env=self.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        self.sim.faults(deny_actions=["ModifyInstanceAttribute"])
        out, err = p.communicate(timeout=60)
        self.sim.faults(deny_actions=[], stall=None)
        self.assertEqual(p.returncode, 1, out + err)
        self.assertIn("UnauthorizedOperation", err)
        self.assertIn("single", err)
        single = self.live()["single"]
        self.assertEqual((single["instance_id"], single["instance_type"], single["state"]),
                         (iid, "c8i.large", "running"))

    def launch_outside(self):
        """An instance made without nestplan, through the EC2 API."""
        import sys
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "ec2sim"))
        from client import call
        r = call(self.sim.url, "RunInstances", {"ImageId": "ami-0abcdef1234567890",
                                                "InstanceType": "m8i.2xlarge",
                                                "MinCount": "1", "MaxCount": "1"})
        return r.text("instanceId")

    def np_path(self):
        from tests.integration.common import NESTPLAN
        return NESTPLAN


if __name__ == "__main__":
    unittest.main()
