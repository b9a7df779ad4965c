"""The examples and the README's configuration reference: every example file
and every marked README block passes `nestplan validate`, the reference
documents every key of the JSON Schema, and the CI pipelines in examples/ci
parse, call only commands and options nestplan has, and — their drift steps
run as the CI system would — report drift with exit code 2."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

from tests.integration.common import NESTPLAN, ROOT, SimTestCase
from tests.s3sim.harness import S3Simulator

try:
    import yaml
except ImportError:
    yaml = None

EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*", "nestplan.yaml")))
CI = os.path.join(ROOT, "examples", "ci")
GITHUB = os.path.join(CI, "github-actions-drift.yml")
GITLAB = os.path.join(CI, "gitlab-ci-drift.yml")
README = os.path.join(ROOT, "README.md")
SCHEMA = os.path.join(ROOT, "schemas", "nestplan.schema.json")
MODELINE = re.compile(r"^# yaml-language-server: \$schema=\S*nestplan\.schema\.json\s*$")
NO_YAML = "python3 PyYAML missing: the CI files cannot be parsed here (the line-based checks still run)"
if yaml is None:
    print("\n%s: %s" % (__name__, NO_YAML), file=sys.stderr)


def run(args, cwd, **kw):
    return subprocess.run([NESTPLAN] + args, cwd=cwd, capture_output=True, text=True, timeout=30, **kw)


def help_flags(command):
    r = subprocess.run([NESTPLAN, command, "-help"], capture_output=True, text=True, timeout=10)
    return set(re.findall(r"^  (-[a-z][a-z-]*)", r.stdout, re.M)) | {"-help"}


def commands():
    r = subprocess.run([NESTPLAN, "-help"], capture_output=True, text=True, timeout=10)
    block = r.stdout.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return {line.split()[0] for line in block.splitlines() if re.match(r"  \S", line)}  # not a wrapped line's rest


def readme_yaml_blocks():
    with open(README) as f:
        text = f.read()
    return re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M)


def marked(block):
    first = next((l for l in block.splitlines() if l.strip()), "")
    return bool(MODELINE.match(first))


def schema_keys():
    """Every key the configuration may hold: "version", "provider.region",
    "cpu_options.core_count", "count", …"""
    with open(SCHEMA) as f:
        schema = json.load(f)
    keys = set()

    def walk(node, prefix):
        if "$ref" in node:
            walk(schema["$defs"][node["$ref"].split("/")[-1]], prefix)
        for name, sub in node.get("properties", {}).items():
            path = prefix + name
            nested = sub.get("properties")
            if nested:
                walk(sub, path + ".")
            else:
                keys.add(path)

    walk(schema, "")
    for name in ("defaults", "instances"):
        keys.add(name)
    walk(schema["$defs"]["instance"], "")
    return keys


class TestExampleFiles(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nestplan-ex-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_the_examples_the_issue_asks_for_exist(self):
        names = {os.path.basename(os.path.dirname(p)) for p in EXAMPLES}
        self.assertLessEqual({"quickstart", "fleet", "adopt-existing", "windows", "ci"}, names)

    def test_every_example_validates(self):
        for path in EXAMPLES:
            with self.subTest(example=os.path.relpath(path, ROOT)):
                r = run(["validate", path], self.dir)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertIn("Success!", r.stdout)
        self.assertEqual(os.listdir(self.dir), [], "validate wrote into the working directory")

    def test_windows_example_shows_the_vsm_warning(self):
        r = run(["validate", os.path.join(ROOT, "examples", "windows", "nestplan.yaml")], self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"warning: .*Virtual Secure Mode")

    def test_fleet_example_bounds_its_rollouts(self):
        with open(os.path.join(ROOT, "examples", "fleet", "nestplan.yaml")) as f:
            self.assertIn("max_unavailable", f.read())


class TestReadmeReference(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nestplan-readme-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_each_marked_block_validates(self):
        blocks = [b for b in readme_yaml_blocks() if marked(b)]
        self.assertGreaterEqual(len(blocks), 1, "no ```yaml block starts with the schema modeline")
        for i, block in enumerate(blocks):
            path = os.path.join(self.dir, "readme-%d.yaml" % i)
            with open(path, "w") as f:
                f.write(block)
            with self.subTest(block=i):
                r = run(["validate", path], self.dir)
                self.assertEqual(r.returncode, 0, block + r.stderr)

    def test_every_schema_key_is_in_the_reference_and_in_a_validated_example(self):
        with open(README) as f:
            readme = f.read()
        section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
        examples = "\n".join(b for b in readme_yaml_blocks() if marked(b))
        keys = schema_keys()
        self.assertLessEqual({"version", "provider.endpoint", "cpu_options.nested_virtualization", "count",
                              "instance_id", "lifecycle.create_before_destroy", "user_data"}, keys)
        undocumented = sorted(k for k in keys if "`%s`" % k not in section)
        self.assertEqual(undocumented, [], "keys missing from the README's configuration reference")
        unshown = sorted(k for k in keys
                         if not re.search(r"(?<![\w.-])%s:" % re.escape(k.split(".")[-1]), examples))
        self.assertEqual(unshown, [], "keys no validated README example uses")


# nestplan where a shell runs it: first on a line (after a YAML "- " or
# "run: "), or after ; && || | ( then do else.
NESTPLAN_CALL = re.compile(
    r"(?:^[ \t]*(?:-[ \t]+)?(?:run:[ \t]+)?|[;&|(][ \t]*|\b(?:then|do|else)[ \t]+)"
    r"(?:[\w./$-]*/)?nestplan[ \t]+([a-z][a-z-]*)([^\n;&|>)]*)", re.M)


class TestCiFilesCallWhatExists(unittest.TestCase):
    """Line by line, no YAML parser needed."""

    def calls(self, path):
        with open(path) as f:
            text = f.read()
        if path.endswith(".md"):  # the code in it: fenced blocks and inline spans
            text = "\n".join(re.findall(r"^```\w*\n(.*?)^```", text, re.S | re.M) +
                             re.findall(r"`([^`\n]+)`", text))
        text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
        return NESTPLAN_CALL.findall(text)

    def test_only_commands_and_flags_that_exist(self):
        known = commands()
        for path in (GITHUB, GITLAB, os.path.join(CI, "README.md")):
            calls = self.calls(path)
            self.assertTrue(calls, path)
            for cmd, rest in calls:
                with self.subTest(file=os.path.basename(path), call="nestplan %s%s" % (cmd, rest)):
                    self.assertIn(cmd, known)
                    flags = help_flags(cmd)
                    for name, value in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)(?:=(\S+))?", rest):
                        self.assertIn("-" + name.lstrip("-"), flags)
                        if name.lstrip("-") == "format":
                            self.assertIn(value.strip("\"'"), {"text", "json", "junit", "markdown"})

    def test_both_pipelines_write_junit_and_markdown(self):
        for path in (GITHUB, GITLAB):
            calls = [(c, r) for c, r in self.calls(path) if c == "drift"]
            formats = {m for _, r in calls for m in re.findall(r"-format=(\w+)", r)}
            self.assertEqual(formats, {"junit", "markdown"}, path)


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


@unittest.skipIf(yaml is None, NO_YAML)
class TestCiStructure(unittest.TestCase):
    def test_github_workflow(self):
        wf = load_yaml(GITHUB)
        on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
        self.assertTrue(on["schedule"][0]["cron"])
        self.assertEqual(wf["permissions"]["id-token"], "write")
        self.assertEqual(wf["permissions"]["issues"], "write")
        (job,) = wf["jobs"].values()
        steps = job["steps"]
        creds = [s for s in steps if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
        self.assertEqual(len(creds), 1)
        self.assertTrue(creds[0]["with"]["role-to-assume"].startswith("arn:aws:iam::"))
        for key in ("aws_access_key_id", "aws-access-key-id", "aws-secret-access-key"):
            self.assertNotIn(key, creds[0]["with"], "OIDC, not stored keys")
        drift = next(s for s in steps if s.get("id") == "drift")
        self.assertIn("GITHUB_STEP_SUMMARY", drift["run"])
        self.assertIn("exit_code=", drift["run"])
        gated = [s for s in steps if "steps.drift.outputs.exit_code == '2'" in str(s.get("if", ""))]
        self.assertTrue(any("gh issue create" in s.get("run", "") for s in gated), "no issue on drift")
        self.assertTrue(any(re.search(r"^\s*exit [1-9]", s.get("run", ""), re.M) for s in gated),
                        "no failing step on drift")
        uploads = [s for s in steps if "drift.xml" in json.dumps(s.get("with", {}))]
        self.assertTrue(uploads, "the JUnit report is not uploaded")

    def test_gitlab_job(self):
        doc = load_yaml(GITLAB)
        job = doc["nestplan-drift"]
        self.assertEqual(job["id_tokens"]["AWS_ID_TOKEN"]["aud"], "sts.amazonaws.com")
        self.assertTrue(job["variables"]["AWS_ROLE_ARN"].startswith("arn:aws:iam::"))
        token_file = job["variables"]["AWS_WEB_IDENTITY_TOKEN_FILE"]
        self.assertTrue(token_file)
        self.assertTrue(any("$AWS_ID_TOKEN" in l and "$AWS_WEB_IDENTITY_TOKEN_FILE" in l
                            for l in job["before_script"]), "the ID token is not written to the file")
        self.assertIn({"if": '$CI_PIPELINE_SOURCE == "schedule"'}, job["rules"])
        self.assertEqual(job["artifacts"]["reports"]["junit"], "drift.xml")
        self.assertEqual(job["artifacts"]["when"], "always")
        self.assertIn(job["stage"], doc["stages"])


@unittest.skipIf(yaml is None, NO_YAML)
class TestCiDriftSteps(SimTestCase):
    """The drift steps of both pipelines, run with the shell the CI system
    uses, against the simulator: 0 and no failure without drift; with drift
    the reports and exit code 2 (GitHub: in the step output, GitLab: the job's)."""

    sim_args = {"transition_seconds": 0.05}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The file's backend: the state lives in S3 (the stand-in), not on the runner.
        cls.s3 = S3Simulator(versioned_bucket="example-nestplan-state", require_sse=True)
        cls.s3.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.s3.__exit__(None, None, None)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.s3.reset()
        os.makedirs(os.path.join(self.dir, "examples", "ci"))
        shutil.copy(os.path.join(CI, "nestplan.yaml"), os.path.join(self.dir, "examples", "ci"))
        self.bin = tempfile.mkdtemp(prefix="nestplan-bin-")
        self.addCleanup(shutil.rmtree, self.bin, True)
        os.symlink(os.path.abspath(NESTPLAN), os.path.join(self.bin, "nestplan"))

    def ci_env(self, job_env):
        env = dict(self.env)
        env.update({k: str(v) for k, v in job_env.items()})
        # Static keys of the simulator stand in for the OIDC exchange (tested elsewhere).
        for k in ("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME"):
            env.pop(k, None)
        env.update(self.sim.env())
        env["AWS_ENDPOINT_URL_S3"] = self.s3.url
        env["PATH"] = self.bin + os.pathsep + env.get("PATH", "")
        return env

    def apply_fleet(self, env):
        r = self.np("apply", "-auto-approve", "-config=" + env["NESTPLAN_CONFIG"], env=env)
        self.assertEqual(r.rc, 0, r)

    def drift_from_outside(self):
        (victim, other) = [i for i in self.sim.instances() if i["state"] == "running"][:2]
        self.sim.set_instance(victim["instance_id"], instance_type="m8i.xlarge")
        self.sim.set_instance(other["instance_id"], state="stopped")

    def bash(self, script, env, flags):
        path = os.path.join(self.dir, "step.sh")
        with open(path, "w") as f:
            f.write(script)
        return subprocess.run(["bash", "--noprofile", "--norc"] + flags + [path], cwd=self.dir, env=env,
                              capture_output=True, text=True, timeout=60)

    def check_junit(self, failures):
        root = ET.parse(os.path.join(self.dir, "drift.xml")).getroot()
        self.assertEqual(len(root.findall(".//testcase")), 6)
        self.assertEqual(len(root.findall(".//failure")), failures)

    def run_github_step(self, wf):
        (job,) = wf["jobs"].values()
        step = next(s for s in job["steps"] if s.get("id") == "drift")
        self.assertNotIn("${{", step["run"], "the step must not need GitHub expressions")
        self.assertEqual(step.get("shell"), "bash")
        env = self.ci_env(dict(wf.get("env", {}), **job.get("env", {}), **step.get("env", {})))
        env["GITHUB_STEP_SUMMARY"] = os.path.join(self.dir, "summary.md")
        env["GITHUB_OUTPUT"] = os.path.join(self.dir, "output")
        for name in ("summary.md", "output"):
            open(os.path.join(self.dir, name), "w").close()
        r = self.bash(step["run"], env, ["-eo", "pipefail"])  # what `shell: bash` runs
        with open(env["GITHUB_OUTPUT"]) as f:
            output = dict(l.split("=", 1) for l in f.read().splitlines() if "=" in l)
        with open(env["GITHUB_STEP_SUMMARY"]) as f:
            summary = f.read()
        return r, output, summary, env

    def test_github_drift_step(self):
        wf = load_yaml(GITHUB)
        (job,) = wf["jobs"].values()
        self.apply_fleet(self.ci_env(dict(wf["env"], **job.get("env", {}))))
        r, output, summary, env = self.run_github_step(wf)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(output, {"exit_code": "0"})
        self.assertIn("no drift", summary)
        self.check_junit(failures=0)
        self.drift_from_outside()
        r, output, summary, env = self.run_github_step(wf)
        self.assertEqual(r.returncode, 0, "the reports must go out: " + r.stdout + r.stderr)
        self.assertEqual(output, {"exit_code": "2"})
        self.assertIn("| Instance | ID | Attribute | Recorded | Live |", summary)
        self.assertIn("instance_type", summary)
        self.check_junit(failures=2)

    def run_gitlab_script(self, doc):
        job = doc["nestplan-drift"]
        env = self.ci_env(job["variables"])
        for name in ("drift.xml", "drift.md"):
            if os.path.exists(os.path.join(self.dir, name)):
                os.unlink(os.path.join(self.dir, name))
        # GitLab's bash executor runs the script lines in one shell with errexit and pipefail.
        return self.bash("\n".join(job["script"]) + "\n", env, ["-eo", "pipefail"]), env

    def test_gitlab_drift_script(self):
        doc = load_yaml(GITLAB)
        self.apply_fleet(self.ci_env(doc["nestplan-drift"]["variables"]))
        r, env = self.run_gitlab_script(doc)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.check_junit(failures=0)
        self.drift_from_outside()
        r, env = self.run_gitlab_script(doc)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.check_junit(failures=2)
        with open(os.path.join(self.dir, "drift.md")) as f:
            self.assertIn("drift detected", f.read())
        self.assertIn("| Instance |", r.stdout)

    def test_a_missing_state_fails_the_pipeline(self):
        # A state fetch that went wrong (or a mistyped NESTPLAN_STATE) must not
        # turn into a green drift check.
        doc = load_yaml(GITLAB)
        r, env = self.run_gitlab_script(doc)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("no state at s3://example-nestplan-state/mobile-ci/nestplan.db", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "nestplan.db")))
