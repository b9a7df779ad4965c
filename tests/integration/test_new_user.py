"""The first hour of a new user (issue 17, points 2 and 3).

Point 2, from the demo to real AWS: `make demo`'s script in a log (stdout a
pipe) prints no escape code and ends by saying what to try next; on a
terminal (tmux, as tests/integration/test_terminal.py drives it) it shows
apply's confirmation prompt answered with a visible "yes" and the live status
line. The README walks to a first real plan and gives the least IAM policy,
docs/iam-policy.json (the unit test test_plan_iam_policy_is_the_step_table
checks that it is the step table's permissions plus the two reads).

Point 3, validate offline and complete: a size that a known family lacks is
an error with a "did you mean" and no EC2 call; rule errors point at the key
(core_count's line and column); schema and rule errors come in one run;
nothing is written (no state, not even SQLite's -wal/-shm beside an existing
one, whose catalog cache is still read); -json is `terraform validate -json`,
checked against schemas/validate-output.schema.json."""
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

from tests.integration.common import NESTPLAN, ROOT, SimTestCase
from tests.integration.test_output_schemas import Validator, jsonschema, load_schema
from tests.integration.test_terminal import BASH, STATUS, TMUX, Terminal

DEMO = os.path.join(ROOT, "examples", "quickstart", "demo.sh")
README = os.path.join(ROOT, "README.md")
POLICY = os.path.join(ROOT, "docs", "iam-policy.json")
VALIDATE_SCHEMA = load_schema("validate-output.schema.json")
NO_TMUX = None if TMUX and BASH else "tmux or bash is missing: the demo's terminal test needs both"
if NO_TMUX:
    print("\n%s: %s" % (__name__, NO_TMUX), file=sys.stderr)

NEXT = "What to try next:"


def demo_env():
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("AWS_") or k.startswith("NESTPLAN_") or k in ("NO_COLOR", "TMUX"))}
    env["NESTPLAN"] = NESTPLAN
    return env


class TestDemoInALog(unittest.TestCase):
    def test_plain_text_and_what_to_try_next(self):
        p = subprocess.run(["sh", DEMO], env=demo_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=180)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertNotIn(b"\x1b", p.stdout, "an escape code in the log")
        self.assertIn("$ nestplan apply -auto-approve", out)
        self.assertIn("Apply complete! 3 added", out)
        self.assertIn("(drift exited 2", out)
        tail = out[out.rindex("Demo complete"):]
        self.assertIn(NEXT, tail)
        for what in ("nestplan plan -json", "nestplan drift", "nestplan destroy",
                     "From the demo to real AWS", "docs/iam-policy.json"):
            self.assertIn(what, tail)


