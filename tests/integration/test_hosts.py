"""Dedicated Hosts end to end (issue 18, "Done when"): the contract's file
applies from nothing to 2 hosts and 6 instances placed on them, and what EC2
reports (the simulator's control API; boto3's describe_hosts and
describe_instances where boto3 is installed) agrees with `nestplan show
-json`; the next plan is empty; destroy terminates the instances before it
releases the hosts (the simulator's request log); a file asking for more
instances than the hosts hold is a plan error saying how much is missing; an
apply killed between AllocateHosts and its record adopts the host the next
time instead of allocating another."""
import json
import re
import signal
import subprocess
import time
import unittest

from tests.integration.common import NESTPLAN, SimTestCase
from tests.integration.test_machine_ui import EVENTS_SCHEMA, check_schema

try:
    import boto3
    from botocore.config import Config
except ImportError:  # a fresh machine: the SDK checks skip with their reason
    boto3 = None

CONTRACT = """\
version: 1
defaults: { image_id: ami-0abcdef1234567890 }
hosts:
  kvm-hosts:
    count: 2
    instance_family: m8i
    availability_zone: us-east-1a
    auto_placement: false
    host_recovery: true
    tags: { team: ci }
instances:
  runner:
    count: %d
    instance_type: m8i.4xlarge
    cpu_options: { nested_virtualization: enabled }
    placement: { tenancy: host, host: kvm-hosts }
"""

HOSTS = ["kvm-hosts[0]", "kvm-hosts[1]"]
RUNNERS = ["runner[%d]" % i for i in range(6)]


