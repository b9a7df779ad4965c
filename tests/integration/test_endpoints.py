"""Partitions, endpoints and what the client lets itself connect to, through
the real binary.

Every run that could resolve a real AWS host name, or that on a faulty
build could connect somewhere other than this machine, runs inside
`unshare -n` (a network namespace without interfaces): no packet can leave,
and the calls fail at once, which is expected; the tests read the debug log
and the error. Local servers listen on 127.0.0.1 only, on ports the OS picks.
"""
import http.server
import json
import os
import shutil
import signal
import ssl
import stat
import subprocess
import tempfile
import threading
import time
import unittest

from tests.integration.common import NESTPLAN, ROOT

CONFIG = """\
version: 1
instances:
  box: { image_id: ami-0abcdef1234567890, instance_type: m8i.large }
"""

ROWS = os.path.join(ROOT, "tests", "data", "endpoints.json")
PARTITION = {"eusc-de-east-1": "aws-eusc", "cn-north-1": "aws-cn",
             "us-iso-east-1": "aws-iso", "us-gov-west-1": "aws-us-gov"}
# Addresses nothing on this machine answers; only ever used inside unshare -n.
REMOTE = "10.255.255.1"


def _unshare_ok():
    if not shutil.which("unshare"):
        return "unshare is not installed"
    try:
        r = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "unshare -n failed: %s" % e
    return None if r.returncode == 0 else "unshare -n is not permitted here: %s" % r.stderr.decode().strip()


NO_UNSHARE = _unshare_ok()


def _botocore_missing():
    try:
        import botocore  # noqa: F401
        import botocore.session  # noqa: F401
    except ImportError:
        return "botocore is not installed: the live comparison is skipped"
    return None


