"""Crash safety: apply killed with SIGKILL while each kind of mutating call
is in flight (the simulator stalls it), and calls whose answer is lost.
After each, a rerun must converge: exactly the planned instances, none
stopped that should run, and the state equal to the simulator."""
import os
import signal
import subprocess
import time

from tests.integration.common import NESTPLAN, SimTestCase
from client import allocate_host  # noqa: E402  (tests/ec2sim/client.py)

BASE = """\
version: 1
instances:
  web:
    count: 2
    image_id: ami-0abcdef1234567890
    instance_type: %s
    cpu_options: { nested_virtualization: enabled }
    tags: { team: %s }
"""


PLACED = BASE + "    placement: { tenancy: %s }\n"
UNTAGGED = BASE.replace("    tags: { team: %s }\n", "    tags: {}\n")

# The calls not covered above: (action, config before, config after).
MORE = [
    ("ModifyInstancePlacement", PLACED % ("m8i.large", "ci", "dedicated"),
     PLACED % ("m8i.large", "ci", "host")),
    ("DeleteTags", BASE % ("m8i.large", "ci"), UNTAGGED % "m8i.large"),
    ("ModifyInstanceCpuOptions", BASE % ("m8i.large", "ci"), BASE % ("m8i.xlarge", "ci")),
    ("CreateTags", BASE % ("m8i.large", "ci"), BASE % ("m8i.large", "infra")),
]


class TestResume(SimTestCase):
    sim_args = {"transition_seconds": 0.2}

    def converge(self):
        self.sim.faults(stall=None, lose_response=None)
        self.ok("apply", "-auto-approve", "-lock-timeout=10s")
        live = self.live()
        self.assertEqual(sorted(live), ["web[0]", "web[1]"])
        for inst in live.values():
            self.assertEqual(inst["state"], "running")
        # nothing left behind and nothing launched twice
        self.assertEqual(len([i for i in self.sim.instances() if i["state"] != "terminated"]), 2)
        self.assert_state_matches_sim()
        self.ok("plan", "-detailed-exitcode", rc=0)

    def kill_during(self, action, nth=1):
        self.sim.faults(stall={"action": action, "nth": nth, "seconds": 1.5})
        p = subprocess.Popen([NESTPLAN, "apply", "-auto-approve"], cwd=self.dir, env=self.env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        # Kill once the stalled call has reached the simulator.
        while time.time() < deadline and p.poll() is None:
            if any(c["action"] == action and not c["dry_run"] for c in self.sim.calls()) or \
                    self.sim.stats()["calls"].get(action, 0) >= nth + 1:
                break
            time.sleep(0.05)
        time.sleep(0.3)
        p.send_signal(signal.SIGKILL)
        p.wait()
        time.sleep(1.5)  # the stalled call completes inside the simulator

    def test_kill_during_each_mutating_call(self):
        # nth counts DryRun calls too: the preflight makes one of each kind first.
        for action, nth, before, after in [
                ("RunInstances", 2, None, ("m8i.large", "ci")),
                ("StopInstances", 2, ("m8i.large", "ci"), ("m8i.xlarge", "ci")),
                ("ModifyInstanceCpuOptions", 2, ("m8i.xlarge", "ci"), ("m8i.2xlarge", "ci")),
                ("ModifyInstanceAttribute", 2, ("m8i.2xlarge", "ci"), ("m8i.large", "ci")),
                ("StartInstances", 2, ("m8i.large", "ci"), ("m8i.xlarge", "ci")),
                ("CreateTags", 2, ("m8i.xlarge", "ci"), ("m8i.xlarge", "infra")),
                ("TerminateInstances", 2, None, None)]:
            with self.subTest(action=action):
                self.sim.reset()
                for name in os.listdir(self.dir):
                    os.unlink(os.path.join(self.dir, name))
                if before:
                    self.write_config(BASE % before)
                    self.ok("apply", "-auto-approve")
                if action == "TerminateInstances":
                    self.write_config(BASE % ("m8i.large", "ci"))
                    self.ok("apply", "-auto-approve")
                    self.write_config(BASE.replace("count: 2", "count: 4") % ("m8i.large", "ci"))
                    self.ok("apply", "-auto-approve")
                    self.write_config(BASE % ("m8i.large", "ci"))
                else:
                    self.write_config(BASE % after)
                self.kill_during(action, nth)
                self.converge()

    def fresh(self):
        self.sim.reset()
        # MORE's move onto tenancy host auto-places: the account needs a host.
        allocate_host(self.sim.url)
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))

    def test_kill_during_placement_and_tag_removal(self):
        for action, before, after in MORE[:2]:
            with self.subTest(action=action):
                self.fresh()
                self.write_config(before)
                self.ok("apply", "-auto-approve")
                self.write_config(after)
                self.kill_during(action, 2)
                self.converge()

    def test_lost_answers_of_the_other_calls(self):
        for action, before, after in MORE + [
                ("TerminateInstances", BASE.replace("count: 2", "count: 3") % ("m8i.large", "ci"),
                 BASE % ("m8i.large", "ci"))]:
            with self.subTest(action=action):
                self.fresh()
                self.write_config(before)
                self.ok("apply", "-auto-approve")
                self.write_config(after)
                self.sim.faults(lose_response={"action": action, "nth": 2})
                self.np("apply", "-auto-approve")
                self.converge()

    def test_lost_answers_do_not_duplicate_or_strand(self):
        for action in ("RunInstances", "StopInstances", "ModifyInstanceAttribute", "StartInstances"):
            with self.subTest(action=action):
                self.sim.reset()
                for name in os.listdir(self.dir):
                    os.unlink(os.path.join(self.dir, name))
                if action != "RunInstances":
                    self.write_config(BASE % ("m8i.large", "ci"))
                    self.ok("apply", "-auto-approve")
                    self.write_config(BASE % ("m8i.xlarge", "ci"))
                else:
                    self.write_config(BASE % ("m8i.large", "ci"))
                # nth 2: the first is the preflight's DryRun
                self.sim.faults(lose_response={"action": action, "nth": 2})
                self.np("apply", "-auto-approve")
                self.converge()
