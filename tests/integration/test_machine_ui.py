"""Terraform's machine-readable UI (issue 17, point 4): apply -json and
destroy -json print one JSON object per line (Terraform's envelope, a first
version line, the plan's lines, the step hooks, the ending), errors included
as diagnostic lines on standard output; plan -json and show -json PLANFILE
print one document even on an error. Every line is validated against
schemas/apply-events.schema.json (and the documents against
plan-output.schema.json) by the standard-library validator of
test_output_schemas, and by jsonschema where it is installed."""
import json
import os
import signal
import time

from tests.integration.common import SimTestCase
from tests.integration.test_interrupt import InterruptCase
from tests.integration.test_output_schemas import PLAN_SCHEMA, Validator, jsonschema, load_schema

EVENTS_SCHEMA = load_schema("apply-events.schema.json")

FLEET = """\
version: 1
instances:
  runner:
    count: %d
    image_id: ami-0abcdef1234567890
    instance_type: %s
    tags: { team: ci }
"""


def check_schema(test, schema, value):
    errors = Validator(schema).errors(value)
    test.assertEqual(errors, [], json.dumps(value))
    if jsonschema is not None and hasattr(jsonschema, "Draft202012Validator"):
        jsonschema.Draft202012Validator(schema).validate(value)


class UiCase(SimTestCase):
    def lines(self, r):
        """Every line of stdout as a valid event; nothing else on stdout."""
        self.assertTrue(r.out.endswith("\n"), r)
        events = [json.loads(line) for line in r.out.splitlines()]
        for ev in events:
            check_schema(self, EVENTS_SCHEMA, ev)
        self.assertEqual(events[0]["type"], "version", r)
        self.assertEqual((events[0]["ui"], events[0]["@module"]), ("1.0", "nestplan.ui"))
        self.assertEqual([e for e in events[1:] if e["type"] == "version"], [])
        return events

    def types(self, events):
        return [e["type"] for e in events]

    def assert_steps(self, events):
        """Per instance, each step starts before it completes, and the
        steps follow the plan's order."""
        planned = {e["change"]["resource"]["addr"]: e["change"]["steps"]
                   for e in events if e["type"] == "planned_change"}
        for addr, steps in planned.items():
            hooks = [(e["type"], e["hook"]["step"]) for e in events
                     if e["type"] in ("apply_start", "apply_complete")
                     and e["hook"]["resource"]["addr"] == addr]
            self.assertEqual(hooks, [(t, s) for s in steps
                                     for t in ("apply_start", "apply_complete")], addr)
        return planned


class TestSchema(UiCase):
    def test_the_schema_refuses_lines_that_break_the_envelope(self):
        good = {"@level": "info", "@message": "nestplan 0.1.0", "@module": "nestplan.ui",
                "@timestamp": "2026-01-02T03:04:05.123456Z", "type": "version",
                "nestplan": "0.1.0", "ui": "1.0"}
        v = Validator(EVENTS_SCHEMA)
        self.assertEqual(v.errors(good), [])
        bad = [dict(good, **{"@module": "terraform.ui"}),
               dict(good, **{"@timestamp": "2026-01-02T03:04:05Z"}),
               dict(good, type="plan"), dict(good, extra=1), dict(good, ui="2.0"),
               {k: x for k, x in good.items() if k != "@level"},
               dict(good, type="apply_start", hook={"resource": {}})]
        for b in bad:
            self.assertNotEqual(v.errors(b), [], b)