class HostsTestCase(SimTestCase):
    # Hosts as EC2 has them: a host-tenancy launch needs an allocated host.
    sim_args = {"transition_seconds": 0.2, "host_placement": "strict"}

    def apply_contract(self, count=6):
        self.write_config(CONTRACT % count)
        return self.ok("apply", "-auto-approve")

    def sim_hosts(self):
        """The simulator's hosts that are not released, by address tag."""
        return {h["tags"].get("nestplan:address", h["host_id"]): h for h in self.sim.hosts()
                if not h["state"].startswith("released")}

    def kill_during(self, action, *args):
        """nestplan ARGS killed (SIGKILL) while the simulator stalls the first
        ACTION call; the call completes inside the simulator afterwards."""
        self.sim.faults(stall={"action": action, "nth": 1, "seconds": 1.5})
        p = subprocess.Popen([NESTPLAN] + list(args), cwd=self.dir, env=self.env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline and p.poll() is None:
            if self.sim.stats()["calls"].get(action, 0) >= 1:
                break
            time.sleep(0.05)
        time.sleep(0.3)
        p.send_signal(signal.SIGKILL)
        p.wait()
        time.sleep(1.5)
        self.sim.faults(stall=None)

    def shown(self):
        """show -json's resources by kind, then address."""
        out = {"host": {}, "instance": {}}
        for res in self.ok("show", "-json").json()["resources"]:
            out[res["kind"]][res["address"]] = res
        return out


class TestContract(HostsTestCase):
    def test_from_nothing_to_two_hosts_and_six_instances(self):
        self.write_config(CONTRACT % 6)
        plan = self.ok("plan", "-json").json()
        kinds = sorted((c["kind"], c["address"], c["action"]) for c in plan["changes"])
        self.assertEqual(kinds, sorted([("host", h, "create") for h in HOSTS] +
                                       [("instance", r, "create") for r in RUNNERS]))
        self.assertEqual(plan["summary"]["add"], 8)
        self.ok("apply", "-auto-approve")

        hosts = self.sim_hosts()
        self.assertEqual(sorted(hosts), HOSTS)
        for addr, h in hosts.items():
            self.assertEqual(h["instance_family"], "m8i", addr)
            self.assertEqual(h["availability_zone"], "us-east-1a", addr)
            self.assertEqual((h["auto_placement"], h["host_recovery"]), ("off", "on"), addr)
            self.assertEqual(h["tags"].get("team"), "ci", addr)
        live = self.live()
        self.assertEqual(sorted(live), RUNNERS)
        by_host = {hosts[a]["host_id"]: a for a in HOSTS}
        placed = {}
        for addr, inst in live.items():
            self.assertEqual(inst["tenancy"], "host", addr)
            self.assertIn(inst["host_id"], by_host, addr)
            placed.setdefault(by_host[inst["host_id"]], []).append(addr)
        # The most free capacity first, ties to the lower index: spread 3 and 3.
        self.assertEqual(sorted(len(v) for v in placed.values()), [3, 3])
        for a in HOSTS:
            self.assertEqual(sorted(hosts[a]["instances"]),
                             sorted(live[r]["instance_id"] for r in placed[a]))

        # show -json agrees with the simulator, host by host, instance by instance.
        shown = self.shown()
        self.assertEqual(sorted(shown["host"]), HOSTS)
        self.assertEqual(sorted(shown["instance"]), RUNNERS)
        for a in HOSTS:
            self.assertEqual(shown["host"][a]["host_id"], hosts[a]["host_id"], a)
        for r in RUNNERS:
            res = shown["instance"][r]
            self.assertEqual(res["instance_id"], live[r]["instance_id"], r)
            self.assertEqual(res["placement"]["host_id"], live[r]["host_id"], r)
            self.assertEqual(res["placement"].get("host_address"), by_host[live[r]["host_id"]], r)
        text = self.ok("show").out
        for a in HOSTS:
            self.assertIn("%s (host %s)" % (a, hosts[a]["host_id"]), text)
        self.assertIn("host                   %s (%s)" % (by_host[live["runner[0]"]["host_id"]],
                                                         live["runner[0]"]["host_id"]), text)
        listed = self.ok("state", "list").out.split()
        self.assertEqual(sorted(listed), sorted(HOSTS + RUNNERS))
        # The history names both kinds.
        last = self.ok("show", "-history", "-json").json()[-1]
        self.assertEqual(sorted((c["kind"], c["address"], c["outcome"]) for c in last["changes"]),
                         sorted([("host", h, "ok") for h in HOSTS] +
                                [("instance", r, "ok") for r in RUNNERS]))
        self.assertEqual({c["host_id"] for c in last["changes"] if c["kind"] == "host"},
                         {hosts[a]["host_id"] for a in HOSTS})
        # The next plan is empty.
        self.ok("plan", "-detailed-exitcode", rc=0)

    @unittest.skipUnless(boto3, "boto3 is not installed: the SDK's view is not compared "
                                "(the simulator's control API is, in the test above)")
    def test_boto3_describe_hosts_and_instances_agree_with_show(self):
        self.apply_contract()
        ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=self.sim.url,
                           aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
                           config=Config(retries={"max_attempts": 2}))
        shown = self.shown()
        got = ec2.describe_hosts(HostIds=[shown["host"][a]["host_id"] for a in HOSTS])["Hosts"]
        by_id = {h["HostId"]: h for h in got}
        self.assertEqual(len(by_id), 2)
        for a in HOSTS:
            h = by_id[shown["host"][a]["host_id"]]
            tags = {t["Key"]: t["Value"] for t in h.get("Tags", [])}
            self.assertEqual(tags.get("nestplan:address"), a)
            self.assertEqual(h["State"], "available")
            self.assertEqual(h["HostProperties"].get("InstanceFamily"), "m8i")
        on_host = {i["InstanceId"]: h["HostId"] for h in got for i in h.get("Instances", [])}
        ids = [shown["instance"][r]["instance_id"] for r in RUNNERS]
        resv = ec2.describe_instances(InstanceIds=ids)["Reservations"]
        insts = {i["InstanceId"]: i for r in resv for i in r["Instances"]}
        self.assertEqual(sorted(insts), sorted(ids))
        for r in RUNNERS:
            res = shown["instance"][r]
            inst = insts[res["instance_id"]]
            self.assertEqual(inst["InstanceType"], res["instance_type"], r)
            self.assertEqual(inst["Placement"]["Tenancy"], "host", r)
            self.assertEqual(inst["Placement"]["HostId"], res["placement"]["host_id"], r)
            self.assertEqual(on_host[res["instance_id"]], res["placement"]["host_id"], r)


