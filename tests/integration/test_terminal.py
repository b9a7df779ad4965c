"""nestplan in a terminal, tested as a person uses it: an interactive bash in
tmux (a private server per test), keys sent with send-keys, the screen read
with capture-pane, and the bytes nestplan wrote recorded with pipe-pane.

Covered: the plan and the confirmation prompt, `yes` applies and any other
answer changes nothing, colour on a terminal but not with NO_COLOR or
-no-color, the live status line on a terminal and plain lines with
NESTPLAN_IN_AUTOMATION, and Ctrl-C during a slow apply (exit 130, the lock
released, no instance left stopped)."""
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import unittest
import uuid

from tests.integration.common import NESTPLAN, SimTestCase

TMUX = shutil.which("tmux")
BASH = shutil.which("bash")
SKIP = None if TMUX and BASH else "tmux or bash is missing: the terminal tests need both"
if SKIP:
    print("\n%s: %s" % (__name__, SKIP), file=sys.stderr)

SGR = re.compile(r"\x1b\[[0-9;]*m")
STATUS = re.compile(r"\[\d+m\d\ds: (\d+) done, (\d+) in a cycle, (\d+) waiting on EC2")

TWO = """\
    version: 1
    defaults: { image_id: ami-0abcdef1234567890 }
    instances:
      web:
        count: 2
        instance_type: m8i.large
        cpu_options: { nested_virtualization: enabled }
    """


