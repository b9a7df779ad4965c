"""`make install PREFIX=…` as a user runs it: the binary, a man page that
`man -l` renders and that says what `nestplan COMMAND -help` says, and bash
(and zsh) completion of commands, flags and addresses from the state, tried in
a shell started with the installed completion file."""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from tests.integration.common import NESTPLAN, ROOT, SimTestCase

MAN_SRC = os.path.join(ROOT, "docs", "nestplan.1")
PREFIX = None
INSTALL_ERROR = None


def setUpModule():
    global PREFIX, INSTALL_ERROR
    if not shutil.which("make"):
        INSTALL_ERROR = "make is missing"
        return
    PREFIX = tempfile.mkdtemp(prefix="nestplan-install-")
    args = ["make", "-s", "install", "PREFIX=" + PREFIX]
    # Install the binary under test: make check SANITIZE=1 tests build/san/nestplan.
    build = os.path.relpath(os.path.dirname(os.path.abspath(NESTPLAN)), ROOT)
    if build != "build" and not build.startswith(".."):
        args.append("BUILD=" + build)
        if os.path.basename(build) == "san":
            args.append("SANITIZE=1")
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        INSTALL_ERROR = "make install failed (rc=%d):\n%s%s" % (r.returncode, r.stdout, r.stderr)


def tearDownModule():
    if PREFIX:
        shutil.rmtree(PREFIX, ignore_errors=True)


def skip(test, reason):
    """Skip, and say why even without -v."""
    print("\n  skipped %s: %s" % (test.id().split(".")[-1], reason), file=sys.stderr)
    test.skipTest(reason)


def installed(*parts):
    return os.path.join(PREFIX, *parts)


def help_text(*args):
    r = subprocess.run([NESTPLAN] + list(args), capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def commands_from_help():
    out = help_text("-help")
    block = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in block.splitlines() if re.match(r"  \S", line)]  # not a wrapped line's rest


def flags_from_help(command):
    """The options `nestplan COMMAND -help` lists, without their =ARG."""
    return [m.group(1) for m in re.finditer(r"^  (-[a-z][a-z-]*)(?:=\S+)?\s", help_text(command, "-help"), re.M)]


def roff_plain(text):
    """Roff source to searchable text: escapes and font changes dropped."""
    text = text.replace("\\-", "-").replace("\\(->", "->").replace("\\(aq", "'")
    text = re.sub(r"\\f[BIRP]", "", text)
    return text


def man_sections(src):
    """{section name: its source} for the .SH sections of the page."""
    out, name = {}, None
    for line in src.splitlines():
        m = re.match(r'\.SH\s+"?([^"]+?)"?\s*$', line)
        if m:
            name = m.group(1)
            out[name] = []
        elif name:
            out[name].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def man_subsections(section_src):
    """The .SS subsections of a section: [(heading, body)]."""
    parts = re.split(r'^\.SS\s+(.*)$', section_src, flags=re.M)
    return [(roff_plain(parts[i]).strip('"'), parts[i + 1]) for i in range(1, len(parts), 2)]


class InstallTestCase(unittest.TestCase):
    def setUp(self):
        if INSTALL_ERROR:
            if INSTALL_ERROR.startswith("make is missing"):
                skip(self, INSTALL_ERROR)
            self.fail(INSTALL_ERROR)


class TestInstall(InstallTestCase):
    def test_installs_binary_man_page_and_completions(self):
        binary = installed("bin", "nestplan")
        self.assertTrue(os.access(binary, os.X_OK), binary)
        r = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("nestplan", r.stdout)
        for path, source in ((("share", "man", "man1", "nestplan.1"), "docs/nestplan.1"),
                             (("share", "bash-completion", "completions", "nestplan"), "completion/nestplan.bash"),
                             (("share", "zsh", "site-functions", "_nestplan"), "completion/_nestplan")):
            with open(installed(*path)) as f, open(os.path.join(ROOT, source)) as g:
                self.assertEqual(f.read(), g.read(), source)


