"""Shared pieces of the end-to-end tests: the real binary against the
simulator, each test in its own directory with its own state."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "ec2sim"))

from harness import Simulator  # noqa: E402  (tests/ec2sim/harness.py)

NESTPLAN = os.environ.get("NESTPLAN") or os.path.join(ROOT, "build", "nestplan")


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return "rc=%d\n--- stdout\n%s\n--- stderr\n%s" % (self.rc, self.out, self.err)


class SimTestCase(unittest.TestCase):
    """One simulator for the class; a fresh world and directory per test."""

    sim_args = {"transition_seconds": 0.2}

    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator(**cls.sim_args)
        cls.sim.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.sim.__exit__(None, None, None)

    def setUp(self):
        self.sim.reset()
        self.dir = tempfile.mkdtemp(prefix="nestplan-it-")
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("AWS_") or k.startswith("NESTPLAN_"):
                del self.env[k]
        self.env.update(self.sim.env())
        self.env["NESTPLAN_IN_AUTOMATION"] = "1"
        self.env["NO_COLOR"] = "1"

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_config(self, text, name="nestplan.yaml"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
        return path

    def np(self, *args, stdin=None, timeout=120, env=None):
        proc = subprocess.run(
            [NESTPLAN] + list(args), cwd=self.dir, env=env or self.env, input=stdin,
            capture_output=True, text=True, timeout=timeout)
        return Result(proc)

    def ok(self, *args, rc=0, **kw):
        r = self.np(*args, **kw)
        self.assertEqual(r.rc, rc, r)
        return r

    def live(self):
        """Instances in the simulator that are not terminated, by address tag
        ("runner[A..B]" on instances launched together: A + amiLaunchIndex)."""
        out = {}
        for i in self.sim.instances():
            if i["state"] in ("terminated", "shutting-down"):
                continue
            addr = i["tags"].get("nestplan:address", i["instance_id"])
            m = re.fullmatch(r"(.*)\[(\d+)\.\.(\d+)\]", addr)
            if m:
                addr = "%s[%d]" % (m.group(1), int(m.group(2)) + i["launch_index"])
            out[addr] = i
        return out

    def state_resources(self):
        r = self.ok("show", "-json")
        return {res["address"]: res for res in r.json()["resources"]}

    def assert_state_matches_sim(self):
        live = self.live()
        recorded = self.state_resources()
        self.assertEqual(sorted(live), sorted(recorded))
        for addr, res in recorded.items():
            sim = live[addr]
            self.assertEqual(res["instance_id"], sim["instance_id"], addr)
            self.assertEqual(res["instance_type"], sim["instance_type"], addr)
            self.assertEqual(res.get("state"), sim["state"], addr)