def expected(service, region, fips=False, dualstack=False):
    """botocore's answer for one combination, from the committed rows."""
    with open(ROWS) as f:
        for row in json.load(f)["rows"]:
            if (row["service"], row["region"], row["fips"], row["dualstack"]) == \
                    (service, region, fips, dualstack) and "endpoint" not in row:
                return row
    raise KeyError((service, region, fips, dualstack))


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nestplan-ep-")
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("AWS_") and not k.startswith("NESTPLAN_")}
        self.env.update({
            "AWS_ACCESS_KEY_ID": "AKIDNESTPLANTEST", "AWS_SECRET_ACCESS_KEY": "test-secret",
            "AWS_CONFIG_FILE": os.path.join(self.dir, "config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.dir, "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1",
            "NESTPLAN_IN_AUTOMATION": "1", "NO_COLOR": "1",
            "NESTPLAN_LOG": "debug", "NESTPLAN_LOG_FILE": os.path.join(self.dir, "debug.log"),
        })
        for name in ("config", "credentials"):
            open(os.path.join(self.dir, name), "w").close()
        with open(os.path.join(self.dir, "nestplan.yaml"), "w") as f:
            f.write(CONFIG)
        self.cleanups = []

    def tearDown(self):
        for fn in reversed(self.cleanups):
            fn()
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_np(self, *args, isolated=True, timeout=60, env=None, prefix=()):
        """nestplan, inside `unshare -n` unless isolated is False."""
        cmd = list(prefix) + [NESTPLAN] + list(args)
        if isolated:
            cmd = ["unshare", "-n", "--"] + cmd
        open(self.env["NESTPLAN_LOG_FILE"], "w").close()
        p = subprocess.run(cmd, cwd=self.dir, env=env or self.env, capture_output=True,
                           text=True, timeout=timeout)
        with open(self.env["NESTPLAN_LOG_FILE"]) as f:
            p.log = f.read()
        return p

    def write(self, name, text, mode=0o600):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path


class TestRegions(Base):
    def test_validate_accepts_the_regions_of_every_partition(self):
        for region in ("eusc-de-east-1", "cn-north-1", "us-iso-east-1", "us-gov-west-1",
                       "us-isob-east-1", "eu-isoe-west-1", "us-isof-south-1", "us-east-1"):
            with self.subTest(region=region):
                self.write("nestplan.yaml", CONFIG.replace(
                    "version: 1\n", "version: 1\nprovider: { region: %s }\n" % region))
                p = self.run_np("validate", isolated=False)
                self.assertEqual(p.returncode, 0, p.stderr)

    def test_unknown_region_is_refused_with_a_suggestion(self):
        self.write("nestplan.yaml", CONFIG.replace(
            "version: 1\n", "version: 1\nprovider: { region: eusc-fr-east-1 }\n"))
        p = self.run_np("validate", isolated=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("did you mean 'eusc-de-east-1'", p.stderr)

    @unittest.skipIf(NO_UNSHARE, NO_UNSHARE)
    def test_region_from_the_environment_is_checked_too(self):
        self.env["AWS_REGION"] = "us-east1"
        p = self.run_np("plan")
        self.assertEqual(p.returncode, 1)
        self.assertIn("AWS_REGION 'us-east1' is not a region of any AWS partition", p.stderr)
        self.assertIn("did you mean 'us-east-1'", p.stderr)


@unittest.skipIf(NO_UNSHARE, NO_UNSHARE)
class TestEndpointsInTheLog(Base):
    def ec2_line(self, log):
        lines = [l for l in log.splitlines() if "aws: region " in l and "endpoint" in l]
        self.assertTrue(lines, log)
        return lines[0]

    def test_each_partition_logs_its_ec2_host_and_partition(self):
        for region, partition in PARTITION.items():
            for fips in (False, True):
                with self.subTest(region=region, fips=fips):
                    env = dict(self.env, AWS_REGION=region)
                    if fips:
                        env["AWS_USE_FIPS_ENDPOINT"] = "true"
                    p = self.run_np("plan", env=env)
                    self.assertEqual(p.returncode, 1, p.stderr)  # no network: expected
                    line = self.ec2_line(p.log)
                    self.assertIn("endpoint %s " % expected("ec2", region, fips)["url"], line)
                    self.assertIn("partition %s," % partition, line)

    def test_eusc_ec2_host_is_amazonaws_eu_and_gov_fips_host_is_the_standard_one(self):
        # The issue's own examples, spelt out.
        p = self.run_np("plan", env=dict(self.env, AWS_REGION="eusc-de-east-1"))
        self.assertIn("endpoint https://ec2.eusc-de-east-1.amazonaws.eu ", self.ec2_line(p.log))
        p = self.run_np("plan", env=dict(self.env, AWS_REGION="us-gov-west-1",
                                         AWS_USE_FIPS_ENDPOINT="true"))
        self.assertIn("endpoint https://ec2.us-gov-west-1.amazonaws.com ", self.ec2_line(p.log))

    def test_profile_use_fips_and_dualstack_endpoint(self):
        self.write("config", "[default]\nregion = eusc-de-east-1\nuse_fips_endpoint = true\n"
                             "use_dualstack_endpoint = true\n")
        p = self.run_np("plan")
        want = expected("ec2", "eusc-de-east-1", True, True)["url"]
        self.assertIn("endpoint %s " % want, self.ec2_line(p.log))

    def test_dualstack_where_botocore_has_none_is_refused(self):
        p = self.run_np("plan", env=dict(self.env, AWS_REGION="eu-isoe-west-1",
                                         AWS_USE_DUALSTACK_ENDPOINT="true"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("Unable to construct a modeled endpoint", p.stderr)

    def test_a_flag_that_is_not_a_boolean_is_refused(self):
        p = self.run_np("plan", env=dict(self.env, AWS_REGION="us-east-1",
                                         AWS_USE_FIPS_ENDPOINT="yes"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("AWS_USE_FIPS_ENDPOINT must be true or false", p.stderr)

    def test_web_identity_uses_the_partitions_sts_host(self):
        token = self.write("token", "eyJ.OIDC.TOKEN\n")
        for region, partition in PARTITION.items():
            for fips in (False, True):
                with self.subTest(region=region, fips=fips):
                    env = dict(self.env, AWS_REGION=region, AWS_WEB_IDENTITY_TOKEN_FILE=token,
                               AWS_ROLE_ARN="arn:%s:iam::123456789012:role/ci" % partition)
                    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
                    if fips:
                        env["AWS_USE_FIPS_ENDPOINT"] = "true"
                    p = self.run_np("plan", env=env)
                    self.assertEqual(p.returncode, 1, p.stderr)
                    sts = expected("sts", region, fips)
                    self.assertIn("AssumeRoleWithWebIdentity via STS at %s (" % sts["url"], p.log)
                    self.assertIn("partition %s, signing region %s)" % (
                        partition, sts["signing_region"]), p.log)

    def test_role_arn_of_an_unknown_partition_is_refused_before_sts(self):
        token = self.write("token", "eyJ.OIDC.TOKEN\n")
        env = dict(self.env, AWS_REGION="eusc-de-east-1", AWS_WEB_IDENTITY_TOKEN_FILE=token,
                   AWS_ROLE_ARN="arn:aws-mars:iam::123456789012:role/ci")
        del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        p = self.run_np("plan", env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("unknown partition 'aws-mars'", p.stderr)
        self.assertNotIn("via STS", p.log)


@unittest.skipIf(NO_UNSHARE, NO_UNSHARE)
class TestWhereRequestsGo(Base):
    """Issue 16 point 6: the host curl connects to is the host judged."""

    def test_userinfo_in_the_ec2_endpoint_is_refused(self):
        for url in ("http://127.0.0.1:80@%s/" % REMOTE, "https://user:pw@ec2.us-east-1.amazonaws.com/"):
            with self.subTest(url=url):
                p = self.run_np("plan", env=dict(self.env, AWS_REGION="us-east-1",
                                                 AWS_ENDPOINT_URL_EC2=url))
                self.assertEqual(p.returncode, 1)
                self.assertIn("a user name or password in the URL is not allowed", p.stderr)
                self.assertNotIn("attempt 1", p.log)  # nothing was sent

    def test_userinfo_in_the_sts_endpoint_is_refused(self):
        token = self.write("token", "eyJ.OIDC.TOKEN\n")
        env = dict(self.env, AWS_REGION="us-east-1", AWS_WEB_IDENTITY_TOKEN_FILE=token,
                   AWS_ROLE_ARN="arn:aws:iam::123456789012:role/ci",
                   AWS_ENDPOINT_URL_STS="http://127.0.0.1:80@%s/" % REMOTE)
        del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        p = self.run_np("plan", env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("a user name or password in the URL is not allowed", p.stderr)

    def test_container_credentials_url_is_judged_as_botocore_does(self):
        env = dict(self.env, AWS_REGION="us-east-1")
        del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        for url, why in (("http://127.0.0.1:80@%s/creds" % REMOTE, "user name or password"),
                         ("http://%s/creds" % REMOTE, "plain http is allowed only")):
            with self.subTest(url=url):
                p = self.run_np("plan", env=dict(env, AWS_CONTAINER_CREDENTIALS_FULL_URI=url))
                self.assertEqual(p.returncode, 1)
                self.assertIn(why, p.stderr)
        p = self.run_np("plan", env=dict(env, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="@%s/c" % REMOTE))
        self.assertIn("user name or password", p.stderr)
        # The ECS/EKS hosts are allowed: the call is made (and fails: no network).
        for url in ("http://169.254.170.2/v2/creds", "http://169.254.170.23/v1/credentials",
                    "http://[fd00:ec2::23]/v1/credentials", "http://localhost:9/creds"):
            with self.subTest(url=url):
                p = self.run_np("plan", env=dict(env, AWS_CONTAINER_CREDENTIALS_FULL_URI=url))
                self.assertEqual(p.returncode, 1)
                self.assertIn("container credentials", p.stderr)
                self.assertNotIn("refused", p.stderr)

    def test_redirects_are_never_followed(self):
        hits = []

        class Target(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                hits.append(self.path)
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Target)
        where = "http://127.0.0.1:%d/stolen" % target.server_address[1]

        class Redirect(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(307)
                self.send_header("Location", where)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        redirect = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
        for srv in (target, redirect):
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            self.cleanups.append(srv.server_close)
            self.cleanups.append(srv.shutdown)
        token = self.write("token", "eyJ.OIDC.TOKEN\n")
        url = "http://127.0.0.1:%d/" % redirect.server_address[1]
        p = self.run_np("plan", isolated=False, env=dict(self.env, AWS_REGION="us-east-1",
                                                          AWS_ENDPOINT_URL_EC2=url))
        self.assertEqual(p.returncode, 1)
        env = dict(self.env, AWS_REGION="us-east-1", AWS_WEB_IDENTITY_TOKEN_FILE=token,
                   AWS_ROLE_ARN="arn:aws:iam::123456789012:role/ci", AWS_ENDPOINT_URL_STS=url)
        del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        p = self.run_np("plan", isolated=False, env=env)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(hits, [])

    def test_no_source_file_turns_redirects_on(self):
        for path in ("src/aws/http.c", "src/aws/client.c", "src/aws/creds.c"):
            with open(os.path.join(ROOT, path)) as f:
                text = f.read()
            self.assertNotIn("CURLOPT_FOLLOWLOCATION, 1", text, path)
        with open(os.path.join(ROOT, "src/aws/http.c")) as f:
            self.assertIn("CURLOPT_FOLLOWLOCATION, 0L", f.read())


@unittest.skipIf(NO_UNSHARE, NO_UNSHARE)
class TestCredentialProcess(Base):
    def setUp(self):
        super().setUp()
        self.env["AWS_REGION"] = "us-east-1"
        del self.env["AWS_ACCESS_KEY_ID"], self.env["AWS_SECRET_ACCESS_KEY"]

    def kill_recorded(self, pidfile):
        try:
            with open(pidfile) as f:
                pids = [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def alive(self, pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # A zombie is dead too.
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"

    def test_a_hanging_credential_process_is_killed_with_its_group(self):
        pidfile = os.path.join(self.dir, "pids")
        script = self.write("hang.sh", "#!/bin/sh\nsleep 300 &\necho $$ $! > %s\nwait\n" % pidfile,
                            mode=stat.S_IRWXU)
        self.write("config", "[default]\ncredential_process = %s\n" % script)
        self.cleanups.append(lambda: self.kill_recorded(pidfile))
        self.env["NESTPLAN_CREDENTIAL_PROCESS_TIMEOUT"] = "1"
        t0 = time.time()
        p = self.run_np("plan", timeout=30)
        self.assertLess(time.time() - t0, 20)
        self.assertEqual(p.returncode, 1)
        self.assertIn("did not finish within 1 s and was killed", p.stderr)
        with open(pidfile) as f:
            pids = [int(x) for x in f.read().split()]
        deadline = time.time() + 5
        while any(self.alive(pid) for pid in pids) and time.time() < deadline:
            time.sleep(0.05)
        self.assertFalse([pid for pid in pids if self.alive(pid)], "the helper's group lives on")

    def test_credential_process_output_is_bounded(self):
        script = self.write("big.sh", "#!/bin/sh\nhead -c 3000000 /dev/zero | tr '\\0' a\n",
                            mode=stat.S_IRWXU)
        self.write("config", "[default]\ncredential_process = %s\n" % script)
        p = self.run_np("plan", timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("printed more than 1048576 bytes", p.stderr)

    def test_a_timeout_that_is_not_a_number_is_refused(self):
        script = self.write("ok.sh", "#!/bin/sh\necho '{}'\n", mode=stat.S_IRWXU)
        self.write("config", "[default]\ncredential_process = %s\n" % script)
        for bad in ("nan", "-1", "soon"):
            with self.subTest(value=bad):
                p = self.run_np("plan", env=dict(self.env,
                                                 NESTPLAN_CREDENTIAL_PROCESS_TIMEOUT=bad))
                self.assertEqual(p.returncode, 1)
                self.assertIn("NESTPLAN_CREDENTIAL_PROCESS_TIMEOUT must be", p.stderr)


@unittest.skipIf(NO_UNSHARE, NO_UNSHARE)
class TestRateLimitSetting(Base):
    def test_out_of_range_factors_are_refused(self):
        env = dict(self.env, AWS_REGION="us-east-1", AWS_ENDPOINT_URL_EC2="http://127.0.0.1:9/")
        for bad in ("1e-5", "nan", "inf", "-1", "0", "2x"):
            with self.subTest(value=bad):
                p = self.run_np("plan", env=dict(env, NESTPLAN_RATE_LIMIT=bad), timeout=30)
                self.assertEqual(p.returncode, 1)
                self.assertIn("NESTPLAN_RATE_LIMIT='%s' refused" % bad, p.stderr)
        for good in ("off", "OFF", "2", "0.5"):
            with self.subTest(value=good):
                p = self.run_np("plan", env=dict(env, NESTPLAN_RATE_LIMIT=good), timeout=30)
                self.assertNotIn("NESTPLAN_RATE_LIMIT", p.stderr)
                self.assertIn("attempt 1", p.log)  # it went on to call EC2


def _make_cert(directory):
    """A self-signed certificate for 127.0.0.1, or None without openssl."""
    if not shutil.which("openssl"):
        return None
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       capture_output=True, timeout=60)
    return (cert, key) if r.returncode == 0 else None


class TestCaBundle(Base):
    """Issue 16 point 13: the profile's ca_bundle (and AWS_CA_BUNDLE) is what
    TLS is verified with."""

    def setUp(self):
        super().setUp()
        pair = _make_cert(self.dir)
        if not pair:
            self.skipTest("openssl cannot make a test certificate")
        self.cert, key = pair
        self.hits = hits = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hits.append(self.path)
                body = b"<Response><Errors><Error><Code>AuthFailure</Code><Message>test</Message></Error></Errors></Response>"
                self.send_response(401)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.cleanups.append(srv.server_close)
        self.cleanups.append(srv.shutdown)
        self.env.update({"AWS_REGION": "us-east-1",
                         "AWS_ENDPOINT_URL_EC2": "https://127.0.0.1:%d/" % srv.server_address[1]})

    def test_without_the_bundle_tls_fails(self):
        p = self.run_np("plan", isolated=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(self.hits, [])

    def test_profile_ca_bundle_is_honoured(self):
        self.write("config", "[default]\nca_bundle = %s\n" % self.cert)
        p = self.run_np("plan", isolated=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("AuthFailure", p.stderr)  # TLS worked: EC2's answer came back
        self.assertEqual(len(self.hits), 1)

    def test_aws_ca_bundle_wins_over_the_profile(self):
        self.write("config", "[default]\nca_bundle = /nonexistent.pem\n")
        p = self.run_np("plan", isolated=False, env=dict(self.env, AWS_CA_BUNDLE=self.cert))
        self.assertIn("AuthFailure", p.stderr)
        self.assertEqual(len(self.hits), 1)


@unittest.skipUnless(hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("setpriv"),
                     "needs root and setpriv to run nestplan as another user")
class TestNoCoreDump(Base):
    """Once credentials are loaded the process is not dumpable: the kernel
    then gives the files under /proc/PID to root (proc(5), PR_SET_DUMPABLE),
    which shows from outside when nestplan runs as another user."""

    def test_the_process_is_not_dumpable_while_it_holds_credentials(self):
        os.chmod(self.dir, 0o777)
        for name in os.listdir(self.dir):
            os.chmod(os.path.join(self.dir, name), 0o666)
        binary = os.path.join(self.dir, "nestplan")
        shutil.copy(NESTPLAN, binary)
        os.chmod(binary, 0o755)
        arrived, release = threading.Event(), threading.Event()

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                arrived.set()
                release.wait(30)
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.cleanups.append(srv.server_close)
        self.cleanups.append(srv.shutdown)
        self.cleanups.append(release.set)
        env = dict(self.env, AWS_REGION="us-east-1", HOME=self.dir,
                   AWS_ENDPOINT_URL_EC2="http://127.0.0.1:%d/" % srv.server_address[1])
        proc = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 binary, "plan"], cwd=self.dir, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.assertTrue(arrived.wait(30), "nestplan never called EC2")
            with open("/proc/%d/status" % proc.pid) as f:
                status = f.read()
            self.assertIn("65534", [l.split()[1] for l in status.splitlines() if l.startswith("Uid:")])
            owner = os.stat("/proc/%d/status" % proc.pid).st_uid
            self.assertEqual(owner, 0, "/proc/PID/status of a dumpable process of uid 65534 is "
                                       "owned by 65534")
        finally:
            release.set()
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


@unittest.skipIf(_botocore_missing(), _botocore_missing())
@unittest.skipIf(NO_UNSHARE, NO_UNSHARE)
class TestAgainstLiveBotocore(unittest.TestCase):
    """The rows regenerated from the installed botocore, inside unshare -n."""

    @classmethod
    def setUpClass(cls):
        r = subprocess.run(["unshare", "-n", "--", "python3",
                            os.path.join(ROOT, "tools", "gen_endpoint_cases.py")],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise AssertionError("gen_endpoint_cases.py failed: %s" % r.stderr)
        cls.live = json.loads(r.stdout)
        with open(ROWS) as f:
            cls.committed = json.load(f)

    def test_committed_rows_are_what_this_botocore_answers(self):
        if self.live["botocore"] != self.committed["botocore"]:
            self.skipTest("botocore %s here, rows from %s: the next test checks the resolver "
                          "against this one" % (self.live["botocore"], self.committed["botocore"]))
        self.assertEqual(self.live["rows"], self.committed["rows"])

    def test_the_resolver_answers_every_live_row_as_botocore(self):
        unit = os.environ.get("UNIT_TESTS") or os.path.join(ROOT, "build", "tests", "unit_tests")
        if not os.path.exists(unit):
            self.skipTest("no unit test binary at %s (make build/tests/unit_tests)" % unit)
        path = tempfile.mktemp(prefix="nestplan-live-rows-", suffix=".json")
        with open(path, "w") as f:
            json.dump(self.live, f)
        try:
            r = subprocess.run([unit], cwd=ROOT, capture_output=True, text=True, timeout=120,
                               env=dict(os.environ, CK_RUN_SUITE="endpoints",
                                        NESTPLAN_ENDPOINT_CASES=path))
        finally:
            os.unlink(path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("100%", r.stdout)


if __name__ == "__main__":
    unittest.main()