class TestSavedPlan(HostsTestCase):
    def test_a_saved_plan_allocates_and_places_as_the_plan_said(self):
        self.write_config(CONTRACT % 2)
        self.ok("plan", "-out=hosts.plan")
        planned = self.ok("show", "-json", "hosts.plan").json()
        on = {c["address"]: c["after"]["placement"]["host_address"] for c in planned["changes"]
              if c["kind"] == "instance"}
        self.ok("apply", "hosts.plan")
        hosts = self.sim_hosts()
        for addr, inst in self.live().items():
            self.assertEqual(inst["host_id"], hosts[on[addr]]["host_id"], addr)
        self.ok("plan", "-detailed-exitcode", rc=0)


class TestDestroyOrder(HostsTestCase):
    def test_destroy_terminates_before_it_releases(self):
        self.apply_contract()
        host_ids = {h["host_id"] for h in self.sim_hosts().values()}
        before = len(self.sim.requests())
        self.ok("destroy", "-auto-approve")
        reqs = self.sim.requests()[before:]
        actions = [r["action"] for r in reqs]
        self.assertIn("TerminateInstances", actions)
        releases = [i for i, r in enumerate(reqs) if r["action"] == "ReleaseHosts"]
        self.assertTrue(releases, actions)
        last_terminate = max(i for i, a in enumerate(actions) if a == "TerminateInstances")
        self.assertLess(last_terminate, min(releases), actions)
        # Released once each host was empty: never refused as occupied.
        self.assertTrue(all(reqs[i]["status"] == 200 for i in releases),
                        [reqs[i] for i in releases])
        released = {h["host_id"] for h in self.sim.hosts() if h["state"] == "released"}
        self.assertEqual(released, host_ids)
        self.assertEqual(self.live(), {})
        self.assertEqual(self.ok("show", "-json").json()["resources"], [])


class TestStateDriftImport(HostsTestCase):
    def test_drift_of_hosts_in_every_format(self):
        self.write_config(CONTRACT % 2)
        self.ok("apply", "-auto-approve")
        hosts = self.sim_hosts()
        h0, h1 = hosts["kvm-hosts[0]"]["host_id"], hosts["kvm-hosts[1]"]["host_id"]
        self.ok("drift", rc=0)
        # Modified from outside: auto placement turned on.
        self.sim.set_host(h1, auto_placement="on")
        doc = self.ok("drift", "-json", rc=2).json()
        items = [d for d in doc["drift"] if d.get("kind") == "host"]
        self.assertIn({"address": "kvm-hosts[1]", "kind": "host", "host_id": h1,
                       "attribute": "auto_placement", "recorded": "false", "live": "true"}, items,
                      doc)
        self.assertFalse(any("instance_id" in d for d in items), items)
        text = self.ok("drift", rc=2).out
        self.assertIn("kvm-hosts[1] (host %s)" % h1, text)
        junit = self.ok("drift", "-format=junit", rc=2).out
        self.assertRegex(junit, r'classname="nestplan.host" name="kvm-hosts\[1\]"')
        md = self.ok("drift", "-format=markdown", rc=2).out
        self.assertIn("`kvm-hosts[1]` (host) | %s | auto_placement" % h1, md)
        self.assertNotIn(h0, md)
        # apply -refresh-only records what EC2 reports: no drift after it.
        self.ok("apply", "-refresh-only", "-auto-approve")
        self.ok("drift", rc=0)
        self.assertEqual(self.ok("state", "show", "-json", "kvm-hosts[1]").json()["auto_placement"],
                         True)
        # Released from outside: drift "host", in the JSON and in the report.
        self.sim.set_host(h0, state="released")
        doc = self.ok("drift", "-json", rc=2).json()
        gone = [d for d in doc["drift"] if d["address"] == "kvm-hosts[0]"]
        self.assertEqual([(d["kind"], d["host_id"], d["attribute"]) for d in gone],
                         [("host", h0, "host")], doc)
        self.assertIn("kvm-hosts[0] (host %s)" % h0, self.ok("drift", rc=2).out)

    def test_state_list_show_rm_mv_and_import_of_a_host(self):
        self.apply_contract(count=2)
        hid = self.sim_hosts()["kvm-hosts[0]"]["host_id"]
        self.assertEqual(sorted(self.ok("state", "list").out.split()),
                         sorted(HOSTS + ["runner[0]", "runner[1]"]))
        shown = self.ok("state", "show", "-json", "kvm-hosts[0]").json()
        self.assertEqual((shown["kind"], shown["host_id"]), ("host", hid))
        self.assertIn("(host %s)" % hid, self.ok("state", "show", "kvm-hosts[0]").out)
        # rm forgets the host and leaves it allocated; import adopts it again.
        self.ok("state", "rm", "kvm-hosts[0]")
        self.assertNotIn("kvm-hosts[0]", self.ok("state", "list").out.split())
        self.assertEqual(self.sim_hosts()["kvm-hosts[0]"]["state"], "available")
        r = self.ok("import", "kvm-hosts[0]", hid)
        self.assertIn("imported host %s" % hid, r.out)
        self.assertEqual(self.shown()["host"]["kvm-hosts[0]"]["host_id"], hid)
        self.ok("plan", "-detailed-exitcode", rc=0)
        # import refuses an address already managed, and an instance id for a host.
        r = self.np("import", "kvm-hosts[0]", hid)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("already managed", r.err)
        self.ok("state", "rm", "kvm-hosts[1]")
        r = self.np("import", "kvm-hosts[1]", "i-0123456789abcdef0")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("not a Dedicated Host id", r.err)
        # mv renames the row, refusing an address taken by either kind.
        r = self.np("state", "mv", "kvm-hosts[0]", "runner[0]")
        self.assertEqual(r.rc, 1, r)
        self.ok("state", "mv", "kvm-hosts[0]", "spare")
        self.assertEqual(self.shown()["host"]["spare"]["host_id"], hid)