class TestApplyJson(UiCase):
    def test_a_launch_streams_version_plan_hooks_and_the_summary_in_order(self):
        self.write_config(FLEET % (3, "m8i.large"))
        r = self.ok("apply", "-auto-approve", "-json")
        self.assertEqual(r.err, "")
        events = self.lines(r)
        types = self.types(events)
        self.assertEqual(types[:5], ["version"] + ["planned_change"] * 3 + ["change_summary"])
        self.assertEqual(events[4]["changes"], {"add": 3, "change": 0, "remove": 0,
                                                "stop_start": 0, "operation": "plan"})
        self.assertEqual(types[-1], "change_summary")
        self.assertEqual(events[-1]["changes"], {"add": 3, "change": 0, "remove": 0,
                                                 "operation": "apply"})
        self.assertEqual(events[-1]["@message"],
                         "Apply complete! Resources: 3 added, 0 changed, 0 destroyed.")
        self.assertLessEqual(set(types[5:-1]), {"apply_start", "apply_progress",
                                                "apply_complete", "log"})
        planned = self.assert_steps(events)
        self.assertEqual(sorted(planned), ["runner[0]", "runner[1]", "runner[2]"])
        for e in events:
            if e["type"] == "planned_change":
                self.assertEqual((e["change"]["action"], e["change"]["resource"]["resource_name"]),
                                 ("create", "runner"))
        done = {e["hook"]["resource"]["addr"]: e["hook"]["id_value"] for e in events
                if e["type"] == "apply_complete" and e["hook"]["step"] == "run_instances"}
        live = self.live()
        self.assertEqual(done, {a: live[a]["instance_id"] for a in live})
        for e in events:
            if e["type"] == "apply_complete":
                self.assertEqual(e["hook"]["action"], "create")
                self.assertGreaterEqual(e["hook"]["elapsed_seconds"], 0)

    def test_a_type_change_streams_the_cycle_of_each_instance(self):
        self.write_config(FLEET % (2, "m8i.large"))
        self.ok("apply", "-auto-approve")
        self.write_config(FLEET % (2, "m8i.xlarge"))
        r = self.ok("apply", "-auto-approve", "-json")
        events = self.lines(r)
        planned = self.assert_steps(events)
        for steps in planned.values():
            self.assertEqual([s for s in steps if s in ("stop", "modify_instance_type", "start")],
                             ["stop", "modify_instance_type", "start"])
        for e in events:
            if e["type"] == "planned_change":
                self.assertEqual((e["change"]["action"], e["change"]["requires_stop"]),
                                 ("update", True))
            if e["type"].startswith("apply_"):
                self.assertEqual(e["hook"]["action"], "update")
        self.assertEqual(events[-1]["changes"]["change"], 2)
        self.assertEqual(events[-1]["changes"]["operation"], "apply")
        for inst in self.live().values():
            self.assertEqual(inst["instance_type"], "m8i.xlarge")

    def test_destroy_streams_deletes_and_a_destroy_summary(self):
        self.write_config(FLEET % (2, "m8i.large"))
        self.ok("apply", "-auto-approve")
        r = self.ok("destroy", "-auto-approve", "-json")
        events = self.lines(r)
        self.assert_steps(events)
        actions = {e["change"]["action"] for e in events if e["type"] == "planned_change"}
        self.assertEqual(actions, {"delete"})
        self.assertEqual(events[-1]["changes"], {"add": 0, "change": 0, "remove": 2,
                                                 "operation": "destroy"})
        self.assertEqual(events[-1]["@message"], "Destroy complete! Resources: 2 destroyed.")
        self.assertEqual(self.live(), {})

    def test_no_changes_still_ends_with_a_summary(self):
        self.write_config(FLEET % (1, "m8i.large"))
        self.ok("apply", "-auto-approve")
        events = self.lines(self.ok("apply", "-auto-approve", "-json"))
        self.assertEqual(self.types(events), ["version", "change_summary", "change_summary"])
        self.assertEqual(events[-1]["changes"]["operation"], "apply")

    def test_json_without_auto_approve_is_an_error_line_not_a_prompt(self):
        self.write_config(FLEET % (1, "m8i.large"))
        r = self.ok("apply", "-json", stdin="yes\n", rc=1)
        events = self.lines(r)
        self.assertEqual(events[-1]["type"], "diagnostic")
        self.assertIn("-auto-approve", events[-1]["diagnostic"]["summary"])
        self.assertNotIn("Enter a value", r.out)
        self.assertEqual(self.live(), {})


