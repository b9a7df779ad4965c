"""The JSON that `plan -json`, `show -json PLANFILE` and `drift -json` print,
from real plans against the simulator, validated against the JSON Schemas in
schemas/ by a small standard-library validator; the JUnit drift report against
a JUnit XSD (xmllint) and with xml.etree; the Markdown report as a GitHub
table."""
import html
import json
import os
import re
import shutil
import subprocess
import sys
import unittest
import xml.etree.ElementTree as ET

from tests.integration.common import ROOT, SimTestCase

SCHEMAS = os.path.join(ROOT, "schemas")
JUNIT_XSD = os.path.join(ROOT, "tests", "data", "junit.xsd")

try:
    import jsonschema
except ImportError:
    jsonschema = None


def load_schema(name):
    with open(os.path.join(SCHEMAS, name)) as f:
        return json.load(f)


class SchemaError(Exception):
    pass


class Validator:
    """JSON Schema 2020-12, the keywords nestplan's output schemas use. A
    keyword it does not know is an error, so a schema cannot quietly rely on
    something this validator would skip."""

    KEYWORDS = {"type", "properties", "required", "additionalProperties", "items", "enum", "const",
                "$ref", "oneOf", "anyOf", "minimum", "maximum", "pattern"}
    ANNOTATIONS = {"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default"}
    TYPES = {
        "null": lambda v: v is None,
        "boolean": lambda v: isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "string": lambda v: isinstance(v, str),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }

    def __init__(self, root):
        self.root = root

    def errors(self, value, schema=None, path="$"):
        """Every violation, as "path: message" strings."""
        schema = self.root if schema is None else schema
        if schema is True:
            return []
        if schema is False:
            return ["%s: not allowed" % path]
        unknown = set(schema) - self.KEYWORDS - self.ANNOTATIONS
        if unknown:
            raise SchemaError("%s: keywords this validator does not implement: %s" % (path, sorted(unknown)))
        out = []
        if "$ref" in schema:
            out += self.errors(value, self.resolve(schema["$ref"]), path)
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not any(self.TYPES[t](value) for t in types):
                return out + ["%s: %r is not of type %s" % (path, value, "/".join(types))]
        if "const" in schema and not same(value, schema["const"]):
            out.append("%s: %r is not %r" % (path, value, schema["const"]))
        if "enum" in schema and not any(same(value, e) for e in schema["enum"]):
            out.append("%s: %r is not one of %r" % (path, value, schema["enum"]))
        if self.TYPES["number"](value):
            if "minimum" in schema and value < schema["minimum"]:
                out.append("%s: %r is below %r" % (path, value, schema["minimum"]))
            if "maximum" in schema and value > schema["maximum"]:
                out.append("%s: %r is above %r" % (path, value, schema["maximum"]))
        if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
            out.append("%s: %r does not match %s" % (path, value, schema["pattern"]))
        if isinstance(value, dict):
            props = schema.get("properties", {})
            for name in schema.get("required", []):
                if name not in value:
                    out.append("%s: %r is required" % (path, name))
            for name, v in value.items():
                sub = "%s.%s" % (path, name)
                if name in props:
                    out += self.errors(v, props[name], sub)
                elif "additionalProperties" in schema:
                    out += self.errors(v, schema["additionalProperties"], sub)
        if isinstance(value, list) and "items" in schema:
            for i, v in enumerate(value):
                out += self.errors(v, schema["items"], "%s[%d]" % (path, i))
        if "anyOf" in schema:
            if not any(not self.errors(value, s, path) for s in schema["anyOf"]):
                out.append("%s: matches none of anyOf (%s)" % (
                    path, "; ".join(self.errors(value, s, path)[0] for s in schema["anyOf"])))
        if "oneOf" in schema:
            results = [self.errors(value, s, path) for s in schema["oneOf"]]
            n = sum(1 for r in results if not r)
            if n != 1:
                out.append("%s: matches %d of oneOf, not 1 (%s)" % (
                    path, n, "; ".join(r[0] for r in results if r)))
        return out

    def resolve(self, ref):
        if not ref.startswith("#/"):
            raise SchemaError("only local references are supported: %s" % ref)
        node = self.root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node


