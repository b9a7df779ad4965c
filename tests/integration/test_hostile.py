"""Answers nestplan does not understand are errors, never data (issue 16,
points 5, 13 and 14): a hostile endpoint (tests/integration/hostile.py) in
front of the simulator answers chosen actions with error documents under a
200, HTML pages, endless pagination, numbers out of range, missing fields
and control characters; nestplan must fail the plan and touch neither EC2
nor the state."""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import unittest

from tests.integration.common import NESTPLAN, SimTestCase
from tests.integration.hostile import ERROR_DOC, HTML_PAGE, Hostile, describe_page

CONFIG = """\
version: 1
defaults:
  image_id: ami-0abcdef1234567890
instances:
  runner:
    count: 2
    instance_type: m8i.2xlarge
    cpu_options: { nested_virtualization: enabled }
    tags: { team: ci }
"""

MUTATING = ("RunInstances", "StopInstances", "StartInstances", "TerminateInstances",
            "ModifyInstanceAttribute", "ModifyInstanceCpuOptions", "ModifyInstancePlacement",
            "CreateTags", "DeleteTags")


class HostileCase(SimTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hostile = Hostile(cls.sim.url)
        cls.hostile.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.hostile.__exit__(None, None, None)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.hostile.clear()
        self.write_config(CONFIG)
        self.ok("apply", "-auto-approve")
        self.assertEqual(sorted(self.live()), ["runner[0]", "runner[1]"])
        # From here on nestplan talks to the hostile endpoint.
        self.env["AWS_ENDPOINT_URL_EC2"] = self.hostile.url
        self.env["AWS_MAX_ATTEMPTS"] = "1"
        self.state_path = os.path.join(self.dir, "nestplan.db")

    def state_bytes(self):
        with open(self.state_path, "rb") as f:
            return f.read()

    def state_rows(self):
        """The state's content, the lock row aside (taking the lock writes it)."""
        db = sqlite3.connect("file:%s?immutable=1" % self.state_path, uri=True)
        try:
            return [line for line in db.iterdump() if "INSERT INTO \"lock" not in line]
        finally:
            db.close()

    def sim_mutations(self, since):
        return [c["action"] for c in self.sim.calls()[since:]
                if c["action"] in MUTATING and not c["dry_run"]]

    def assert_refused(self, *needles, commands=(("plan",), ("apply", "-auto-approve"))):
        """Each command exits 1 naming the answer; no mutating call reaches
        EC2. Without the lock (whose row any run writes) the state file keeps
        every byte; with it, every row."""
        rows = self.state_rows()
        calls = len(self.sim.calls())
        for cmd in commands:
            for lock in ("-lock=false", "-lock=true"):
                before = self.state_bytes()
                r = self.np(*cmd, lock, timeout=60)
                self.assertEqual(r.rc, 1, r)
                for needle in needles:
                    self.assertIn(needle, r.err, r)
                self.assertNotIn("will be created", r.out, r)
                if lock == "-lock=false":
                    self.assertEqual(self.state_bytes(), before, "the state file changed")
                self.assertEqual(self.state_rows(), rows)
        self.assertEqual(self.sim_mutations(calls), [])
        self.assertEqual([a for a in self.hostile.actions() if a in MUTATING], [])
        self.assertEqual(sorted(self.live()), ["runner[0]", "runner[1]"])


class TestAnswersThatAreNotAnswers(HostileCase):
    def test_error_document_with_http_200_fails_plan_and_apply(self):
        self.hostile.answer("DescribeInstances", Hostile.fixed(200, ERROR_DOC))
        self.assert_refused("DescribeInstances", "error document", "InternalError")

    def test_html_page_with_http_200_fails_plan_and_apply(self):
        self.hostile.answer("DescribeInstances", Hostile.fixed(200, HTML_PAGE, "text/html"))
        self.assert_refused("DescribeInstances", "HTML page")
        # A page that is not even XML (a DOCTYPE, unclosed tags) fails too.
        self.hostile.answer("DescribeInstances", Hostile.fixed(
            200, "<!DOCTYPE html><html><body><p>Access denied<br></body></html>", "text/html"))
        self.assert_refused("DescribeInstances", "not XML")

    def test_other_responses_root_is_refused(self):
        # A well-formed answer to another action is not a DescribeInstances answer.
        body = ("<DescribeInstanceTypesResponse><instanceTypeSet/>"
                "</DescribeInstanceTypesResponse>")
        self.hostile.answer("DescribeInstances", Hostile.fixed(200, body))
        self.assert_refused("DescribeInstances", "<DescribeInstanceTypesResponse>")

    def test_same_next_token_twice_ends_the_listing_with_an_error(self):
        # On the code before the fix this paged forever (the timeout fails it).
        self.hostile.answer("DescribeInstances",
                            Hostile.fixed(200, describe_page(next_token="same-token")))
        self.assert_refused("DescribeInstances", "same NextToken twice",
                            commands=(("plan",),))
        pages = self.hostile.actions().count("DescribeInstances")
        self.assertLessEqual(pages, 2 * 2)

    def test_stop_answered_with_an_error_document_is_not_a_stop(self):
        # A mutating call whose 200 is not its answer fails the apply.
        self.write_config(CONFIG.replace("m8i.2xlarge", "m8i.4xlarge"))
        # The dry run goes to the simulator (preflight passes); the stop itself
        # is answered with an error document under a 200.
        self.hostile.answer("StopInstances", lambda params, forward: forward()
                            if params.get("DryRun") == "true" else (200, "text/xml", ERROR_DOC))
        r = self.np("apply", "-auto-approve", timeout=120)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("StopInstances", r.out + r.err)
        self.assertIn("error document", r.out + r.err)
        sent = self.hostile.actions(dry_run=False)
        self.assertIn("StopInstances", sent)
        self.assertNotIn("ModifyInstanceAttribute", sent)


class TestFieldsOutOfRangeOrMissing(HostileCase):
    def test_core_count_of_two_to_the_63_is_an_error_not_a_change(self):
        self.hostile.answer("DescribeInstances", Hostile.rewrite(
            lambda b: re.sub(r"<coreCount>\d+</coreCount>",
                             "<coreCount>9223372036854775808</coreCount>", b, count=1)))
        self.assert_refused("DescribeInstances", "coreCount", "9223372036854775808")

    def test_missing_instance_type_is_an_error_not_a_change(self):
        self.hostile.answer("DescribeInstances", Hostile.rewrite(
            lambda b: re.sub(r"<instanceType>[^<]*</instanceType>", "", b, count=1)))
        self.assert_refused("DescribeInstances", "no instanceType")

    def test_missing_instance_state_is_an_error_not_a_change(self):
        self.hostile.answer("DescribeInstances", Hostile.rewrite(
            lambda b: re.sub(r"<instanceState>.*?</instanceState>", "", b, count=1, flags=re.S)))
        self.assert_refused("DescribeInstances", "no instanceState")

    def test_missing_instance_id_is_an_error_not_a_gone_instance(self):
        self.hostile.answer("DescribeInstances", Hostile.rewrite(
            lambda b: re.sub(r"<instanceId>[^<]*</instanceId>", "", b, count=1)))
        self.assert_refused("DescribeInstances", "without instanceId")


class TestControlCharactersFromEC2(HostileCase):
    HOSTILE_VALUE = "ci\r\n  + evil[0] will be created\u009b31m\u202e"

    def hostile_tag(self, body):
        value = (self.HOSTILE_VALUE.replace("\r", "&#13;").replace("\n", "&#10;"))
        return re.sub(r"(<key>team</key>\s*<value>)ci(</value>)",
                      lambda m: m.group(1) + value + m.group(2), body)

    def assert_no_controls(self, text):
        for ch in ("\r", "\u009b", "\u202e", "\x1b"):
            self.assertNotIn(ch, text)
        self.assertNotIn("\n  + evil[0]", text)

    def test_tag_values_are_escaped_in_drift_and_plan_text(self):
        self.hostile.answer("DescribeInstances", Hostile.rewrite(self.hostile_tag))
        r = self.np("drift")
        self.assertEqual(r.rc, 2, r)
        self.assert_no_controls(r.out + r.err)
        self.assertIn("\\x0d\\x0a", r.out)
        self.assertIn("\\u009b", r.out)
        self.assertIn("\\u202e", r.out)
        r = self.np("plan")
        self.assert_no_controls(r.out + r.err)
        self.assertIn("\\u009b", r.out)
        # JSON keeps the value exact (jansson escapes it).
        drift = self.np("drift", "-format=json").json()["drift"]
        self.assertIn(self.HOSTILE_VALUE, [d["live"] for d in drift])

    def test_ec2_error_messages_are_escaped(self):
        doc = ERROR_DOC.replace("An internal error has occurred",
                                "bad&#13;\u009b2J\u202eoops").replace("InternalError",
                                                                      "InvalidParameterValue")
        self.hostile.answer("DescribeInstances", Hostile.fixed(400, doc))
        r = self.np("plan")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("InvalidParameterValue", r.err)
        self.assert_no_controls(r.err)
        self.assertIn("bad\\x0d\\u009b2J\\u202eoops", r.err)


class TestStateThatIsNotAFile(HostileCase):
    """Issue 16.12: a -state that is a FIFO, directory or device is refused
    without blocking; a state on a read-only mount is still read."""

    def test_fifo_directory_and_device_are_refused_without_blocking(self):
        fifo = os.path.join(self.dir, "fifo.db")
        os.mkfifo(fifo)
        for path, kind in ((fifo, "a FIFO"), (self.dir, "a directory"),
                           ("/dev/null", "a device")):
            for cmd in (("state", "list"), ("show",), ("plan",)):
                # On the code before the fix open() blocks on the FIFO: the
                # timeout ends it and the test fails.
                r = self.np(*cmd, "-state=" + path, timeout=20)
                self.assertEqual(r.rc, 1, r)
                self.assertIn("is %s, not a regular file" % kind, r.err, r)

    def read_only(self, *args):
        """nestplan with the test directory mounted read-only in a private
        mount namespace (nothing outside it sees the mount)."""
        if not shutil.which("unshare"):
            self.skipTest("no unshare(1) to make a read-only mount")
        ns = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
        script = ('mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && '
                  'cd "$0" && touch .probe 2>/dev/null && exit 99; exec "$@"')
        proc = subprocess.run(ns + ["sh", "-c", script, self.dir, NESTPLAN] + list(args),
                              env=self.env, capture_output=True, text=True, timeout=60)
        if proc.returncode == 99 or "mount:" in proc.stderr or "unshare:" in proc.stderr:
            self.skipTest("cannot make a read-only mount here: %s" % proc.stderr.strip())
        return proc

    def test_read_only_mount_state_list_and_show_read_the_state(self):
        self.env["AWS_ENDPOINT_URL_EC2"] = self.sim.url
        want_list = self.ok("state", "list").out
        want_show = self.ok("show", "-json").json()
        self.assertEqual(want_list.split(), ["runner[0]", "runner[1]"])
        before = self.state_bytes()
        r = self.read_only("state", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, want_list)
        r = self.read_only("show", "-json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), want_show)
        r = self.read_only("state", "show", "runner[0]")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("runner[0]", r.stdout)
        # What would write it says why it cannot.
        r = self.read_only("state", "rm", "runner[0]")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("read-only", r.stderr)
        self.assertEqual(self.state_bytes(), before)
        self.assertEqual(self.ok("state", "list").out, want_list)


if __name__ == "__main__":
    unittest.main()