class TestErrorsAsJson(UiCase):
    def test_a_config_error_is_diagnostic_lines_on_stdout_with_the_range(self):
        self.write_config("version: 1\ninstances:\n  runner:\n    count: two\n"
                          "    image_id: ami-0abcdef1234567890\n    instance_type: m8i.large\n")
        for cmd in ("apply", "destroy"):
            r = self.ok(cmd, "-auto-approve", "-json", rc=1)
            self.assertEqual(r.err, "")
            events = self.lines(r)
            self.assertEqual(self.types(events), ["version", "diagnostic"])
            d = events[1]["diagnostic"]
            self.assertEqual((events[1]["@level"], d["severity"]), ("error", "error"))
            self.assertIn("'count'", d["summary"])
            self.assertEqual(d["range"], {"filename": "nestplan.yaml",
                                          "start": {"line": 4, "column": 12}})

    def test_a_plan_rule_error_in_apply_json_is_a_diagnostic_and_nothing_changes(self):
        self.write_config(FLEET % (1, "m6i.large") +
                          "    cpu_options: { nested_virtualization: enabled }\n")
        r = self.ok("apply", "-auto-approve", "-json", rc=1)
        self.assertEqual(r.err, "")
        events = self.lines(r)
        diags = [e for e in events if e["type"] == "diagnostic"]
        self.assertGreaterEqual(len(diags), 2)
        self.assertEqual(diags[-1]["diagnostic"]["summary"],
                         "the plan has errors; nothing was changed")
        self.assertEqual(diags[0]["diagnostic"]["address"], "runner[0]")
        self.assertIn("m8i", diags[0]["diagnostic"]["summary"])
        self.assertEqual(self.types(events)[-1], "diagnostic")
        self.assertNotIn("apply_start", self.types(events))
        self.assertEqual(self.live(), {})

    def test_plan_and_show_json_print_one_document_with_the_errors(self):
        self.write_config("version: 1\ninstances:\n  runner:\n    count: two\n")
        r = self.ok("plan", "-json", rc=1)
        self.assertEqual(r.err, "")
        doc = r.json()
        check_schema(self, PLAN_SCHEMA, doc)
        self.assertEqual((doc["changes"], doc["drift"]), ([], []))
        self.assertEqual(doc["summary"], {"add": 0, "change": 0, "destroy": 0, "stop_start": 0})
        self.assertTrue(doc["diagnostics"])
        self.assertEqual({d["severity"] for d in doc["diagnostics"]}, {"error"})
        self.assertEqual(doc["diagnostics"][0]["range"]["start"], {"line": 4, "column": 12})
        # A state error (a missing -state for show) and an unreadable plan file.
        with open(os.path.join(self.dir, "bad.plan"), "w") as f:
            f.write("not a plan")
        self.write_config(FLEET % (1, "m8i.large"))
        self.ok("plan")  # makes the state show needs
        r = self.ok("show", "-json", "bad.plan", rc=1)
        self.assertEqual(r.err, "")
        doc = r.json()
        check_schema(self, PLAN_SCHEMA, doc)
        self.assertEqual(doc["changes"], [])
        self.assertEqual(doc["diagnostics"][0]["severity"], "error")
        # EC2 refusing the credentials: the plan document too.
        env = dict(self.env, AWS_SECRET_ACCESS_KEY="wrong-secret")
        r = self.ok("plan", "-json", env=env, rc=1)
        doc = r.json()
        check_schema(self, PLAN_SCHEMA, doc)
        self.assertEqual(doc["diagnostics"][0]["severity"], "error")


class TestInterruptedJson(InterruptCase, UiCase):
    sim_args = {"transition_seconds": 3.0}

    def test_sigint_mid_apply_ends_with_the_interrupt_summary_and_a_diagnostic(self):
        self.write_config(FLEET % (4, "m8i.large"))
        self.ok("apply", "-auto-approve")
        self.write_config(FLEET % (4, "m8i.xlarge") + "    rollout: { max_unavailable: 2 }\n")
        p = self.start("apply", "-auto-approve", "-json")
        self.wait_answered(p, "StopInstances")
        p.send_signal(signal.SIGINT)
        out, err = self.finish(p, 60)
        self.assertEqual(p.returncode, 130, out[-2000:] + err[-2000:])
        self.assertNotIn("Error", err)

        class R:
            pass
        r = R()
        r.out = out
        events = self.lines(r)
        self.assertEqual(self.types(events)[-2:], ["apply_interrupted", "diagnostic"])
        summary, diag = events[-2], events[-1]
        c = summary["changes"]
        self.assertEqual(c["change"] + c["failed"] + c["unknown"] + c["interrupted"] +
                         c["not_started"], 4)
        self.assertEqual(c["not_started"], 2)  # queued behind max_unavailable
        self.assertEqual(summary["@level"], "error")
        self.assertTrue(summary["@message"].startswith("Apply interrupted: "))
        self.assertEqual(diag["diagnostic"]["severity"], "error")
        self.assertIn("SIGINT", diag["diagnostic"]["summary"])
        self.assertEqual(diag["diagnostic"]["left_behind"], summary["left_behind"])
        types = self.types(events)
        self.assertEqual(types[:6], ["version"] + ["planned_change"] * 4 + ["change_summary"])
        self.assertNotIn("change_summary", types[6:])
        self.assert_lock_free()