def same(a, b):
    """JSON equality: 1 and true differ, as do 1 and "1"."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


PLAN_SCHEMA = load_schema("plan-output.schema.json")
DRIFT_SCHEMA = load_schema("drift-output.schema.json")
EVENTS_SCHEMA = load_schema("apply-events.schema.json")


class TestValidator(unittest.TestCase):
    """The validator and the schemas catch what they must: a validator that
    accepts everything would make the real-output tests worthless."""

    def test_schemas_use_only_implemented_keywords_and_resolve(self):
        for schema in (PLAN_SCHEMA, DRIFT_SCHEMA, EVENTS_SCHEMA):
            v = Validator(schema)
            stack = [schema]
            while stack:
                node = stack.pop()
                if isinstance(node, dict):
                    if "$ref" in node:
                        v.resolve(node["$ref"])
                    stack.extend(node.values())
                elif isinstance(node, list):
                    stack.extend(node)
            v.errors({})  # raises SchemaError on an unknown keyword

    def test_schemas_are_valid_2020_12_schemas(self):
        if jsonschema is None or not hasattr(jsonschema, "Draft202012Validator"):
            print("\n  skipped: python3 jsonschema (with 2020-12) missing; the stdlib validator still runs",
                  file=sys.stderr)
            self.skipTest("jsonschema with Draft 2020-12 support is missing")
        for schema in (PLAN_SCHEMA, DRIFT_SCHEMA, EVENTS_SCHEMA):
            jsonschema.Draft202012Validator.check_schema(schema)

    def test_rejects_what_the_contract_forbids(self):
        v = Validator(PLAN_SCHEMA)
        create = {"address": "runner[0]", "kind": "instance", "instance_id": None, "action": "create",
                  "requires_stop": False,
                  "steps": ["run_instances"], "irreversible_steps": [], "attributes": [], "before": None,
                  "after": {"instance_type": "m8i.large"}}
        good = {"format_version": "1", "changes": [create], "drift": [], "diagnostics": [],
                "unchecked_permissions": [], "summary": {"add": 1, "change": 0, "destroy": 0, "stop_start": 0}}
        self.assertEqual(v.errors(good), [])
        bad = [
            dict(good, format_version=1),
            dict(good, extra=True),
            {k: good[k] for k in good if k != "summary"},
            dict(good, summary=dict(good["summary"], add=-1)),
            dict(good, summary=dict(good["summary"], add=True)),
            dict(good, changes=[dict(create, action="launch")]),
            dict(good, changes=[{k: create[k] for k in create if k != "kind"}]),
            dict(good, changes=[dict(create, kind="host")]),
            dict(good, changes=[dict(create, steps=["reboot"])]),
            dict(good, changes=[dict(create, irreversible_steps=["reboot"])]),
            dict(good, changes=[dict(create, attributes=[{"name": "x", "before": None, "after": "1", "policy": "later"}])]),
            {k: good[k] for k in good if k != "unchecked_permissions"},
            dict(good, changes=[dict(create, address="runner[01]")]),
            dict(good, changes=[dict(create, before={"instance_type": "m8i.large"})]),
            dict(good, changes=[dict(create, instance_id="i-0123456789abcdef0")]),
            dict(good, changes=[dict(create, action="delete")]),
            dict(good, changes=[dict(create, after={"instance_type": "m8i.large", "cpu_options": {"threads_per_core": 3}})]),
            dict(good, changes=[dict(create, after={"tags": {"nestplan:address": 1}})]),
            dict(good, diagnostics=[{"severity": "info", "address": None, "message": "x"}]),
            dict(good, drift=[{"address": "a", "instance_id": None, "attribute": "colour", "recorded": "1", "live": "2"}]),
        ]
        for doc in bad:
            with self.subTest(doc=doc):
                self.assertNotEqual(v.errors(doc), [])

    def test_drift_schema_rejects_a_wrong_summary(self):
        v = Validator(DRIFT_SCHEMA)
        self.assertEqual(v.errors({"format_version": "1", "drift": [], "summary": {"drifted": 0, "attributes": 0}}), [])
        self.assertNotEqual(v.errors({"format_version": "1", "drift": [], "summary": {"drifted": 0}}), [])
        self.assertNotEqual(v.errors({"format_version": "1", "drift": {}, "summary": {"drifted": 0, "attributes": 0}}), [])


BASE = """\
version: 1
defaults:
  image_id: ami-0abcdef1234567890
  key_name: ci-key
  subnet_id: subnet-0123456789abcdef0
  security_group_ids: [sg-0123456789abcdef0]
