"""Every fixture in tests/config goes to `nestplan validate` and to the JSON
Schema in schemas/; they must agree (apart from the rules JSON Schema cannot
express, listed below), and each invalid fixture's first-line `# expect:`
text must appear in the error output with the file's name in front."""
import glob
import json
import os
import subprocess
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NESTPLAN = os.environ.get("NESTPLAN") or os.path.join(ROOT, "build", "nestplan")
VALID = sorted(glob.glob(os.path.join(ROOT, "tests", "config", "valid", "*.yaml")))
INVALID = sorted(glob.glob(os.path.join(ROOT, "tests", "config", "invalid", "*.yaml")))

# Rules JSON Schema cannot express (the YAML layer or a merge of defaults).
SCHEMA_BLIND = {
    "03-duplicate-key.yaml": "YAML loaders keep the last of duplicate keys",
    "29-needs-image.yaml": "needs image_id after defaults are merged",
    "30-billion-laughs.yaml": "alias expansion is a YAML-layer limit",
}

try:
    import jsonschema
    import yaml
    SKIP = None
except ImportError as e:  # the fresh machine has neither
    SKIP = "python3 jsonschema or PyYAML missing (%s): schema half skipped" % e.name


def validate(path):
    return subprocess.run([NESTPLAN, "validate", path], capture_output=True, text=True, timeout=10)


class TestValidate(unittest.TestCase):
    def test_at_least_25_invalid_fixtures(self):
        self.assertGreaterEqual(len(INVALID), 25)

    def test_valid_fixtures_pass_validate(self):
        for path in VALID:
            with self.subTest(path=os.path.basename(path)):
                r = validate(path)
                self.assertEqual(r.returncode, 0, r.stderr)

    def test_invalid_fixtures_fail_with_file_line_column(self):
        for path in INVALID:
            name = os.path.basename(path)
            with self.subTest(path=name):
                with open(path) as f:
                    first = f.readline()
                self.assertTrue(first.startswith("# expect: "), name)
                want = first[len("# expect: "):].strip()
                r = validate(path)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                lines = r.stderr.splitlines()
                self.assertTrue(any(want in l and l.startswith(path + ":") for l in lines),
                                "%s: %r not in %r" % (name, want, lines))


@unittest.skipIf(SKIP, SKIP)
class TestSchemaAgrees(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(ROOT, "schemas", "nestplan.schema.json")) as f:
            cls.schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(cls.schema)
        cls.validator = jsonschema.Draft202012Validator(cls.schema)

    def schema_ok(self, path):
        with open(path) as f:
            try:
                doc = yaml.safe_load(f)
            except yaml.YAMLError:
                return False
        return not list(self.validator.iter_errors(doc))

    def test_schema_accepts_valid_fixtures(self):
        for path in VALID:
            with self.subTest(path=os.path.basename(path)):
                self.assertTrue(self.schema_ok(path))

    def test_schema_refuses_invalid_fixtures(self):
        for path in INVALID:
            name = os.path.basename(path)
            if name in SCHEMA_BLIND:
                continue
            with self.subTest(path=name):
                self.assertFalse(self.schema_ok(path), name)


if __name__ == "__main__":
    unittest.main()
