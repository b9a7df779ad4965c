"""The local lock is the kernel's (issue #13 point 11): a second nestplan in
another PID namespace (CI containers sharing a state volume) cannot see the
holder's pid, and must still neither take over nor force-unlock the lock of a
live apply."""
import os
import shutil
import subprocess
import time
import unittest

from tests.integration.common import NESTPLAN, SimTestCase

CONFIG = """\
version: 1
instances:
  web:
    image_id: ami-0abcdef1234567890
    instance_type: %s
"""


def pid_namespaces_work():
    if not shutil.which("unshare"):
        return False
    r = subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True)
    return r.returncode == 0


@unittest.skipUnless(pid_namespaces_work(), "unshare --pid is not permitted here")
class TestKernelLock(SimTestCase):
    def test_another_pid_namespace_cannot_take_or_break_a_live_lock(self):
        self.write_config(CONFIG % "m8i.large")
        self.ok("apply", "-auto-approve")
        self.write_config(CONFIG % "m8i.xlarge")
        self.sim.faults(stall={"action": "StopInstances", "nth": 1, "seconds": 4})
        apply = subprocess.Popen([NESTPLAN, "apply", "-auto-approve"], cwd=self.dir, env=self.env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 20
            while time.time() < deadline and not any(
                    c["action"] == "StopInstances" and not c["dry_run"] for c in self.sim.calls()):
                time.sleep(0.05)
            other = subprocess.run(["unshare", "--pid", "--fork", NESTPLAN, "plan"], cwd=self.dir,
                                   env=self.env, capture_output=True, text=True, timeout=60)
            self.assertEqual(other.returncode, 1, other.stdout + other.stderr)
            self.assertIn("is locked by", other.stderr)
            self.assertNotIn("took over", other.stderr)
            lock_id = other.stderr.split("lock id ")[1].split(".")[0]
            forced = subprocess.run(["unshare", "--pid", "--fork", NESTPLAN, "force-unlock",
                                     "-force", lock_id], cwd=self.dir, env=self.env,
                                    capture_output=True, text=True, timeout=60)
            self.assertEqual(forced.returncode, 1, forced.stdout + forced.stderr)
            self.assertIn("live process", forced.stderr)
        finally:
            out, err = apply.communicate(timeout=120)
        self.assertEqual(apply.returncode, 0, out + err)
        self.assertEqual(self.live()["web"]["instance_type"], "m8i.xlarge")
        # released with the run: the next command takes it at once
        self.ok("plan", "-detailed-exitcode")
        self.assertTrue(os.path.exists(os.path.join(self.dir, "nestplan.db.lock")))

    def test_force_unlock_asks_first(self):
        self.write_config(CONFIG % "m8i.large")
        self.ok("init")
        r = self.np("force-unlock", "some-id", stdin="no\n")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("Do you really want to force-unlock?", r.out)
        self.assertIn("cancelled", r.err)
        r = self.np("force-unlock", "-input=false", "some-id")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("-input=false", r.err)
        r = self.np("force-unlock", "-force", "some-id")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("holds no lock with id 'some-id'", r.err)


if __name__ == "__main__":
    unittest.main()