instances:
  runner:
    count: 2
    instance_type: m8i.large
    cpu_options: { nested_virtualization: enabled }
    tags: { team: ci }
  typed:
    instance_type: m6i.large
  imaged:
    instance_type: c8i.large
  hosted:
    instance_type: m8i.large
    placement: { tenancy: host, host_id: h-0123456789abcdef0 }
  gone:
    instance_type: c8i.large
  parked:
    instance_type: c8i.large
    state: stopped
    cpu_options: { core_count: 1, threads_per_core: 2 }
  wsl:
    image_id: ami-0fedcba9876543210
    platform: windows
    instance_type: m8i.2xlarge
    hibernation: false
    cpu_options: { nested_virtualization: enabled }
    placement: { tenancy: dedicated }
"""

CHANGED = """\
version: 1
defaults:
  image_id: ami-0abcdef1234567890
  key_name: ci-key
  subnet_id: subnet-0123456789abcdef0
  security_group_ids: [sg-0123456789abcdef0]
instances:
  runner:
    count: 3
    instance_type: m8i.large
    cpu_options: { nested_virtualization: enabled }
    tags: { team: ci, extra: "yes" }
  typed:
    instance_type: m8i.xlarge
    cpu_options: { core_count: 2, threads_per_core: 1, nested_virtualization: enabled }
  imaged:
    image_id: ami-0abcdef1234567891
    instance_type: c8i.large
  hosted:
    instance_type: m8i.large
    placement: { tenancy: default }
  parked:
    instance_type: c8i.large
    state: stopped
    cpu_options: { core_count: 1, threads_per_core: 2 }
  wsl:
    image_id: ami-0fedcba9876543210
    platform: windows
    instance_type: m8i.2xlarge
    hibernation: false
    cpu_options: { nested_virtualization: enabled }
    placement: { tenancy: dedicated }
