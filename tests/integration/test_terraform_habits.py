"""Issue 17, points 5 and 7: the habits Terraform users bring, and plans that
stay readable at fleet size. The real binary against the simulator."""
import os
import re
import select
import subprocess
import time
import unittest

from tests.integration.common import NESTPLAN, ROOT, SimTestCase

FLEET = """\
version: 1
defaults: { image_id: ami-0abcdef1234567890 }
instances:
  runner:
    count: %(count)d
    instance_type: %(type)s
    cpu_options: { nested_virtualization: enabled }
%(rollout)s"""


def fleet(count, itype="m8i.large", rollout=""):
    return FLEET % {"count": count, "type": itype, "rollout": rollout}


def np_plain(*args, cwd=None):
    return subprocess.run([NESTPLAN] + list(args), capture_output=True, text=True, timeout=30,
                          cwd=cwd)


class TestLargePlans(SimTestCase):
    """Point 7: identical changes of a group are one block; -expand lists each."""

    def launch(self, count, rollout=""):
        self.write_config(fleet(count, rollout=rollout))
        self.ok("apply", "-auto-approve")
        self.write_config(fleet(count, "m8i.xlarge", rollout))

    def test_200_identical_changes_print_one_block_and_expand_lists_each(self):
        self.launch(200)
        r = self.ok("plan", "-detailed-exitcode", rc=2)
        self.assertIn("~ runner[0..199] (200 instances) will be updated in-place "
                      "(requires stop/start)\n", r.out)
        self.assertIn("instance_type                      m8i.large → m8i.xlarge", r.out)
        self.assertLess(len(r.out.splitlines()), 20, r.out)  # was 803 lines
        self.assertNotRegex(r.out, r"runner\[\d+\] will be")
        self.assertIn("Plan: 0 to add, 200 to change, 0 to destroy.", r.out)
        self.assertIn("200 instances will be out of service: 200 stopped and started.", r.out)

        ids = {a: i["instance_id"] for a, i in self.live().items()}
        r = self.ok("plan", "-expand")
        for i in range(200):
            self.assertIn("~ runner[%d] will be updated in-place (%s)" % (i, ids["runner[%d]" % i]),
                          r.out)
        self.assertNotIn("runner[0..", r.out)

        # The JSON contract is untouched: one change per instance.
        plan = self.ok("plan", "-json").json()
        self.assertEqual(len([c for c in plan["changes"] if c["action"] == "update"]), 200)

    def test_a_different_instance_splits_the_range(self):
        self.launch(12)
        odd = self.live()["runner[5]"]["instance_id"]
        self.sim.set_instance(odd, instance_type="m8i.2xlarge")  # drift: another "before"
        r = self.ok("plan")
        self.assertIn("~ runner[0..4] (5 instances) will be updated", r.out)
        self.assertIn("~ runner[5] will be updated in-place (%s)" % odd, r.out)
        self.assertIn("~ runner[6..11] (6 instances) will be updated", r.out)

    def test_apply_destroy_and_show_planfile_take_expand(self):
        self.launch(4)
        out = os.path.join(self.dir, "p.plan")
        self.ok("plan", "-out=" + out)
        r = self.ok("show", out)
        self.assertIn("runner[0..3] (4 instances)", r.out)
        r = self.ok("show", "-expand", out)
        self.assertEqual(len(re.findall(r"~ runner\[\d\] will be updated", r.out)), 4, r.out)
        # The plan shown before the question; "no" changes nothing.
        for cmd in ("apply", "destroy"):
            with self.subTest(command=cmd):
                r = self.np(cmd, stdin="no\n")
                self.assertEqual(r.rc, 1, r)
                self.assertRegex(r.out, r"runner\[0\.\.3\] \(4 instances\)")
                r = self.np(cmd, "-expand", stdin="no\n")
                self.assertEqual(r.rc, 1, r)
                self.assertEqual(len(re.findall(r"runner\[\d\] (will|must)", r.out)), 4, r.out)
        self.assertEqual(sorted(i["instance_type"] for i in self.live().values()),
                         ["m8i.large"] * 4)

    def test_max_unavailable_is_said_as_waves(self):
        self.launch(200, "    rollout: { max_unavailable: 10 }\n")
        r = self.ok("plan")
        self.assertIn("  runner: 200 instances in 20 waves of 10, each out of service for one "
                      "stop → modify → start cycle\n", r.out)
        self.write_config(fleet(200, "m8i.xlarge", '    rollout: { max_unavailable: "3%" }\n'))
        r = self.ok("plan")  # 3% of 200 is 6
        self.assertIn("  runner: 200 instances in 34 waves of at most 6,", r.out)
        self.write_config(fleet(200, "m8i.xlarge"))
        r = self.ok("plan")
        self.assertNotIn("waves", r.out)

    def test_a_replacement_counts_as_out_of_service(self):
        self.launch(5)
        r = self.ok("plan", "-replace=runner[1]", "-replace=runner[2]")
        # Terraform's counters stay as they were: a replacement is one to add and one to destroy.
        self.assertIn("Plan: 2 to add, 3 to change, 2 to destroy. 5 instances will be out of "
                      "service: 3 stopped and started, 2 replaced.", r.out)
        self.write_config(fleet(5))
        r = self.ok("plan", "-replace=runner[4]")
        self.assertIn("Plan: 1 to add, 0 to change, 1 to destroy. 1 instance will be out of "
                      "service: 1 replaced.", r.out)


