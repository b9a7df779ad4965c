"""Every C file is in the style of the repository's .clang-format (STYLE.md:
one .clang-format, applied to every file). `make format` rewrites them."""
import os
import shutil
import subprocess
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def c_files():
    out = subprocess.run(["git", "ls-files", "*.c", "*.h"], cwd=ROOT, capture_output=True,
                         text=True)
    return [f for f in out.stdout.split() if os.path.exists(os.path.join(ROOT, f))]


@unittest.skipUnless(shutil.which("clang-format"), "clang-format not installed")
@unittest.skipUnless(os.path.isdir(os.path.join(ROOT, ".git")), "not a git checkout")
class TestFormat(unittest.TestCase):
    def test_every_c_file_is_formatted(self):
        files = c_files()
        self.assertGreater(len(files), 50)
        r = subprocess.run(["clang-format", "--dry-run", "-Werror"] + files, cwd=ROOT,
                           capture_output=True, text=True)
        bad = sorted({line.split(":")[0] for line in r.stderr.splitlines() if ": error:" in line})
        self.assertEqual(bad, [], "not formatted (make format): %s" % ", ".join(bad[:20]))


if __name__ == "__main__":
    unittest.main()