class TestMachineReadable(HostsTestCase):
    def events(self, *args):
        r = self.ok(*args)
        events = [json.loads(line) for line in r.out.splitlines()]
        for ev in events:
            check_schema(self, EVENTS_SCHEMA, ev)
        return events

    def test_apply_and_destroy_json_name_the_hosts(self):
        self.write_config(CONTRACT % 2)
        events = self.events("apply", "-auto-approve", "-json")
        hooks = [(e["type"], e["hook"]["resource"]["addr"], e["hook"]["step"])
                 for e in events if e["type"] in ("apply_start", "apply_complete")]
        for h in HOSTS:
            self.assertIn(("apply_complete", h, "allocate_hosts"), hooks)
        done = [e for e in events if e["type"] == "apply_complete"
                and e["hook"]["step"] == "allocate_hosts"]
        self.assertEqual({e["hook"]["resource"]["resource_type"] for e in done}, {"host"})
        self.assertEqual({e["hook"]["id_key"] for e in done}, {"host_id"})
        planned = [e["change"] for e in events if e["type"] == "planned_change"]
        self.assertEqual(sorted(c["resource"]["addr"] for c in planned
                                if c["resource"]["resource_type"] == "host"), HOSTS)
        events = self.events("destroy", "-auto-approve", "-json")
        order = [(e["hook"]["step"], e["hook"]["resource"]["addr"]) for e in events
                 if e["type"] == "apply_complete"]
        steps = [s for s, _ in order]
        self.assertEqual(sorted(a for s, a in order if s == "release_hosts"), HOSTS)
        self.assertLess(max(i for i, s in enumerate(steps) if s == "terminate"),
                        min(i for i, s in enumerate(steps) if s == "release_hosts"))
        summary = [e for e in events if e["type"] == "change_summary"][-1]["changes"]
        self.assertEqual(summary["remove"], 4)


class TestKilledRelease(HostsTestCase):
    def test_killed_during_release_hosts_the_next_destroy_finishes(self):
        self.apply_contract(count=2)
        self.kill_during("ReleaseHosts", "destroy", "-auto-approve")
        self.assertEqual(self.live(), {})
        self.ok("destroy", "-auto-approve", "-lock-timeout=10s")
        self.assertEqual(self.sim_hosts(), {})
        self.assertEqual(self.ok("show", "-json").json()["resources"], [])