class TestTerraformHabits(SimTestCase):
    """Point 5: exit codes and messages as Terraform's."""

    def test_refresh_only_detailed_exitcode_is_2_on_drift_and_says_apply_records_it(self):
        self.write_config(fleet(2))
        self.ok("apply", "-auto-approve")
        r = self.ok("plan", "-refresh-only", "-detailed-exitcode", rc=0)
        self.assertNotIn("refresh-only plan", r.out)
        self.sim.set_instance(self.live()["runner[1]"]["instance_id"], instance_type="m8i.xlarge")
        r = self.ok("plan", "-refresh-only", "-detailed-exitcode", rc=2)
        self.assertIn("runner[1]", r.out)
        text = " ".join(r.out.split())
        self.assertIn("This is a refresh-only plan, so nestplan will not take any actions to "
                      "undo these. If you were expecting these changes then you can apply this "
                      "plan (nestplan apply -refresh-only) to record the updated values in the "
                      "nestplan state without changing any remote objects.", text)
        self.ok("plan", "-refresh-only", rc=0)  # without -detailed-exitcode: 0
        # And it is true: apply -refresh-only records it, nothing is changed in EC2.
        self.ok("apply", "-refresh-only", "-auto-approve")
        self.ok("plan", "-refresh-only", "-detailed-exitcode", rc=0)
        self.assertEqual(self.live()["runner[1]"]["instance_type"], "m8i.xlarge")

    def test_target_that_matches_nothing_is_a_warning(self):
        self.write_config(fleet(2))
        r = self.ok("plan", "-target=runer", "-detailed-exitcode", rc=0)
        self.assertIn("Warning: -target 'runer' matches no instance in the file or the state; "
                      "did you mean 'runner'?", r.out)
        plan = self.ok("plan", "-target=nothing[3]", "-json").json()
        self.assertEqual(plan["diagnostics"], [{
            "severity": "warning", "address": None,
            "message": "-target 'nothing[3]' matches no instance in the file or the state"}])
        r = self.ok("plan", "-target=runner[1]")
        self.assertNotIn("Warning", r.out)
        self.assertIn("1 to add", r.out)

    def test_mistyped_command_and_option_get_did_you_mean(self):
        r = np_plain("plna", cwd=self.dir)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Error: unknown command 'plna'; did you mean 'plan'?", r.stderr)
        r = np_plain("frobnicate", cwd=self.dir)
        self.assertNotIn("did you mean", r.stderr)
        self.assertIn("Commands:", r.stderr)
        r = np_plain("plan", "-refersh-only", cwd=self.dir)
        self.assertEqual(r.returncode, 1)
        self.assertIn("did you mean '-refresh-only'?", r.stderr)
        r = np_plain("apply", "--auto-aprove", cwd=self.dir)
        self.assertIn("did you mean '-auto-approve'?", r.stderr)

    def test_help_lines_fit_80_columns_and_end_in_whole_sentences(self):
        main = np_plain("-help").stdout
        commands = re.findall(r"^  (\S+) ", main.split("Commands:\n")[1].split("\n\n")[0], re.M)
        self.assertIn("force-unlock", commands)
        for args in [["-help"]] + [[c, "-help"] for c in commands]:
            out = np_plain(*args).stdout
            for line in out.splitlines():
                self.assertLessEqual(len(line), 79, "%s: %r" % (args, line))
            # Each entry (a command, an option) with its wrapped lines is whole.
            entries = re.split(r"\n(?=  \S)", out.split("Commands:\n")[-1].split("Options:\n")[-1])
            for entry in entries:
                entry = " ".join(entry.split("\n\n")[0].split())
                if entry and not entry.startswith("'nestplan"):
                    self.assertRegex(entry, r"[.)]$", "%s: cut: %r" % (args, entry))

    def test_no_error_prefix_before_a_located_error(self):
        self.write_config("version: 1\ninstances:\n  a:\n    instance_typ: m8i.large\n")
        for args in (["plan"], ["apply"], ["drift"], ["destroy"], ["validate"],
                     ["import", "a", "i-0123456789abcdef0"], ["plan", "-json"]):
            with self.subTest(args=args):
                r = self.np(*args)
                self.assertEqual(r.rc, 1, r)
                both = r.out + r.err
                self.assertNotRegex(both, r"(?i)error: [^\n]*error:")
                if "-json" not in args:  # JSON says it its own way (diagnostics)
                    self.assertRegex(both, r"nestplan\.yaml:4:5: error: unknown key 'instance_typ'")

    def test_waiting_for_the_lock_says_acquiring_state_lock(self):
        notice = "Acquiring state lock. This may take a few moments..."
        self.write_config(fleet(1))
        self.ok("init")
        r = self.ok("plan", "-lock-timeout=5s")
        self.assertNotIn(notice, r.err)  # free at once: nothing said
        # An apply waiting at its question holds the lock.
        holder = subprocess.Popen([NESTPLAN, "apply"], cwd=self.dir, env=self.env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.addCleanup(holder.wait, 30)
        self.addCleanup(holder.kill)
        seen, deadline = b"", time.monotonic() + 30
        while b"Enter a value:" not in seen and time.monotonic() < deadline:
            if select.select([holder.stdout], [], [], 1)[0]:
                seen += os.read(holder.stdout.fileno(), 65536)
        self.assertIn(b"Enter a value:", seen)
        r = self.np("plan")  # no -lock-timeout: fail at once, no notice
        self.assertEqual(r.rc, 1, r)
        self.assertNotIn(notice, r.err)
        self.assertIn("is locked by", r.err)
        r = self.np("plan", "-lock-timeout=1s")
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(r.err.count(notice), 1, r.err)
        self.assertLess(r.err.index(notice), r.err.index("is locked by"))
        holder.stdin.write(b"no\n")
        holder.stdin.close()
        self.assertEqual(holder.wait(30), 1)
        holder.stdout.close()
        holder.stderr.close()
        r = self.ok("plan", "-lock-timeout=5s")
        self.assertNotIn(notice, r.err)


class TestExitCodesDocumented(unittest.TestCase):
    def test_man_page_and_readme_list_130_and_143(self):
        with open(os.path.join(ROOT, "docs", "nestplan.1")) as f:
            man = f.read().split(".SH EXIT STATUS", 1)[1].split(".SH ", 1)[0]
        self.assertRegex(man, r"\.B 130\n[^.]*SIGINT")
        self.assertRegex(man, r"\.B 143\n[^.]*SIGTERM")
        with open(os.path.join(ROOT, "README.md")) as f:
            readme = f.read()
        self.assertRegex(readme, r"\| 130 \| [^|]*SIGINT")
        self.assertRegex(readme, r"\| 143 \| [^|]*SIGTERM")


if __name__ == "__main__":
    unittest.main()