class TestManPage(InstallTestCase):
    def render(self):
        if not shutil.which("man"):
            skip(self, "man is missing: the rendering half is skipped")
        env = dict(os.environ, MANWIDTH="100", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
        r = subprocess.run(["man", "-l", "-P", "cat", installed("share", "man", "man1", "nestplan.1")],
                           capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("warning", r.stderr.lower(), r.stderr)
        return r.stdout

    def test_man_renders_every_section(self):
        out = self.render()
        for section in ("NAME", "SYNOPSIS", "COMMANDS", "OPTIONS", "EXIT STATUS", "ENVIRONMENT", "FILES"):
            self.assertRegex(out, r"(?m)^%s\s*$" % re.escape(section), section)
        self.assertRegex(out, r"(?m)^NAME\s*\n\s+nestplan - ")

    def test_rendered_page_shows_every_command_and_flag(self):
        out = self.render()
        for cmd in commands_from_help():
            self.assertRegex(out, r"(?m)^   %s\b" % re.escape(cmd), cmd)
            for flag in flags_from_help(cmd):
                # No hyphenation may break a flag across lines.
                self.assertRegex(out, r"(?<![\w-])%s(?![\w-])" % re.escape(flag), (cmd, flag))

    def test_groff_finds_nothing_to_warn_about(self):
        if not shutil.which("groff"):
            skip(self, "groff is missing")
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", MAN_SRC], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual((r.returncode, r.stderr), (0, ""))


class TestManPageMatchesHelp(unittest.TestCase):
    """`nestplan COMMAND -help` and the man page say the same (no man needed)."""

    @classmethod
    def setUpClass(cls):
        with open(MAN_SRC) as f:
            cls.src = f.read()
        cls.sections = man_sections(cls.src)

    def command_entries(self):
        entries = {}
        for heading, body in man_subsections(self.sections["COMMANDS"]):
            entries[heading.split()[0]] = body
        return entries

    def test_commands_of_the_man_page_are_those_of_help(self):
        self.assertEqual(sorted(self.command_entries()), sorted(commands_from_help()))

    def test_each_command_lists_exactly_its_help_flags(self):
        for cmd, body in self.command_entries().items():
            with self.subTest(command=cmd):
                m = re.search(r"^\.I Options:\n((?:[^.].*\n?)+)", body, re.M)
                self.assertIsNotNone(m, "%s: no '.I Options:' list" % cmd)
                listed = re.findall(r"(?<![\w-])(-[a-z][a-z-]*)", roff_plain(m.group(1)))
                self.assertEqual(sorted(listed), sorted(flags_from_help(cmd)))

    def test_every_help_flag_has_an_entry_in_options(self):
        options = roff_plain(self.sections["OPTIONS"])
        entries = set(re.findall(r"^\.(?:B|BI|BR)\s+(-[a-z][a-z-]*)", options, re.M))
        wanted = {"-help", "-version"}
        for cmd in commands_from_help():
            wanted.update(flags_from_help(cmd))
        self.assertEqual(sorted(wanted - entries), [])
        self.assertEqual(sorted(entries - wanted), [], "documented flags no command has")

    def test_exit_status_lists_each_code(self):
        body = self.sections["EXIT STATUS"]
        codes = re.findall(r"^\.TP\n\.B\s+(\d+)", body, re.M)
        self.assertEqual(codes, ["0", "1", "2", "130", "143"])

    def test_environment_names_every_variable_the_code_reads(self):
        names = set()
        for dirpath, _, files in os.walk(os.path.join(ROOT, "src")):
            for name in files:
                if name.endswith(".c"):
                    with open(os.path.join(dirpath, name)) as f:
                        names.update(re.findall(r'\b(?:getenv|env|home_file)\("([A-Z][A-Z0-9_]+)"', f.read()))
        names.discard("HOME")
        self.assertIn("NESTPLAN_STATE", names)  # the scan works
        env = roff_plain(self.sections["ENVIRONMENT"])
        self.assertEqual(sorted(n for n in names if not re.search(r"\b%s\b" % n, env)), [])

    def test_files_names_config_state_and_backup(self):
        files = roff_plain(self.sections["FILES"])
        for name in ("nestplan.yaml", "nestplan.db", "nestplan.db.backup", "~/.aws/credentials"):
            self.assertIn(name, files)


def bash_words(line):
    """COMP_WORDS as bash makes them: split at blanks, "=" a word of its own
    (it is in COMP_WORDBREAKS), "" for the word after a trailing blank."""
    words = []
    for token in line.split():
        words.extend(w for w in re.split(r"(=)", token) if w != "")
    if line.endswith(" "):
        words.append("")
    return words


class TestBashCompletion(InstallTestCase, SimTestCase):
    CONFIG = """\
        version: 1
        defaults: { image_id: ami-0abcdef1234567890 }
        instances:
          runner:
            count: 2
            instance_type: m8i.large
            cpu_options: { nested_virtualization: enabled }
          builder:
            instance_type: c8i.large
        """

    def setUp(self):
        InstallTestCase.setUp(self)
        if not shutil.which("bash"):
            skip(self, "bash is missing")
        SimTestCase.setUp(self)

    def complete(self, line, cwd=None):
        """COMPREPLY for the cursor at the end of LINE, from the installed
        completion file sourced into a fresh bash."""
        words = bash_words(line)
        cur = "" if words[-1] == "=" else words[-1]
        script = "\n".join([
            "source %s || exit 3" % shlex.quote(installed("share", "bash-completion", "completions", "nestplan")),
            "spec=$(complete -p nestplan) || exit 4",
            "func=$(sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p' <<<\"$spec\")",
            "COMP_WORDS=(%s)" % " ".join(shlex.quote(w) for w in words),
            "COMP_CWORD=%d" % (len(words) - 1),
            "COMP_LINE=%s" % shlex.quote(line),
            "COMP_POINT=${#COMP_LINE}",
            "COMPREPLY=()",
            "\"$func\" nestplan %s %s" % (shlex.quote(cur), shlex.quote(words[-2])),
            "printf '%s\\n' \"${COMPREPLY[@]}\"",
        ])
        env = dict(self.env, PATH=installed("bin") + os.pathsep + self.env.get("PATH", ""))
        r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=cwd or self.dir,
                           env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [w for w in r.stdout.splitlines() if w]

    def test_commands(self):
        self.assertEqual(self.complete("nestplan pl"), ["plan"])
        self.assertEqual(self.complete("nestplan f"), ["force-unlock"])
        self.assertEqual(sorted(c for c in self.complete("nestplan ") if not c.startswith("-")),
                         sorted(commands_from_help()))
        self.assertEqual(self.complete("nestplan state "), ["list", "show", "rm", "mv", "pull", "push"])
        self.assertEqual(self.complete("nestplan -help dr"), ["drift"])

    def test_flags_of_each_command(self):
        self.assertEqual(self.complete("nestplan plan -det"), ["-detailed-exitcode"])
        self.assertEqual(self.complete("nestplan apply -auto"), ["-auto-approve"])
        self.assertEqual(self.complete("nestplan drift -form"), ["-format="])
        self.assertEqual(self.complete("nestplan drift -det"), [], "drift has no -detailed-exitcode")
        for cmd in commands_from_help():
            offered = {w.rstrip("=") for w in self.complete("nestplan %s -" % cmd)}
            self.assertEqual(offered, set(flags_from_help(cmd)) | {"-help"}, cmd)

    def test_option_values(self):
        self.assertEqual(self.complete("nestplan drift -format=j"), ["json", "junit"])
        self.assertEqual(self.complete("nestplan drift -format="), ["text", "json", "junit", "markdown"])
        self.assertEqual(self.complete("nestplan plan -refresh=f"), ["false"])

    def test_addresses_from_the_state_after_an_apply(self):
        self.write_config(self.CONFIG)
        self.ok("apply", "-auto-approve")
        # A file that "runner[0]" would glob to must not change the answer.
        open(os.path.join(self.dir, "runner0"), "w").close()
        addresses = ["builder", "runner[0]", "runner[1]"]
        self.assertEqual(self.complete("nestplan state show "), addresses)
        self.assertEqual(self.complete("nestplan state show -json r"), ["runner[0]", "runner[1]"])
        self.assertEqual(self.complete("nestplan state rm builder "), addresses)
        self.assertEqual(self.complete("nestplan plan -target="), ["runner"] + addresses)
        self.assertEqual(self.complete("nestplan plan -target=runner["), ["runner[0]", "runner[1]"])
        self.assertEqual(self.complete("nestplan apply -replace b"), ["builder"])
        self.assertEqual(self.complete("nestplan import "), ["runner[0]", "runner[1]", "builder"])

    def test_addresses_of_the_state_named_on_the_line(self):
        self.write_config(self.CONFIG)
        self.ok("apply", "-auto-approve", "-state=other.db")
        elsewhere = tempfile.mkdtemp(prefix="nestplan-comp-")
        self.addCleanup(shutil.rmtree, elsewhere, True)
        self.assertEqual(self.complete("nestplan state show -state=%s/other.db b" % self.dir, cwd=elsewhere),
                         ["builder"])

    def test_tab_creates_no_state_file(self):
        self.assertEqual(self.complete("nestplan state show "), [])
        self.assertEqual(self.complete("nestplan plan -target="), [])
        self.assertEqual(os.listdir(self.dir), [])


class TestZshCompletion(InstallTestCase, SimTestCase):
    """zsh has no way to run a completion function by hand: type into an
    interactive zsh in tmux and read the screen."""

    def setUp(self):
        InstallTestCase.setUp(self)
        for tool in ("zsh", "tmux"):
            if not shutil.which(tool):
                skip(self, "%s is missing" % tool)
        SimTestCase.setUp(self)
        self.socket = "np-zsh-%d-%d" % (os.getpid(), id(self))
        env = dict(self.env, PATH=installed("bin") + os.pathsep + self.env.get("PATH", ""))
        env.pop("TMUX", None)
        with open(os.path.join(self.dir, ".zshrc"), "w") as f:
            f.write("fpath=(%s $fpath)\nautoload -Uz compinit && compinit -u -D\nPS1='%%%% '\n"
                    % shlex.quote(installed("share", "zsh", "site-functions")))
        env["ZDOTDIR"] = self.dir
        subprocess.run(["tmux", "-L", self.socket, "new-session", "-d", "-x", "160", "-y", "40",
                        "-c", self.dir, "zsh"], env=env, check=True, timeout=10)
        path = self.tmux("display-message", "-p", "#{socket_path}").strip()
        self.addCleanup(self.kill_tmux, path)
        self.wait_screen(r"(?m)^%\s*$")

    def kill_tmux(self, path):
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)
        if path and os.path.exists(path):
            os.unlink(path)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.socket] + list(args), capture_output=True,
                              text=True, timeout=10).stdout

    def wait_screen(self, pattern, timeout=10):
        deadline = time.time() + timeout
        while True:
            screen = self.tmux("capture-pane", "-p")
            if re.search(pattern, screen):
                return screen
            if time.time() > deadline:
                self.fail("%r not on the screen:\n%s" % (pattern, screen))
            time.sleep(0.1)

    def tab(self, text, pattern):
        self.tmux("send-keys", "-l", text)
        self.tmux("send-keys", "Tab")
        screen = self.wait_screen(pattern)
        self.tmux("send-keys", "C-u")
        return screen

    def test_commands_flags_and_addresses(self):
        self.tab("nestplan pl", r"(?m)^% nestplan plan\s*$")
        self.tab("nestplan plan -det", r"(?m)^% nestplan plan -detailed-exitcode\s*$")
        with open(os.path.join(self.dir, "nestplan.yaml"), "w") as f:
            f.write("version: 1\ninstances:\n  solo: { image_id: ami-0abcdef1234567890, "
                    "instance_type: m8i.large }\n")
        self.ok("apply", "-auto-approve")
        self.tab("nestplan state show ", r"(?m)^% nestplan state show solo\s*$")