class TestNoReleaseAfterAFailure(HostsTestCase):
    def test_a_failed_termination_keeps_its_host(self):
        self.apply_contract(count=2)
        hosts = self.sim_hosts()
        # EC2 refuses every termination (the dry run of the preflight passes).
        self.sim.faults(action_errors={"TerminateInstances": {
            "code": "OperationNotPermitted", "status": 400, "message": "refused by the test"}})
        before = len(self.sim.requests())
        r = self.np("destroy", "-auto-approve")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("not released", r.out + r.err)
        actions = [q["action"] for q in self.sim.requests()[before:]]
        self.assertIn("TerminateInstances", actions)
        self.assertNotIn("ReleaseHosts", actions)
        self.assertEqual(self.sim_hosts().keys(), hosts.keys())
        self.assertEqual(sorted(self.shown()["host"]), HOSTS)
        # Once EC2 lets it, the next destroy finishes the job in order.
        self.sim.faults(action_errors={})
        self.ok("destroy", "-auto-approve")
        self.assertEqual(self.sim_hosts(), {})
        self.assertEqual(self.ok("show", "-json").json()["resources"], [])


class TestCapacity(HostsTestCase):
    def test_a_state_of_hosts_alone_is_pinned_to_its_region_and_account(self):
        self.write_config("version: 1\nhosts:\n  spare:\n    instance_family: m8i\n"
                          "    availability_zone: us-east-1a\n")
        self.ok("apply", "-auto-approve")
        shown = self.ok("show", "-json").json()
        self.assertEqual(shown.get("region"), "us-east-1")
        self.assertEqual(shown.get("account"), self.sim.account())
        r = self.np("plan", env=dict(self.env, AWS_REGION="us-west-2"))
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("holds instances in region us-east-1", r.err)

    def test_more_instances_than_the_hosts_hold_is_a_plan_error(self):
        self.write_config(CONTRACT % 60)
        r = self.np("plan", "-no-color")
        self.assertEqual(r.rc, 1, r)
        m = re.search(r"hosts 'kvm-hosts' hold (\d+) more m8i\.4xlarge, the plan places (\d+) "
                      r"\((\d+) missing\)", r.out + r.err)
        self.assertIsNotNone(m, r)
        hold, places, missing = map(int, m.groups())
        self.assertEqual(places, 60)
        self.assertGreater(missing, 0)
        self.assertEqual(hold + missing, places)
        # apply refuses the same way, before any call that changes anything.
        r = self.np("apply", "-auto-approve")
        self.assertEqual(r.rc, 1, r)
        calls = self.sim.stats()["calls"]
        self.assertEqual([a for a in ("AllocateHosts", "RunInstances") if calls.get(a)], [])


class TestAllocationAdopted(HostsTestCase):
    def converge(self):
        self.sim.faults(stall=None, lose_response=None)
        self.ok("apply", "-auto-approve", "-lock-timeout=10s")
        # The host of the call that had no answer was adopted, not doubled.
        self.assertEqual(len([h for h in self.sim.hosts() if h["state"] == "available"]), 2)
        self.assertEqual(sorted(self.sim_hosts()), HOSTS)
        shown = self.shown()
        self.assertEqual({a: r["host_id"] for a, r in shown["host"].items()},
                         {a: h["host_id"] for a, h in self.sim_hosts().items()})
        self.assertEqual(sorted(self.live()), RUNNERS)
        self.ok("plan", "-detailed-exitcode", rc=0)

    def test_lost_answer_of_allocate_hosts(self):
        self.write_config(CONTRACT % 6)
        # Every answer lost, the retries' too (a lost answer retried alone is
        # answered with the same host: AllocateHosts is idempotent by token).
        self.sim.faults(lose_response={"action": "AllocateHosts", "nth": 1, "times": 1000})
        r = self.np("apply", "-auto-approve")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("ClientToken", r.out + r.err)
        # Each host was allocated once (retries carry its token), none recorded,
        # no instance launched: nothing to launch onto.
        self.assertEqual(len([h for h in self.sim.hosts() if h["state"] == "available"]), 2)
        self.assertEqual(self.shown()["host"], {})
        self.assertEqual(self.live(), {})
        self.converge()

    def test_killed_between_allocate_hosts_and_its_record(self):
        self.write_config(CONTRACT % 6)
        self.kill_during("AllocateHosts", "apply", "-auto-approve")
        self.assertEqual(len([h for h in self.sim.hosts() if h["state"] == "available"]), 1)
        self.converge()


if __name__ == "__main__":
    unittest.main()
