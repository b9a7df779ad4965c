"""Fault suite: apply and plan converge under every fault the simulator can
produce, alone and together, with no duplicate launch; Ctrl-C stops an apply
cleanly (in-flight steps finished and recorded, lock released, exit 130)."""
import signal
import subprocess
import time
import os
import unittest

from tests.integration.common import NESTPLAN, SimTestCase

FLEET = """\
version: 1
instances:
  runner:
    count: 3
    image_id: ami-0abcdef1234567890
    instance_type: %s
    cpu_options: { nested_virtualization: enabled }
    tags: { team: ci }
  single:
    image_id: ami-0abcdef1234567890
    instance_type: c8i.large
"""

FAULTS = {
    "throttling": {"throttle_rate": 0.3},
    "5xx": {"error_rate": 0.2},
    "dropped connections": {"reset_rate": 0.2},
    "latency": {"latency_ms": 80},
    "eventual consistency": {"invisible_ms": 1500},
    "all together": {"throttle_rate": 0.15, "error_rate": 0.1, "reset_rate": 0.1,
                     "latency_ms": 30, "invisible_ms": 800},
}


class TestFaults(SimTestCase):
    sim_args = {"transition_seconds": 0.1, "seed": 11}

    def converged(self, instance_type):
        live = self.live()
        self.assertEqual(sorted(live), ["runner[0]", "runner[1]", "runner[2]", "single"])
        self.assertTrue(all(live["runner[%d]" % i]["instance_type"] == instance_type
                            for i in range(3)))
        self.assertTrue(all(i["state"] == "running" for i in live.values()))
        # exactly the planned instances: nothing launched twice
        self.assertEqual(len([i for i in self.sim.instances() if i["state"] != "terminated"]), 4)
        self.assert_state_matches_sim()

    def test_apply_and_plan_converge_under_each_fault(self):
        self.env["AWS_MAX_ATTEMPTS"] = "15"
        for name, faults in FAULTS.items():
            with self.subTest(fault=name):
                self.sim.reset()
                # A new world needs a new state: one whose recorded instances
                # EC2 knows none of is refused (wrong region, account or endpoint).
                for f in os.listdir(self.dir):
                    if f.startswith("nestplan.db"):
                        os.unlink(os.path.join(self.dir, f))
                self.sim.faults(**faults)
                self.write_config(FLEET % "m8i.large")
                # A fault can outlast the retries of one run; a rerun must then
                # finish the job without duplicating anything.
                for _ in range(3):
                    if self.np("apply", "-auto-approve", "-lock-timeout=10s",
                               timeout=300).rc == 0:
                        break
                self.write_config(FLEET % "m8i.xlarge")
                for _ in range(3):
                    if self.np("apply", "-auto-approve", "-lock-timeout=10s",
                               timeout=300).rc == 0:
                        break
                self.sim.faults(throttle_rate=0.0, error_rate=0.0, reset_rate=0.0,
                                latency_ms=0, invisible_ms=0)
                self.converged("m8i.xlarge")
                self.ok("plan", "-detailed-exitcode", rc=0)

    def test_permanent_faults_end_in_clear_errors_not_hangs(self):
        self.write_config(FLEET % "m8i.large")
        for faults, code in (({"error_rate": 1.0}, "InternalError"),
                             ({"throttle_rate": 1.0}, "RequestLimitExceeded"),
                             ({"reset_rate": 1.0}, "DescribeInstances")):
            with self.subTest(faults=faults):
                self.sim.reset()
                self.sim.faults(**faults)
                t0 = time.monotonic()
                r = self.ok("apply", "-auto-approve", rc=1, timeout=180)
                self.assertIn(code, r.err)
                self.assertLess(time.monotonic() - t0, 120)
                self.sim.faults(throttle_rate=0.0, error_rate=0.0, reset_rate=0.0)
                self.assertEqual(self.live(), {})

    def test_ctrl_c_finishes_in_flight_steps_releases_the_lock_and_exits_130(self):
        self.write_config(FLEET % "m8i.large")
        self.ok("apply", "-auto-approve")
        self.write_config(FLEET % "m8i.xlarge")
        # Hold the first type change so Ctrl-C arrives in the middle of a cycle.
        self.sim.faults(stall={"action": "ModifyInstanceAttribute", "nth": 1, "seconds": 2})
        p = subprocess.Popen([NESTPLAN, "apply", "-auto-approve"], cwd=self.dir, env=self.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        # the real call, not the preflight's DryRun of it
        while time.monotonic() < deadline and not any(
                c["action"] == "ModifyInstanceAttribute" and not c["dry_run"]
                for c in self.sim.calls()):
            time.sleep(0.05)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 130, out + err)
        self.assertIn("interrupted", (out + err).lower())
        # The lock is free at once and nothing was left stopped.
        r = self.np("plan", "-detailed-exitcode")
        self.assertIn(r.rc, (0, 2), r)
        self.assertNotIn("locked", r.err)
        self.sim.faults(stall=None)
        stopped = [a for a, i in self.live().items() if i["state"] != "running"]
        self.assertEqual(stopped, [])
        self.assert_state_matches_sim()
        # The history says how the run ended; a rerun finishes the change.
        hist = self.ok("show", "-history", "-json").json()
        self.assertIn("interrupted", str(hist).lower())
        self.ok("apply", "-auto-approve")
        self.converged("m8i.xlarge")


if __name__ == "__main__":
    unittest.main()