class Terminal:
    """One tmux server on a private socket, one 160x50 window running an
    interactive bash in the test's directory."""

    def __init__(self, test, cwd):
        self.test = test
        self.cwd = cwd
        self.socket = "nestplan-test-%s" % uuid.uuid4().hex[:12]
        self.path = os.path.join(os.environ.get("TMUX_TMPDIR") or "/tmp", "tmux-%d" % os.getuid(), self.socket)
        self.log = os.path.join(cwd, ".pane.log")
        self.n = 0

    def open(self, env):
        rc = os.path.join(self.cwd, ".bashrc")
        with open(rc, "w") as f:
            f.write("PS1='$ '\nHISTFILE=/dev/null\nbind 'set enable-bracketed-paste off' 2>/dev/null\n")
        env = dict(env)
        env.pop("TMUX", None)
        open(self.log, "w").close()
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", "160", "-y", "50", "-c", self.cwd,
                  "%s --noprofile --rcfile %s -i" % (BASH, shlex.quote(rc)), env=env, check=True)
        self.tmux("set-option", "-g", "history-limit", "20000")
        self.tmux("pipe-pane", "-o", "cat >> %s" % shlex.quote(self.log), check=True)
        self.wait_for(r"(?m)^\$\s*$")

    def tmux(self, *args, env=None, check=False):
        r = subprocess.run([TMUX, "-L", self.socket] + list(args), capture_output=True, text=True,
                           timeout=15, env=env)
        if check and r.returncode != 0:
            raise RuntimeError("tmux %s: %s" % (" ".join(args), r.stderr))
        return r.stdout

    def close(self):
        self.tmux("kill-server")
        if self.path and os.path.exists(self.path):
            os.unlink(self.path)

    def type(self, text, enter=True):
        self.tmux("send-keys", "-l", text)
        if enter:
            self.tmux("send-keys", "Enter")

    def key(self, name):
        self.tmux("send-keys", name)

    def screen(self, escapes=False):
        """The whole history and the screen, wrapped lines joined."""
        args = ["capture-pane", "-p", "-J", "-S", "-"]
        if escapes:
            args.append("-e")
        return self.tmux(*args)

    def raw(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for(self, pattern, timeout=30, escapes=False):
        deadline = time.time() + timeout
        while True:
            screen = self.screen(escapes)
            m = re.search(pattern, screen)
            if m:
                return m
            if time.time() > deadline:
                self.test.fail("timed out waiting for %r; the screen:\n%s" % (pattern, screen[-6000:]))
            time.sleep(0.05)

    def start(self, args, env=""):
        """Type `[ENV] nestplan ARGS; echo MARK:$?` and return the mark."""
        self.n += 1
        mark = "NP-DONE-%d" % self.n
        self.type("%s%s %s; echo %s:$?" % (env + " " if env else "", shlex.quote(os.path.abspath(NESTPLAN)),
                                             args, mark))
        return mark

    def finish(self, mark, timeout=60):
        """(exit code, what the screen showed, the bytes written) for a command."""
        rc = int(self.wait_for(r"(?m)^%s:(\d+)" % mark, timeout).group(1))
        time.sleep(0.1)  # pipe-pane writes asynchronously
        return rc, section(self.screen(), mark), section(self.raw(), mark)

    def run(self, args, env="", timeout=60):
        return self.finish(self.start(args, env), timeout)


def section(text, mark):
    """From the line that typed the command to the line of its exit code."""
    start = text.rfind("echo %s:$?" % mark)
    end = re.search(r"(?m)^%s:\d+" % mark, text[start:])
    return text[start:start + end.start()] if end else text[start:]


@unittest.skipIf(SKIP, SKIP)
class TerminalTestCase(SimTestCase):
    sim_args = {"transition_seconds": 0.1}

    def setUp(self):
        super().setUp()
        env = dict(self.env)
        for k in ("NESTPLAN_IN_AUTOMATION", "NO_COLOR", "NESTPLAN_LOG", "TERM"):
            env.pop(k, None)
        self.term = Terminal(self, self.dir)
        self.addCleanup(self.term.close)
        self.term.open(env)

    def running(self):
        return {a: i for a, i in self.live().items() if i["state"] == "running"}

    def mutating_calls(self):
        return [c for c in self.sim.calls() if not c["dry_run"] and not c["action"].startswith("Describe")]


class TestConfirmation(TerminalTestCase):
    def test_plan_and_prompt_then_yes_applies(self):
        self.write_config(TWO)
        mark = self.term.start("apply")
        self.term.wait_for(r"Enter a value:")
        screen = self.term.screen()
        # Identical changes of a group are one block (-expand lists each).
        self.assertRegex(screen, r"\+ web\[0\.\.1\] \(2 instances\) will be created")
        self.assertIn("Plan: 2 to add, 0 to change, 0 to destroy.", screen)
        self.assertIn("Do you want to perform these actions?", screen)
        self.assertIn("Only 'yes' will be accepted to approve.", screen)
        self.assertEqual(self.mutating_calls(), [], "something changed before the answer")
        self.term.type("yes")
        rc, out, _ = self.term.finish(mark)
        self.assertEqual(rc, 0, out)
        self.assertIn("Apply complete! 2 added, 0 changed, 0 destroyed.", out)
        self.assertEqual(sorted(self.running()), ["web[0]", "web[1]"])
        self.assert_state_matches_sim()

    def test_any_other_answer_cancels_with_nothing_changed(self):
        self.write_config(TWO)
        for answer in ("no", "y", "YES", ""):
            with self.subTest(answer=answer):
                mark = self.term.start("apply")
                self.term.wait_for(r"(?s)%s.*Enter a value:" % mark)
                self.term.type(answer)
                rc, out, _ = self.term.finish(mark)
                self.assertEqual(rc, 1, out)
                self.assertRegex(out, r"Error: .*nothing was changed")
                self.assertNotIn("Apply complete", out)
        self.assertEqual(self.mutating_calls(), [])
        self.assertEqual(self.live(), {})
        self.assertEqual(self.state_resources(), {})

    def test_ctrl_c_at_the_prompt_is_an_interrupt(self):
        self.write_config(TWO)
        mark = self.term.start("apply")
        self.term.wait_for(r"Enter a value:")
        self.term.key("C-c")
        rc, out, _ = self.term.finish(mark)
        self.assertEqual(self.mutating_calls(), [])
        self.assertNotIn("standard input", out)
        self.assertRegex(out, r"(?i)interrupt")
        self.assertEqual(rc, 130, out)


class TestColour(TerminalTestCase):
    def test_colour_on_a_terminal_only_without_no_color(self):
        self.write_config(TWO)
        rc, _, raw = self.term.run("plan")
        self.assertEqual(rc, 0)
        self.assertRegex(raw, SGR, "no colour on a terminal")
        # What the person sees: capture-pane -e keeps the attributes.
        coloured = section(self.term.screen(escapes=True), "NP-DONE-1")
        self.assertRegex(coloured, r"\x1b\[[0-9;]*m\s*\+")
        for env, args in (("NO_COLOR=1", "plan"), ("", "plan -no-color"), ("TERM=dumb", "plan")):
            with self.subTest(env=env, args=args):
                rc, out, raw = self.term.run(args, env=env)
                self.assertEqual(rc, 0, out)
                self.assertIn("will be created", out)
                self.assertNotRegex(raw, SGR)

    def test_errors_are_red_on_a_terminal_and_plain_with_no_color(self):
        self.write_config("version: 1\ninstances:\n  x: { instance_type: m8i.large }\n")
        rc, out, raw = self.term.run("plan")
        self.assertEqual(rc, 1, out)
        self.assertRegex(raw, r"\x1b\[[0-9;]*31[0-9;]*m")
        rc, out, raw = self.term.run("plan", env="NO_COLOR=1")
        self.assertEqual(rc, 1, out)
        self.assertNotRegex(raw, SGR)


class SlowTerminalTestCase(TerminalTestCase):
    sim_args = {"transition_seconds": 1.5}


class TestProgress(SlowTerminalTestCase):
    def test_status_line_on_a_terminal(self):
        self.write_config(TWO)
        mark = self.term.start("apply -auto-approve")
        # While EC2 is busy the line under the messages says where things are.
        self.term.wait_for(STATUS.pattern)
        rc, out, raw = self.term.finish(mark)
        self.assertEqual(rc, 0, out)
        self.assertIn("\r\x1b[K", raw, "the status line is never redrawn in place")
        self.assertRegex(raw, STATUS)
        # Once done it is gone: the last lines are the messages and the summary.
        self.assertNotRegex(out.splitlines()[-1] if out.strip() else "", STATUS)
        self.assertIn("Apply complete! 2 added", out)

    def test_plain_lines_in_automation(self):
        self.write_config(TWO)
        rc, out, raw = self.term.run("apply -auto-approve", env="NESTPLAN_IN_AUTOMATION=1")
        self.assertEqual(rc, 0, out)
        self.assertNotIn("\x1b[K", raw)
        self.assertNotRegex(raw, STATUS)
        self.assertRegex(out, r"(?m)^web\[0\]: Launching\.\.\.")
        self.assertRegex(out, r"(?m)^web\[0\]: Launch complete after \d+s \[id=i-[0-9a-f]+\]")
        self.assertIn("Apply complete! 2 added", out)

    def test_status_line_counts_instances_waiting_on_ec2(self):
        self.write_config(TWO)
        mark = self.term.start("apply -auto-approve")
        self.term.wait_for(r"Launching\.\.\.")
        seen = set()
        deadline = time.time() + 10
        while time.time() < deadline and "Apply complete" not in self.term.screen():
            seen.update(m.groups() for m in STATUS.finditer(self.term.screen()))
            time.sleep(0.05)
        self.term.finish(mark)
        # The launch call (one for both) returns at once; then both instances
        # wait for pending -> running, and the line says so: it follows EC2,
        # not only the calls being made.
        self.assertTrue(any(int(w) > 0 for _, _, w in seen), seen)


class TestInterrupt(SlowTerminalTestCase):
    def test_ctrl_c_during_a_slow_apply(self):
        self.write_config(TWO)
        rc, out, _ = self.term.run("apply -auto-approve", env="NESTPLAN_IN_AUTOMATION=1")
        self.assertEqual(rc, 0, out)
        before = {a: i["instance_id"] for a, i in self.running().items()}
        self.write_config(TWO.replace("m8i.large", "m8i.xlarge"))
        mark = self.term.start("apply -auto-approve -parallelism=1")
        self.term.wait_for(r"(?s)%s.*Stopping\.\.\." % mark)
        self.term.key("C-c")
        rc, out, _ = self.term.finish(mark, timeout=60)
        self.assertEqual(rc, 130, out)
        self.assertIn("interrupted", out)
        # Nothing left stopped that ran before, the same instances.
        live = self.live()
        self.assertEqual({a: i["instance_id"] for a, i in live.items()}, before)
        self.assertEqual({i["state"] for i in live.values()}, {"running"}, live)
        # The lock is released: a plan right away, without -lock-timeout.
        rc, out, _ = self.term.run("plan -detailed-exitcode")
        self.assertIn(rc, (0, 2), out)
        self.assertNotRegex(out.lower(), r"\block")
        self.assert_state_matches_sim()
        # And the next apply finishes the job.
        rc, out, _ = self.term.run("apply -auto-approve")
        self.assertEqual(rc, 0, out)
        self.assertEqual({i["instance_type"] for i in self.live().values()}, {"m8i.xlarge"})
        self.assert_state_matches_sim()
