"""Launches that cannot duplicate, CPU options sent whole at launch, and
waiters that ride out EC2's eventual consistency (issue 13, points 5-7)."""
import os
import sqlite3
import subprocess
import time

from tests.integration.common import NESTPLAN, SimTestCase

INVISIBLE_MS = 5000
FLEET = """\
version: 1
instances:
  web:
    count: %d
    image_id: ami-0abcdef1234567890
    instance_type: m8i.large
    tags: { team: %s }
"""


def open_journal(directory):
    db = sqlite3.connect(os.path.join(directory, "nestplan.db"))
    try:
        return db.execute("SELECT address, step, client_token FROM journal "
                          "WHERE status = 'started' ORDER BY id").fetchall()
    finally:
        db.close()


class TestIdempotency(SimTestCase):
    sim_args = {"transition_seconds": 0.2}

    def launches(self):
        return [c for c in self.sim.calls() if c["action"] == "RunInstances" and not c["dry_run"]]

    def not_terminated(self):
        return [i for i in self.sim.instances() if i["state"] not in ("terminated", "shutting-down")]

    def lose_first_launch_answer(self, count):
        # nth 2: the preflight's DryRun is the first RunInstances. One attempt
        # only, so the lost answer is lost "after every retry".
        self.sim.faults(lose_response={"action": "RunInstances", "nth": 2, "times": 3},
                        invisible_ms=INVISIBLE_MS)
        self.launched_at = time.time()
        env = dict(self.env, AWS_MAX_ATTEMPTS="1")
        r = self.np("apply", "-auto-approve", env=env)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("outcome unknown", r.out + r.err)
        self.sim.faults(lose_response=None)  # the instances stay unlisted for a while
        self.assertEqual(len(self.not_terminated()), count)  # EC2 did launch them
        # The token stays in the journal for the next apply.
        pending = [e for e in open_journal(self.dir) if e[1] == "run_instances"]
        self.assertEqual(len(pending), count, pending)
        self.assertTrue(all(e[2] for e in pending))
        return env

    def test_lost_launch_answer_and_invisible_instances_do_not_duplicate(self):
        self.write_config(FLEET % (3, "ci"))
        env = self.lose_first_launch_answer(3)
        tokens = {e[2] for e in open_journal(self.dir)}
        before = len(self.launches())  # libcurl resends on a reused connection that died
        # The instances are not listed yet: the plan wants them again, and the
        # launch goes out under the same ClientToken, so EC2 answers with them.
        r = self.np("apply", "-auto-approve", env=env)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(len(self.not_terminated()), 3)
        self.assertEqual(len(self.launches()), before + 1)
        self.assertEqual(open_journal(self.dir), [])
        self.sim.faults(invisible_ms=0)
        self.assertEqual(sorted(self.state_resources()), ["web[0]", "web[1]", "web[2]"])
        self.assert_state_matches_sim()
        self.ok("plan", "-detailed-exitcode", rc=0)
        self.assertEqual(len(tokens), 1)

    def test_idempotent_parameter_mismatch_is_terminal_and_never_relaunches(self):
        self.write_config(FLEET % (1, "ci"))
        env = self.lose_first_launch_answer(1)
        before = len(self.launches())
        # The file changed before the rerun: the same token with other
        # parameters is refused, and no second token may launch the address.
        self.write_config(FLEET % (1, "infra"))
        r = self.np("apply", "-auto-approve", env=env)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("IdempotentParameterMismatch", r.out + r.err)
        self.assertEqual(len(self.not_terminated()), 1)
        self.assertEqual(len(self.launches()), before + 1)  # the one refused
        self.assertEqual(len(open_journal(self.dir)), 1)  # the token is still kept
        # Once EC2 lists it, the next apply finds it and only retags it.
        time.sleep(max(0, self.launched_at + INVISIBLE_MS / 1000 + 0.5 - time.time()))
        self.ok("apply", "-auto-approve", env=env)
        self.assertEqual(len(self.not_terminated()), 1)
        self.assertEqual(len(self.launches()), before + 1)
        self.assertEqual(open_journal(self.dir), [])
        self.assertEqual(self.not_terminated()[0]["tags"]["team"], "infra")
        self.assert_state_matches_sim()

    def test_half_given_cpu_options_are_completed_at_launch(self):
        self.write_config("""\
            version: 1
            instances:
              vm:
                image_id: ami-0abcdef1234567890
                instance_type: m8i.2xlarge
                cpu_options: { core_count: 2, nested_virtualization: enabled }
              half:
                image_id: ami-0abcdef1234567890
                instance_type: m8i.2xlarge
                cpu_options: { threads_per_core: 1 }
            """)
        self.ok("apply", "-auto-approve")
        live = self.live()
        # m8i.2xlarge: 4 cores, 2 threads per core by default.
        self.assertEqual((live["vm"]["core_count"], live["vm"]["threads_per_core"]), (2, 2))
        self.assertEqual((live["half"]["core_count"], live["half"]["threads_per_core"]), (4, 1))
        self.assertEqual([c for c in self.sim.calls() if c["action"] == "StopInstances"], [])
        self.ok("plan", "-detailed-exitcode", rc=0)


