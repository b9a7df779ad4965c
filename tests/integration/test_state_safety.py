"""State safety: concurrent commands never corrupt the state, damaged or
foreign files are refused untouched, every apply leaves history and a
backup, and state and plan files are 0600 whatever the umask."""
import hashlib
import os
import sqlite3
import stat
import subprocess
import unittest

from tests.integration.common import NESTPLAN, SimTestCase

CONFIG = """\
version: 1
instances:
  runner:
    count: 2
    image_id: ami-0abcdef1234567890
    instance_type: %s
"""


def read(path):
    with open(path, "rb") as f:
        return f.read()


def digest(path):
    return hashlib.sha256(read(path)).hexdigest()


class TestStateSafety(SimTestCase):
    sim_args = {"transition_seconds": 0.1}

    def spawn(self, *args):
        return subprocess.Popen([NESTPLAN] + list(args), cwd=self.dir, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def test_two_inits_and_concurrent_applies_leave_one_consistent_state(self):
        self.write_config(CONFIG % "m8i.large")
        procs = [self.spawn("init") for _ in range(2)]
        for p in procs:
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, out + err)
        lineage = self.ok("show", "-json").json()["lineage"]
        # Four applies at once: the lock serialises them, nothing is launched twice.
        procs = [self.spawn("apply", "-auto-approve", "-lock-timeout=60s") for _ in range(4)]
        for p in procs:
            out, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, out + err)
        self.assertEqual(self.ok("show", "-json").json()["lineage"], lineage)
        self.assertEqual(len([i for i in self.sim.instances() if i["state"] != "terminated"]), 2)
        self.assert_state_matches_sim()
        db = sqlite3.connect(os.path.join(self.dir, "nestplan.db"))
        self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        db.close()

    def test_damaged_foreign_and_newer_files_are_refused_untouched(self):
        self.write_config(CONFIG % "m8i.large")
        path = os.path.join(self.dir, "nestplan.db")
        self.ok("apply", "-auto-approve")
        good = read(path)

        cases = {}
        cases["garbage"] = b"this is not a database at all\n" * 100
        cases["truncated"] = good[:len(good) // 3]
        cases["flipped page"] = good[:4096] + bytes(b ^ 0xFF for b in good[4096:8192]) + good[8192:]
        foreign = os.path.join(self.dir, "foreign.db")
        db = sqlite3.connect(foreign)
        db.execute("CREATE TABLE t(x)")
        db.commit()
        db.close()
        cases["foreign sqlite"] = read(foreign)
        newer = os.path.join(self.dir, "newer.db")
        with open(newer, "wb") as f:
            f.write(good)
        db = sqlite3.connect(newer)
        db.execute("PRAGMA user_version = 999")
        db.commit()
        db.close()
        cases["newer schema"] = read(newer)

        for name, data in cases.items():
            with self.subTest(state=name):
                for suffix in ("-wal", "-shm"):
                    if os.path.exists(path + suffix):
                        os.unlink(path + suffix)
                with open(path, "wb") as f:
                    f.write(data)
                before = digest(path)
                for args in (("plan",), ("apply", "-auto-approve"), ("state", "list"),
                             ("drift",), ("init",)):
                    r = self.np(*args)
                    self.assertNotEqual(r.rc, 0, (name, args, r))
                    self.assertNotEqual(r.rc, 2, (name, args, r))
                    self.assertIn("nestplan.db", r.err, (name, args, r))
                    self.assertEqual(digest(path), before, (name, args))
        self.assertEqual(len([i for i in self.sim.instances() if i["state"] != "terminated"]), 2)

    def test_history_backup_and_file_modes(self):
        self.env_umask = os.umask(0o000)  # the most permissive umask
        try:
            self.write_config(CONFIG % "m8i.large")
            self.ok("apply", "-auto-approve")
            self.write_config(CONFIG % "m8i.xlarge")
            self.ok("plan", "-out=change.plan", rc=0)
            self.ok("apply", "change.plan")
            self.ok("destroy", "-auto-approve")
        finally:
            os.umask(self.env_umask)
        for name in ("nestplan.db", "nestplan.db.backup", "change.plan"):
            mode = stat.S_IMODE(os.stat(os.path.join(self.dir, name)).st_mode)
            self.assertEqual(mode, 0o600, name)
        hist = self.ok("show", "-history", "-json").json()
        self.assertEqual([h["command"] for h in hist], ["apply", "apply", "destroy"])
        self.assertEqual([(h["added"], h["changed"], h["destroyed"]) for h in hist],
                         [(2, 0, 0), (0, 2, 0), (0, 0, 2)])
        self.assertTrue(all(h["outcome"] == "ok" and h["user"] and h["at"] > 0 for h in hist))
        self.assertEqual(sorted(c["address"] for c in hist[1]["changes"]),
                         ["runner[0]", "runner[1]"])
        self.assertTrue(all(c["action"] == "update" and c["outcome"] == "ok"
                            for c in hist[1]["changes"]))
        text = self.ok("show", "-history").out
        self.assertIn("destroy", text)
        self.assertIn("runner[1]", text)
        # The backup is the state before the last apply: the two instances.
        backup = sqlite3.connect(os.path.join(self.dir, "nestplan.db.backup"))
        self.assertEqual(backup.execute("SELECT count(*) FROM resources").fetchone()[0], 2)
        backup.close()


if __name__ == "__main__":
    unittest.main()