@unittest.skipIf(NO_TMUX, NO_TMUX)
class TestDemoOnATerminal(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nestplan-demo-tty-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.term = Terminal(self, self.dir)
        self.addCleanup(self.term.close)
        env = demo_env()
        env.pop("TERM", None)
        self.term.open(env)

    def test_prompt_answered_yes_and_the_status_line(self):
        self.term.type("sh %s; echo DEMO-DONE:$?" % shlex.quote(DEMO))
        # The prompt is on the screen before the answer comes.
        self.term.wait_for(r"Enter a value:", timeout=60)
        rc = int(self.term.wait_for(r"(?m)^DEMO-DONE:(\d+)", timeout=180).group(1))
        time.sleep(0.1)  # pipe-pane writes asynchronously
        screen, raw = self.term.screen(), self.term.raw()
        self.assertEqual(rc, 0, screen[-6000:])
        self.assertIn("Do you want to perform these actions?", screen)
        self.assertEqual(len(re.findall(r"Enter a value: yes\s*$", screen, re.M)), 2, screen[-6000:])
        self.assertIn("Apply complete! 3 added", screen)
        # The live line was drawn (and redrawn in place) while EC2 worked.
        self.assertRegex(raw, STATUS)
        self.assertIn("\r\x1b[K", raw)
        self.assertIn("\x1b[1m$ nestplan plan", raw, "the steps are bold on a terminal")
        self.assertIn(NEXT, screen)


class TestReadmeToRealAws(unittest.TestCase):
    def section(self):
        with open(README) as f:
            text = f.read()
        m = re.search(r"(?ms)^## From the demo to real AWS\n(.*?)(?=^## )", text)
        self.assertIsNotNone(m, "README has no 'From the demo to real AWS' section")
        return m.group(1)

    def test_the_walk_from_demo_to_a_first_apply(self):
        s = self.section()
        for what in ("make demo", "nestplan init", "nestplan plan", "nestplan apply", "nestplan destroy",
                     "AWS_PROFILE", "AWS_REGION", "docs/iam-policy.json", "DryRun", "ModifyInstancePlacement"):
            self.assertIn(what, s)

    def test_every_action_of_the_policy_is_explained(self):
        with open(POLICY) as f:
            policy = json.load(f)
        actions = [a for st in policy["Statement"] for a in st["Action"]]
        s = self.section()
        for a in actions:
            self.assertIn(a, s, "the README does not say why the policy grants %s" % a)


QUICK = """\
    version: 1
    defaults: { image_id: ami-0abcdef1234567890 }
    instances:
      runner:
        count: 3
        instance_type: m8i.larg
        cpu_options: { nested_virtualization: enabled }
      builder:
        instance_type: c8i.xlarge
        cpu_options: { core_count: 3, threads_per_core: 2, nested_virtualisation: enabled }
    """


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def position(text, needle):
    """(line, column, byte) of needle's first character, columns from 1."""
    b = text.encode().index(needle.encode())
    before = text.encode()[:b].decode()
    line = before.count("\n") + 1
    return line, len(before) - (before.rfind("\n") + 1) + 1, b


class TestValidate(SimTestCase):
    """Against a running simulator that validate must never call."""

    def validate(self, *args, rc):
        r = self.ok("validate", *args, rc=rc)
        self.assertEqual(self.sim.stats().get("calls", {}), {}, "validate called EC2")
        return r

    def test_a_size_the_family_lacks_is_an_error_with_did_you_mean(self):
        path = self.write_config(QUICK)
        text = read(path)
        r = self.validate(rc=1)
        line, col, _ = position(text, "instance_type: m8i.larg")
        self.assertIn("nestplan.yaml:%d:%d: error: runner[0..2]: instance type 'm8i.larg' does not exist; "
                      "did you mean 'm8i.large'?" % (line, col), r.err)
        self.assertEqual(r.err.count("m8i.larg'"), 1, "one line for the three copies")
        self.assertNotIn("Success", r.out)

    def test_rule_errors_point_at_the_key_and_schema_errors_come_in_the_same_run(self):
        path = self.write_config(QUICK)
        text = read(path)
        r = self.validate(rc=1)
        lines = r.err.splitlines()
        line, col, _ = position(text, "core_count: 3")
        self.assertIn("nestplan.yaml:%d:%d: error: builder: core_count 3 is not valid for 'c8i.xlarge' "
                      "(valid: 1, 2)" % (line, col), lines)
        line, col, _ = position(text, "nested_virtualisation")
        self.assertIn("nestplan.yaml:%d:%d: error: unknown key 'nested_virtualisation' in 'cpu_options'; "
                      "did you mean 'nested_virtualization'?" % (line, col), lines)
        self.assertEqual(len(lines), 3, r.err)
        # In file order.
        self.assertEqual([int(l.split(":")[1]) for l in lines], sorted(int(l.split(":")[1]) for l in lines))

    def test_json_is_terraform_validate_json(self):
        path = self.write_config(QUICK)
        text = read(path)
        doc = self.validate("-json", rc=1).json()
        self.assert_schema(doc)
        self.assertEqual(doc["format_version"], "1.0")
        self.assertIs(doc["valid"], False)
        self.assertEqual((doc["error_count"], doc["warning_count"]), (3, 0))
        by = {d["summary"]: d for d in doc["diagnostics"]}
        d = by["instance type 'm8i.larg' does not exist"]
        self.assertEqual(d["severity"], "error")
        self.assertEqual(d["address"], "runner[0..2]")
        self.assertTrue(d["detail"].startswith("did you mean 'm8i.large'? m8i comes in large, xlarge,"), d)
        d = by["core_count 3 is not valid for 'c8i.xlarge' (valid: 1, 2)"]
        self.assertEqual(d["address"], "builder")
        line, col, byte = position(text, "core_count: 3")
        rng = d["range"]
        self.assertEqual(rng["filename"], "nestplan.yaml")
        self.assertEqual(rng["start"], {"line": line, "column": col, "byte": byte})
        self.assertEqual(text.encode()[rng["start"]["byte"]:rng["end"]["byte"]], b"core_count: 3")
        d = by["unknown key 'nested_virtualisation' in 'cpu_options'"]
        self.assertEqual(d["detail"], "did you mean 'nested_virtualization'?")
        self.assertNotIn("address", d)
        # Valid, with a warning (Windows turns Virtual Secure Mode off), and plainly valid.
        self.write_config(QUICK.replace("m8i.larg", "m8i.large").replace("core_count: 3", "core_count: 2")
                          .replace("nested_virtualisation", "nested_virtualization")
                          .replace("count: 3", "count: 3\n        platform: windows"))
        doc = self.validate("-json", rc=0).json()
        self.assert_schema(doc)
        self.assertEqual((doc["valid"], doc["error_count"], doc["warning_count"]), (True, 0, 1), doc)
        self.assertEqual(doc["diagnostics"][0]["address"], "runner[0..2]")
        self.assertEqual(doc["diagnostics"][0]["range"]["start"]["line"], 6)
        r = self.validate(rc=0)
        self.assertIn("Success! The configuration is valid (4 instances), but there were some validation "
                      "warnings as shown above.", r.out)
        # What cannot be read at all is a diagnostic without a range.
        doc = self.validate("-json", "missing.yaml", rc=1).json()
        self.assert_schema(doc)
        self.assertEqual(doc["error_count"], 1)
        self.assertNotIn("range", doc["diagnostics"][0])
        self.write_config("version: 1\ninstances: [\n")
        doc = self.validate("-json", rc=1).json()
        self.assert_schema(doc)
        self.assertIn("malformed YAML", doc["diagnostics"][0]["summary"])
        self.assertEqual(doc["diagnostics"][0]["range"]["start"]["line"], 3)

    def assert_schema(self, doc):
        self.assertEqual(Validator(VALIDATE_SCHEMA).errors(doc), [], json.dumps(doc, indent=1))
        if jsonschema is not None and hasattr(jsonschema, "Draft202012Validator"):
            jsonschema.Draft202012Validator.check_schema(VALIDATE_SCHEMA)
            jsonschema.Draft202012Validator(VALIDATE_SCHEMA).validate(doc)

    def test_the_schema_rejects_what_terraform_would_not_print(self):
        v = Validator(VALIDATE_SCHEMA)
        good = {"format_version": "1.0", "valid": True, "error_count": 0, "warning_count": 0, "diagnostics": []}
        self.assertEqual(v.errors(good), [])
        diag = {"severity": "error", "summary": "x", "detail": "",
                "range": {"filename": "f", "start": {"line": 1, "column": 1, "byte": 0},
                          "end": {"line": 1, "column": 2, "byte": 1}}}
        for bad in (dict(good, format_version="1"), dict(good, valid="yes"), dict(good, extra=1),
                    dict(good, diagnostics=[dict(diag, severity="fatal")]),
                    dict(good, diagnostics=[dict(diag, range={"filename": "f", "start": {"line": 1}})]),
                    dict(good, diagnostics=[{"severity": "error", "summary": "x"}])):
            self.assertNotEqual(v.errors(bad), [], bad)

    def test_validate_writes_nothing(self):
        self.write_config(QUICK.replace("m8i.larg", "m8i.large").replace("core_count: 3", "core_count: 2")
                          .replace("nested_virtualisation", "nested_virtualization"))
        self.validate(rc=0)
        self.validate("-json", rc=0)
        self.assertEqual(sorted(os.listdir(self.dir)), ["nestplan.yaml"])
        # Beside an existing state: not a byte changed, no -wal or -shm made.
        self.ok("init")
        for side in ("nestplan.db-wal", "nestplan.db-shm"):
            if os.path.exists(os.path.join(self.dir, side)):
                os.unlink(os.path.join(self.dir, side))
        before = {n: read(os.path.join(self.dir, n), "rb") for n in os.listdir(self.dir)}
        self.validate(rc=0)
        after = {n: read(os.path.join(self.dir, n), "rb") for n in os.listdir(self.dir)}
        self.assertEqual(sorted(after), sorted(before))
        self.assertEqual(after, before)

    def test_the_catalog_cached_in_the_state_is_read(self):
        # m5 is not in the built-in table: only the cache can know it.
        self.write_config("""\
            version: 1
            instances:
              legacy: { image_id: ami-0abcdef1234567890, instance_type: m5.large }
            """)
        r = self.validate(rc=0)
        self.assertIn("'m5.large' is not in the catalog", r.err)
        self.ok("init")
        for side in ("nestplan.db-wal", "nestplan.db-shm"):
            if os.path.exists(os.path.join(self.dir, side)):
                os.unlink(os.path.join(self.dir, side))
        row = {"name": "m5.large", "default_vcpus": 2, "default_cores": 1, "default_threads_per_core": 2,
               "valid_cores": [1], "valid_threads": [1, 2], "nested_virtualization": False,
               "hibernation_supported": True, "dedicated_hosts_supported": True, "bare_metal": False}
        db = sqlite3.connect(os.path.join(self.dir, "nestplan.db"))
        with db:
            db.execute("INSERT INTO catalog (name, data, fetched_at) VALUES (?, ?, ?)",
                       ("m5.large", json.dumps(row), int(time.time())))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        for side in ("nestplan.db-wal", "nestplan.db-shm"):
            if os.path.exists(os.path.join(self.dir, side)):
                os.unlink(os.path.join(self.dir, side))
        r = self.validate(rc=0)
        self.assertNotIn("not in the catalog", r.err)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "nestplan.db-shm")))
        self.assertFalse(os.path.exists(os.path.join(self.dir, "nestplan.db-wal")))
        # m5 is now a family the catalog holds: a size it lacks is an error.
        self.write_config(textwrap.dedent("""\
            version: 1
            instances:
              legacy: { image_id: ami-0abcdef1234567890, instance_type: m5.larg }
            """))
        r = self.validate(rc=1)
        self.assertIn("did you mean 'm5.large'?", r.err)


if __name__ == "__main__":
    unittest.main()