class TestWaiters(SimTestCase):
    sim_args = {"transition_seconds": 1.0}

    def calls(self, action):
        return [c for c in self.sim.calls() if c["action"] == action and not c["dry_run"]]

    def finish(self, p, timeout=60):
        try:
            return p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            self.fail("nestplan did not end within %ds\n%s\n%s" % (timeout, out, err))

    def start(self, *args):
        return subprocess.Popen([NESTPLAN] + list(args), cwd=self.dir, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_for_call(self, p, action):
        deadline = time.time() + 30
        while time.time() < deadline and p.poll() is None:
            if any(c["status"] == 200 for c in self.calls(action)):
                return
            time.sleep(0.05)
        self.fail("%s never answered" % action)

    def test_an_old_state_after_start_is_not_a_failure(self):
        self.write_config(FLEET % (1, "ci"))
        self.ok("apply", "-auto-approve")
        self.write_config((FLEET % (1, "ci")).replace("m8i.large", "m8i.xlarge"))
        p = self.start("apply", "-auto-approve", "-step-timeout=30s")
        self.wait_for_call(p, "StartInstances")
        (inst,) = self.sim.instances()
        # EC2 may report the state from before StartInstances for a while.
        self.sim.set_instance(inst["instance_id"], state="stopped")
        time.sleep(3)
        self.sim.set_instance(inst["instance_id"], state="running")
        out, err = self.finish(p)
        self.assertEqual(p.returncode, 0, out + err)
        self.assertEqual(self.live()["web[0]"]["instance_type"], "m8i.xlarge")
        self.assert_state_matches_sim()

    def test_a_type_ec2_still_shows_as_before_is_not_recorded(self):
        self.write_config(FLEET % (1, "ci"))
        self.ok("apply", "-auto-approve")
        self.write_config((FLEET % (1, "ci")).replace("m8i.large", "m8i.xlarge"))
        p = self.start("apply", "-auto-approve", "-step-timeout=30s")
        self.wait_for_call(p, "StartInstances")
        (inst,) = self.sim.instances()
        # Describe may lag behind ModifyInstanceAttribute for a while.
        self.sim.set_instance(inst["instance_id"], instance_type="m8i.large")
        time.sleep(2.5)
        self.sim.set_instance(inst["instance_id"], instance_type="m8i.xlarge")
        out, err = self.finish(p)
        self.assertEqual(p.returncode, 0, out + err)
        self.assertEqual(self.state_resources()["web[0]"]["instance_type"], "m8i.xlarge")
        self.ok("plan", "-detailed-exitcode", rc=0)

    def test_a_wait_ends_at_its_deadline_when_ec2_does_not_answer(self):
        self.write_config(FLEET % (1, "ci"))
        env = dict(self.env, AWS_MAX_ATTEMPTS="1")
        self.sim.faults(invisible_ms=60000)  # never listed while we wait
        t0 = time.time()
        p = subprocess.Popen([NESTPLAN, "apply", "-auto-approve", "-step-timeout=3s"],
                             cwd=self.dir, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.wait_for_call(p, "RunInstances")
        self.sim.faults(error_rate=1.0)  # the endpoint answers nothing useful any more
        out, err = self.finish(p)
        self.assertEqual(p.returncode, 1, out + err)
        self.assertLess(time.time() - t0, 30)
        self.assertIn("web[0]", err)
        self.assertIn("timed out waiting for i-", out + err)

    def test_sigterm_ends_a_wait_on_an_endpoint_that_fails(self):
        self.write_config(FLEET % (1, "ci"))
        env = dict(self.env, AWS_MAX_ATTEMPTS="1")
        self.sim.faults(invisible_ms=60000)
        p = subprocess.Popen([NESTPLAN, "apply", "-auto-approve"], cwd=self.dir, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.wait_for_call(p, "RunInstances")
        self.sim.faults(error_rate=1.0)
        time.sleep(1)
        t0 = time.time()
        p.terminate()
        out, err = self.finish(p)
        self.assertEqual(p.returncode, 143, out + err)
        self.assertLess(time.time() - t0, 5)
        self.assertIn("Apply interrupted: 1 added, 0 failed, 0 not started.", out)


if __name__ == "__main__":
    import unittest
    unittest.main()
