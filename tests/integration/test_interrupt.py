"""Interruption (issue 16, points 1-4, 7, 9): a signal stops new work at once,
a second one exits at once, the ending tells the truth, the status line adds
up, and the next apply resumes and closes what an interrupted one left."""
import json
import os
import pty
import re
import select
import signal
import sqlite3
import subprocess
import time

from tests.integration.common import NESTPLAN, SimTestCase

FLEET = """\
version: 1
instances:
  runner:
    count: %d
    image_id: ami-0abcdef1234567890
    instance_type: %s
    tags: { team: ci }
"""
ROLLOUT = "    rollout: { max_unavailable: %d }\n"


def db_rows(directory, sql):
    db = sqlite3.connect(os.path.join(directory, "nestplan.db"))
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


class InterruptCase(SimTestCase):
    def calls(self, action):
        return [c for c in self.sim.calls() if c["action"] == action and not c["dry_run"]]

    def start(self, *args, env=None):
        # Files, not pipes: a big plan must not block on a pipe nobody reads yet.
        self.out_path = os.path.join(self.dir, "apply.out")
        self.err_path = os.path.join(self.dir, "apply.err")
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            return subprocess.Popen([NESTPLAN] + list(args), cwd=self.dir, env=env or self.env,
                                    stdout=out, stderr=err)

    def output(self):
        with open(self.out_path) as out, open(self.err_path) as err:
            return out.read(), err.read()

    def wait_answered(self, p, action, n=1, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline and p.poll() is None:
            if len([c for c in self.calls(action) if c["status"] == 200]) >= n:
                return
            time.sleep(0.05)
        p.kill()
        p.wait()
        out, err = self.output()
        self.fail("%d answered %s never seen (%s)\n%s\n%s" % (
            n, action, [c["status"] for c in self.calls(action)], out[-3000:], err[-3000:]))

    def finish(self, p, timeout):
        try:
            p.wait(timeout=timeout)
            return self.output()
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            out, err = self.output()
            self.fail("nestplan did not end within %.0fs\n%s\n%s" % (timeout, out[-3000:],
                                                                     err[-3000:]))

    def not_terminated(self):
        return [i for i in self.sim.instances() if i["state"] not in ("terminated", "shutting-down")]

    def assert_lock_free(self):
        self.assertEqual(db_rows(self.dir, "SELECT * FROM lock"), [])

    def assert_converged(self, n, itype, env=None):
        r = self.np("apply", "-auto-approve", "-lock-timeout=5s", env=env, timeout=300)
        self.assertEqual(r.rc, 0, r)
        self.assertNotIn("took over the state lock", r.err)
        live = self.live()
        self.assertEqual(sorted(live), sorted("runner[%d]" % i for i in range(n)))
        self.assertEqual(len(self.not_terminated()), n)
        for inst in live.values():
            self.assertEqual((inst["state"], inst["instance_type"]), ("running", itype))
        self.assert_state_matches_sim()
        self.assertEqual(db_rows(self.dir, "SELECT * FROM journal WHERE status = 'started'"), [])
        self.ok("plan", "-detailed-exitcode", env=env, rc=0)


class TestInterruptLaunch(InterruptCase):
    sim_args = {"transition_seconds": 0.2}

    def test_sigint_during_a_3000_instance_launch_stops_new_launches(self):
        self.sim.faults(rate_limits=True)
        self.write_config(FLEET % (3000, "m8i.large"))
        # EC2's default buckets: 1,000 instances at once, then 2 a second, so
        # the workers soon sleep in the client's limiter.
        env = dict(self.env, NESTPLAN_RATE_LIMIT="1")
        p = self.start("apply", "-auto-approve", "-json", env=env)
        self.wait_answered(p, "RunInstances", 10)
        # Once the first 1,000 are recorded, the workers wait for their turn.
        deadline = time.time() + 60
        while time.time() < deadline and p.poll() is None:
            try:
                if db_rows(self.dir, "SELECT count(*) FROM resources")[0][0] >= 1000:
                    break
            except sqlite3.OperationalError:
                pass  # busy
            time.sleep(0.1)
        time.sleep(0.5)
        signalled = time.time()
        p.send_signal(signal.SIGINT)
        out, err = self.finish(p, 30)
        self.assertEqual(p.returncode, 130, err[-3000:])
        self.assertLess(time.time() - signalled, 10)
        late = [c for c in self.calls("RunInstances") if c["received"] > signalled + 1]
        self.assertEqual(late, [])
        self.assert_lock_free()
        events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        summary, diag = events[-2], events[-1]
        self.assertEqual(summary["type"], "apply_interrupted")
        s = summary["changes"]
        launched = len(self.not_terminated())
        self.assertEqual(s["add"], launched)
        self.assertEqual(s["add"] + s["failed"] + s["unknown"] + s["interrupted"] +
                         s["not_started"], 3000)
        self.assertGreater(s["not_started"], 0)
        self.assertEqual((diag["type"], diag["diagnostic"]["severity"]), ("diagnostic", "error"))
        history = json.loads(self.ok("show", "-history", "-json").out)
        last = history[-1] if isinstance(history, list) else history["history"][-1]
        self.assertEqual(last["outcome"], "interrupted")
        self.assertEqual(len(self.state_resources()), launched)
        # The rest, without the limits, so the test stays short.
        self.sim.faults(rate_limits=False)
        self.assert_converged(3000, "m8i.large", env=dict(self.env, NESTPLAN_RATE_LIMIT="off"))


class TestInterruptCycle(InterruptCase):
    sim_args = {"transition_seconds": 3.0}

    def launch(self, n, extra=""):
        self.write_config(FLEET % (n, "m8i.large") + extra)
        self.ok("apply", "-auto-approve", "-parallelism=20")
        self.write_config(FLEET % (n, "m8i.xlarge") + extra)

    def test_two_sigints_half_a_second_apart_exit_at_once_and_the_next_apply_converges(self):
        self.launch(50)
        p = self.start("apply", "-auto-approve", "-parallelism=20")
        self.wait_answered(p, "StopInstances")
        signalled = time.time()
        p.send_signal(signal.SIGINT)
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        out, err = self.finish(p, 30)
        self.assertLess(time.time() - signalled, 2)
        self.assertEqual(p.returncode, 130, out[-2000:] + err[-2000:])
        self.assertIn("Interrupted twice: exiting now.", out)
        self.assertIn("The next apply resumes them.", out)
        # What may be left behind, by address and id.
        self.assertRegex(out, r"runner\[\d+\] \(i-[0-9a-f]+\): stopped mid-change")
        self.assertEqual(self.calls("ModifyInstanceAttribute"), [])
        self.assert_converged(50, "m8i.xlarge")

    def test_sigterm_mid_cycle_starts_stopped_instances_again_and_queues_nothing_new(self):
        self.launch(10, ROLLOUT % 5)
        p = self.start("apply", "-auto-approve")
        self.wait_answered(p, "StopInstances")
        signalled = time.time()
        p.send_signal(signal.SIGTERM)
        out, err = self.finish(p, 30)
        self.assertEqual(p.returncode, 143, out[-2000:] + err[-2000:])
        # No modification after the signal: the stopped five start again as
        # they were, the five queued behind max_unavailable never begin.
        for action in ("ModifyInstanceAttribute", "ModifyInstanceCpuOptions"):
            self.assertEqual([c for c in self.calls(action) if c["received"] > signalled], [])
        self.assertEqual(sum(c["count"] for c in self.calls("StopInstances")), 5)
        self.assertEqual(sum(c["count"] for c in self.calls("StartInstances")), 5)
        self.assertIn("Apply interrupted: 0 changed, 0 failed, 5 interrupted mid-change, "
                      "5 not started.", out)
        self.assertNotIn("Apply complete", out)
        self.assertIn("apply interrupted by SIGTERM", err)
        self.assert_lock_free()
        history = json.loads(self.ok("show", "-history", "-json").out)
        last = history[-1] if isinstance(history, list) else history["history"][-1]
        self.assertEqual(last["outcome"], "interrupted")
        # The five were started again and waited for before the exit.
        self.assertEqual(sorted(i["state"] for i in self.sim.instances()), ["running"] * 10)
        self.assert_converged(10, "m8i.xlarge")

    def test_resume_after_a_kill_right_after_start_waits_and_closes_the_cycle(self):
        self.launch(2)
        p = self.start("apply", "-auto-approve")
        self.wait_answered(p, "StartInstances")
        p.send_signal(signal.SIGKILL)
        p.wait()
        self.assertEqual(sorted(i["state"] for i in self.sim.instances()), ["pending"] * 2)
        # The next apply has nothing to change, but waits for the cycle's end
        # and closes its journal entries.
        self.ok("apply", "-auto-approve", "-lock-timeout=5s")
        self.assertEqual(sorted(i["state"] for i in self.sim.instances()), ["running"] * 2)
        self.assertEqual(db_rows(self.dir, "SELECT * FROM journal WHERE status = 'started'"), [])
        self.assert_state_matches_sim()
        # The file does not manage the run state: an instance the operator
        # stops by hand stays stopped; no stale entry starts it again.
        web0 = self.live()["runner[0]"]["instance_id"]
        self.sim.set_instance(web0, state="stopped")
        self.ok("apply", "-auto-approve")
        self.assertEqual(self.live()["runner[0]"]["state"], "stopped")
        self.assertEqual(len(self.calls("StartInstances")), 1)


class TestStatusLine(InterruptCase):
    sim_args = {"transition_seconds": 0.5}

    def test_the_status_line_counts_add_up_to_the_total(self):
        self.write_config(FLEET % (6, "m8i.large") + ROLLOUT % 2)
        self.ok("apply", "-auto-approve")
        self.write_config(FLEET % (6, "m8i.xlarge") + ROLLOUT % 2)
        env = dict(self.env)
        env.pop("NESTPLAN_IN_AUTOMATION", None)
        master, slave = pty.openpty()
        p = subprocess.Popen([NESTPLAN, "apply", "-auto-approve", "-no-color"], cwd=self.dir,
                             env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
        os.close(slave)
        chunks = []
        deadline = time.time() + 120
        while time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
            elif p.poll() is not None:
                break
        os.close(master)
        p.wait(timeout=30)
        self.assertEqual(p.returncode, 0)
        text = b"".join(chunks).decode(errors="replace")
        lines = re.findall(r"\[(\d+)m(\d\d)s: (\d+) done, (\d+) in a cycle, (\d+) waiting on EC2, "
                           r"(\d+) queued behind max_unavailable, (\d+) not started"
                           r"(?:, (\d+) failed)?(?:, (\d+) interrupted)? of (\d+)\]", text)
        self.assertTrue(lines, text[-2000:])
        for m in lines:
            nums = [int(x or 0) for x in m[2:9]]
            self.assertEqual(sum(nums), int(m[9]), m)
            self.assertEqual(int(m[9]), 6)
        # Behind max_unavailable: 2 at a time, so 4 queued at first.
        self.assertTrue(any(int(m[5]) == 4 for m in lines), lines)
        self.assertTrue(any(int(m[3]) == 2 for m in lines), lines)


if __name__ == "__main__":
    import unittest
    unittest.main()