"""


def md_text(cell):
    """What GitHub shows for a table cell nestplan wrote."""
    return html.unescape(re.sub(r"\\([|*`\\])", r"\1", cell)).replace("*(none)*", "(none)")


class OutputTestCase(SimTestCase):
    # The fixture's host_id is a made-up host: these tests are about the
    # outputs, so the simulator places it outside its host model.
    sim_args = {"transition_seconds": 0.05, "host_placement": "implicit"}

    def assert_valid(self, doc, schema):
        errors = Validator(schema).errors(doc)
        self.assertEqual(errors, [], json.dumps(doc, indent=1)[:4000])
        if jsonschema is not None and hasattr(jsonschema, "Draft202012Validator"):
            jsonschema.Draft202012Validator(schema).validate(doc)

    def plan_json(self, *args, rc=0):
        """plan -json, and the same plan saved and read back by show -json:
        both validated; the plan is returned."""
        r = self.ok("plan", "-json", "-out=saved.plan", *args, rc=rc)
        plan = r.json()
        self.assert_valid(plan, PLAN_SCHEMA)
        if rc == 0:
            shown = self.ok("show", "-json", "saved.plan").json()
            self.assert_valid(shown, PLAN_SCHEMA)
            self.assertEqual(shown["changes"], plan["changes"])
            self.assertEqual(shown["summary"], plan["summary"])
        return plan

    def drift_json(self, rc):
        r = self.ok("drift", "-json", rc=rc)
        doc = r.json()
        self.assert_valid(doc, DRIFT_SCHEMA)
        self.assertEqual(self.ok("drift", "-format=json", rc=rc).json(), doc)
        self.assertEqual(doc["summary"]["attributes"], len(doc["drift"]))
        self.assertEqual(doc["summary"]["drifted"], len({d["address"] for d in doc["drift"]}))
        return doc

    def ids(self):
        return {a: r["instance_id"] for a, r in self.state_resources().items()}

    def retag(self, iid, **changes):
        """Change an instance's tags from outside, keeping nestplan's own;
        a value of None removes the tag."""
        tags = next(i["tags"] for i in self.sim.instances() if i["instance_id"] == iid)
        for k, v in changes.items():
            if v is None:
                tags.pop(k, None)
            else:
                tags[k] = v
        self.sim.set_instance(iid, tags=tags)

    def apply_base(self):
        self.write_config(BASE)
        self.ok("apply", "-auto-approve")
        return self.ids()


class TestPlanOutput(OutputTestCase):
    def test_creates_from_an_empty_state(self):
        self.write_config(BASE)
        plan = self.plan_json()
        actions = {c["address"]: c["action"] for c in plan["changes"]}
        self.assertEqual(set(actions.values()), {"create"})
        self.assertEqual(len(actions), 8)
        self.assertEqual(plan["summary"], {"add": 8, "change": 0, "destroy": 0, "stop_start": 0})
        warnings = [d for d in plan["diagnostics"] if d["severity"] == "warning"]
        self.assertEqual([d["address"] for d in warnings], ["wsl"])
        parked = next(c for c in plan["changes"] if c["address"] == "parked")
        self.assertEqual(parked["steps"], ["run_instances", "stop"])

    def test_updates_replacements_deletes_and_no_ops(self):
        self.apply_base()
        self.write_config(CHANGED)
        plan = self.plan_json("-replace=runner[1]")
        by = {c["address"]: c for c in plan["changes"]}
        self.assertEqual(by["typed"]["action"], "update")
        self.assertTrue(by["typed"]["requires_stop"])
        self.assertEqual(by["typed"]["steps"], ["stop", "modify_instance_type", "modify_cpu_options", "start"])
        self.assertEqual(by["runner[0]"]["action"], "update")
        self.assertEqual(by["runner[0]"]["steps"], ["create_tags"])
        self.assertEqual(by["runner[1]"]["action"], "replace")
        self.assertEqual(by["runner[2]"]["action"], "create")
        for addr in ("imaged", "hosted"):
            self.assertEqual(by[addr]["action"], "replace", addr)
            self.assertEqual(by[addr]["steps"], ["terminate", "run_instances"], addr)
        self.assertIn("image_id", by["imaged"]["replace_reason"])
        self.assertIn("tenancy", by["hosted"]["replace_reason"])
        self.assertEqual(by["gone"]["action"], "delete")
        self.assertEqual(by["gone"]["steps"], ["terminate"])
        self.assertEqual(by["parked"]["action"], "no-op")
        self.assertEqual(by["wsl"]["action"], "no-op")
        self.assertEqual(plan["summary"], {"add": 4, "change": 2, "destroy": 4, "stop_start": 1})
        # Applied, the next plan is all no-op and still valid.
        self.ok("apply", "-auto-approve", "saved.plan")
        plan = self.plan_json()
        self.assertEqual({c["action"] for c in plan["changes"]}, {"no-op"})
        self.assertEqual(plan["summary"], {"add": 0, "change": 0, "destroy": 0, "stop_start": 0})

    def test_errors_are_diagnostics_in_the_json_with_exit_1(self):
        self.write_config("""\
            version: 1
            instances:
              old:
                image_id: ami-0abcdef1234567890
                instance_type: m6i.large
                cpu_options: { nested_virtualization: enabled }
            """)
        r = self.ok("plan", "-json", rc=1)
        plan = r.json()
        self.assert_valid(plan, PLAN_SCHEMA)
        (diag,) = plan["diagnostics"]
        self.assertEqual((diag["severity"], diag["address"]), ("error", "old"))
        self.assertIn("m8i", diag["message"])

    def test_show_of_a_saved_plan_prints_what_plan_printed(self):
        ids = self.apply_base()
        self.sim.set_instance(ids["typed"], instance_type="m6i.xlarge")
        plan = self.ok("plan", "-json", "-out=saved.plan").json()
        self.assertTrue(plan["drift"] and plan["diagnostics"])
        self.assertEqual(self.ok("show", "-json", "saved.plan").json(), plan)


class TestDriftOutput(OutputTestCase):
    def test_no_drift(self):
        self.apply_base()
        doc = self.drift_json(rc=0)
        self.assertEqual(doc, {"format_version": "1", "drift": [], "summary": {"drifted": 0, "attributes": 0}})
        plan = self.plan_json()
        self.assertEqual(plan["drift"], [])
        self.assertEqual({c["action"] for c in plan["changes"]}, {"no-op"})

    def test_drift_of_every_kind(self):
        ids = self.apply_base()
        self.sim.set_instance(ids["typed"], instance_type="m6i.xlarge")
        self.retag(ids["runner[0]"], team="other", added="by hand")
        self.sim.set_instance(ids["runner[1]"], state="stopped")
        self.sim.set_instance(ids["gone"], state="terminated")
        self.sim.set_instance(ids["wsl"], nested_virtualization="disabled")
        doc = self.drift_json(rc=2)
        got = {(d["address"], d["attribute"]): (d["recorded"], d["live"]) for d in doc["drift"]}
        self.assertEqual(got[("typed", "instance_type")], ("m6i.large", "m6i.xlarge"))
        self.assertEqual(got[("runner[0]", "tags.team")], ("ci", "other"))
        self.assertEqual(got[("runner[0]", "tags.added")], (None, "by hand"))
        self.assertEqual(got[("runner[1]", "state")], ("running", "stopped"))
        self.assertEqual(got[("gone", "instance")], ("exists", "terminated"))
        self.assertEqual(got[("wsl", "cpu_options.nested_virtualization")], ("enabled", "disabled"))
        for d in doc["drift"]:
            self.assertEqual(d["instance_id"], ids[d["address"]])
        # The plan shows the same drift and is valid too; so is -refresh-only
        # (the terminated instance has no "after").
        plan = self.plan_json()
        self.assertEqual(plan["drift"], doc["drift"])
        only = self.plan_json("-refresh-only")
        self.assertEqual({c["action"] for c in only["changes"]}, {"no-op"})
        self.assertIsNone(next(c for c in only["changes"] if c["address"] == "gone")["after"])

    def test_a_removed_tag_has_no_live_value(self):
        ids = self.apply_base()
        self.retag(ids["runner[1]"], team=None)
        doc = self.drift_json(rc=2)
        self.assertIn({"address": "runner[1]", "kind": "instance", "instance_id": ids["runner[1]"],
                       "attribute": "tags.team", "recorded": "ci", "live": None}, doc["drift"])


class TestDriftReports(OutputTestCase):
    def drifted(self):
        ids = self.apply_base()
        self.sim.set_instance(ids["typed"], instance_type="m6i.xlarge")
        # Characters that XML and Markdown must escape.
        self.retag(ids["runner[0]"], team='a|b <c> & "d"')
        self.sim.set_instance(ids["gone"], state="terminated")
        return ids

    def junit(self, rc):
        r = self.ok("drift", "-format=junit", rc=rc)
        path = os.path.join(self.dir, "drift.xml")
        with open(path, "w") as f:
            f.write(r.out)
        if shutil.which("xmllint"):
            x = subprocess.run(["xmllint", "--noout", "--schema", JUNIT_XSD, path], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(x.returncode, 0, x.stderr + r.out)
        else:
            print("\n  xmllint missing: the JUnit XSD check is skipped, the parse checks still run",
                  file=sys.stderr)
        return ET.fromstring(r.out.encode())

    def test_xsd_is_a_schema_xmllint_accepts(self):
        if not shutil.which("xmllint"):
            print("\n  skipped: xmllint is missing", file=sys.stderr)
            self.skipTest("xmllint is missing")
        bad = os.path.join(self.dir, "bad.xml")
        with open(bad, "w") as f:
            f.write('<testsuites><testsuite tests="x"><testcase/></testsuite></testsuites>')
        x = subprocess.run(["xmllint", "--noout", "--schema", JUNIT_XSD, bad], capture_output=True,
                           text=True, timeout=30)
        self.assertNotEqual(x.returncode, 0, "the XSD accepts a report without names and counts")

    def test_junit_each_instance_a_testcase_drift_a_failure(self):
        ids = self.drifted()
        drift = self.ok("drift", "-json", rc=2).json()["drift"]
        root = self.junit(rc=2)
        self.assertEqual(root.tag, "testsuites")
        (suite,) = root.findall("testsuite")
        cases = suite.findall("testcase")
        self.assertTrue(all(child.tag == "testcase" for child in suite))
        self.assertEqual(sorted(c.get("name") for c in cases), sorted(ids))
        self.assertEqual(int(suite.get("tests")), len(ids))
        failed = {c.get("name"): c.findall("failure") for c in cases if c.findall("failure")}
        self.assertEqual(sorted(failed), ["gone", "runner[0]", "typed"])
        self.assertEqual(int(suite.get("failures")), 3)
        self.assertEqual(int(suite.get("errors", "0")), 0)
        for name, failures in failed.items():
            self.assertEqual(len(failures), 1, name)
            text = failures[0].text or ""
            items = [d for d in drift if d["address"] == name]
            self.assertIn(str(len(items)), failures[0].get("message"))
            for d in items:
                self.assertIn(d["attribute"], text)
                self.assertIn(d["recorded"] or "(none)", text)
                self.assertIn(d["live"] or "(none)", text)
        self.assertIn('a|b <c> & "d"', failed["runner[0]"][0].text)

    def test_junit_without_drift_has_no_failures(self):
        ids = self.apply_base()
        root = self.junit(rc=0)
        cases = root.findall("./testsuite/testcase")
        self.assertEqual(sorted(c.get("name") for c in cases), sorted(ids))
        self.assertEqual(root.findall(".//failure"), [])

    def test_junit_of_an_empty_state(self):
        self.write_config(BASE)
        self.ok("init")
        root = self.junit(rc=0)
        self.assertEqual(root.findall(".//testcase"), [])

    def test_markdown_is_a_github_table(self):
        self.drifted()
        drift = self.ok("drift", "-json", rc=2).json()["drift"]
        out = self.ok("drift", "-format=markdown", rc=2).out
        lines = [l for l in out.splitlines() if l.startswith("|")]
        self.assertGreaterEqual(len(lines), 2, out)

        def cells(line):
            self.assertTrue(line.startswith("|") and line.endswith("|"), line)
            return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]

        header, delimiter, rows = cells(lines[0]), cells(lines[1]), [cells(l) for l in lines[2:]]
        self.assertEqual(header, ["Instance", "ID", "Attribute", "Recorded", "Live"])
        self.assertEqual(len(delimiter), len(header))
        self.assertTrue(all(re.fullmatch(r":?-{3,}:?", c) for c in delimiter), delimiter)
        self.assertEqual(len(rows), len(drift))
        for row, d in zip(rows, drift):
            self.assertEqual(len(row), len(header), row)
            self.assertEqual(row[0].strip("`"), d["address"])
            self.assertEqual(row[1], d["instance_id"])
            self.assertEqual(row[2], d["attribute"])
            self.assertEqual(md_text(row[3]), d["recorded"] or "(none)")
            self.assertEqual(md_text(row[4]), d["live"] or "(none)")
        # Text around the table: a heading first, a blank line before the table.
        self.assertTrue(out.startswith("#"), out)
        self.assertEqual(out.splitlines()[out.splitlines().index(lines[0]) - 1], "")

    def test_markdown_without_drift(self):
        self.apply_base()
        out = self.ok("drift", "-format=markdown", rc=0).out
        self.assertIn("no drift", out.lower())
        self.assertNotIn("|", out)
