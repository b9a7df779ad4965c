"""The EC2 client through the real binary: retries under faults, a clear
error for bad credentials, refreshed temporary credentials, no secret in logs."""
import os
import stat
import time

from tests.integration.common import SimTestCase

CONFIG = """\
version: 1
instances:
  box: { image_id: ami-0abcdef1234567890, instance_type: m8i.large }
"""


class TestClient(SimTestCase):
    sim_args = {"transition_seconds": 0.1, "seed": 42}

    def test_every_call_gets_through_throttling_5xx_and_resets(self):
        self.write_config(CONFIG)
        self.env["AWS_MAX_ATTEMPTS"] = "12"
        self.sim.faults(throttle_rate=0.15, error_rate=0.1, reset_rate=0.05)
        r = self.ok("apply", "-auto-approve", timeout=300)
        self.assertIn("1 added", r.out)
        # Stop, modify type and CPU options, start, tag: every mutating call under faults.
        self.write_config(CONFIG.replace(
            "instance_type: m8i.large",
            "instance_type: m8i.xlarge, cpu_options: { nested_virtualization: enabled }, "
            "tags: { team: ci }"))
        r = self.ok("apply", "-auto-approve", timeout=300)
        self.assertIn("1 changed", r.out)
        self.ok("destroy", "-auto-approve", timeout=300)
        self.ok("apply", "-auto-approve", timeout=300)
        self.sim.faults(throttle_rate=0.0, error_rate=0.0, reset_rate=0.0)
        self.assertEqual(len(self.live()), 1)
        box = self.live()["box"]
        self.assertEqual((box["instance_type"], box["nested_virtualization"], box["tags"]["team"]),
                         ("m8i.xlarge", "enabled", "ci"))
        stats = self.sim.stats()
        self.assertGreater(sum(stats["throttled"].values()), 0)
        self.assert_state_matches_sim()

    def test_a_permanent_fault_ends_in_a_clear_error_not_a_hang(self):
        self.write_config(CONFIG)
        self.sim.faults(error_rate=1.0)
        t0 = time.time()
        r = self.ok("plan", rc=1, timeout=120)
        self.assertIn("InternalError", r.err)
        self.assertLess(time.time() - t0, 60)

    def test_wrong_secret_is_a_clear_auth_error_without_retries(self):
        self.write_config(CONFIG)
        self.env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
        before = len(self.sim.calls())
        r = self.ok("plan", rc=1)
        self.assertIn("AuthFailure", r.err)
        self.assertIn("clock", r.err)  # the hint
        tried = self.sim.calls()[before:]
        self.assertEqual([c["status"] for c in tried], [401])  # one try, no retry loop

    def test_plain_http_to_a_remote_endpoint_is_refused(self):
        self.write_config(CONFIG)
        self.env["AWS_ENDPOINT_URL_EC2"] = "http://ec2.example.com/"
        r = self.ok("plan", rc=1)
        self.assertIn("plain http", r.err)

    def test_expiring_process_credentials_are_refreshed(self):
        self.write_config(CONFIG)
        counter = os.path.join(self.dir, "count")
        script = os.path.join(self.dir, "creds.sh")
        with open(script, "w") as f:
            # Expires in 2 minutes: inside the 5-minute margin, so every call refreshes.
            f.write("#!/bin/sh\necho x >> %s\n"
                    "exp=$(date -u -d '+2 minutes' +%%Y-%%m-%%dT%%H:%%M:%%SZ)\n"
                    "printf '{\"Version\":1,\"AccessKeyId\":\"AKIDNESTPLANSIM\","
                    "\"SecretAccessKey\":\"nestplan-sim-secret\",\"SessionToken\":\"tok\","
                    "\"Expiration\":\"%%s\"}' \"$exp\"\n" % counter)
        os.chmod(script, stat.S_IRWXU)
        with open(self.env["AWS_CONFIG_FILE"], "w") as f:
            f.write("[default]\ncredential_process = %s\n" % script)
        del self.env["AWS_ACCESS_KEY_ID"]
        del self.env["AWS_SECRET_ACCESS_KEY"]
        try:
            self.ok("plan")
            with open(counter) as f:
                self.assertGreaterEqual(len(f.readlines()), 2)
        finally:
            open(self.env["AWS_CONFIG_FILE"], "w").close()

    def test_trace_log_never_shows_secret_or_session_token(self):
        self.write_config(CONFIG.replace("instance_type: m8i.large",
                                         "instance_type: m8i.large, user_data: 'password=hunter2'"))
        self.env["AWS_SESSION_TOKEN"] = "SESSIONTOKENSECRETVALUE"
        self.env["NESTPLAN_LOG"] = "trace"
        log = os.path.join(self.dir, "trace.log")
        self.env["NESTPLAN_LOG_FILE"] = log
        r = self.ok("apply", "-auto-approve")
        with open(log) as f:
            text = f.read()
        self.assertIn("RunInstances", text)  # trace really logged the calls
        outputs = [text, r.out, r.err, self.ok("show", "-json").out,
                   self.ok("plan", "-json").out]
        with open(os.path.join(self.dir, "nestplan.db"), "rb") as f:
            outputs.append(f.read().decode("latin-1"))
        for out in outputs:
            self.assertNotIn("nestplan-sim-secret", out)
            self.assertNotIn("SESSIONTOKENSECRETVALUE", out)
            self.assertNotIn("hunter2", out)


    def test_no_secret_in_any_output_log_level_plan_file_or_state(self):
        secrets = ("nestplan-sim-secret", "SESSIONTOKENSECRETVALUE", "hunter2")
        self.write_config(CONFIG.replace("instance_type: m8i.large",
                                         "instance_type: m8i.large, user_data: 'password=hunter2'"))
        self.env["AWS_SESSION_TOKEN"] = "SESSIONTOKENSECRETVALUE"
        seen = []
        for level in ("error", "warn", "info", "debug", "trace"):
            env = dict(self.env, NESTPLAN_LOG=level,
                       NESTPLAN_LOG_FILE=os.path.join(self.dir, level + ".log"))
            for args in (("plan", "-out=plan.bin"), ("plan", "-json"), ("apply", "-json", "plan.bin"),
                         ("drift", "-json"), ("drift", "-format=junit"), ("show", "-json"),
                         ("show", "-json", "plan.bin"), ("show", "-history", "-json"),
                         ("destroy", "-auto-approve", "-json")):
                r = self.np(*args, env=env)
                seen += [r.out, r.err]
        # Errors: EC2 refusing the key, and a damaged credentials file holding it.
        r = self.np("plan", env=dict(self.env, AWS_SECRET_ACCESS_KEY="hunter2-wrong"))
        self.assertEqual(r.rc, 1)
        seen += [r.out, r.err]
        creds = os.path.join(self.dir, "credentials")
        with open(creds, "w") as f:
            f.write("[default]\naws_access_key_id AKIDNESTPLANSIM\n"
                    "aws_secret_access_key nestplan-sim-secret\n")
        env = dict(self.env, AWS_SHARED_CREDENTIALS_FILE=creds)
        del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]
        r = self.np("plan", env=env)
        self.assertEqual(r.rc, 1)
        seen += [r.out, r.err]
        for name in sorted(os.listdir(self.dir)):
            path = os.path.join(self.dir, name)
            if name in ("credentials", "nestplan.yaml") or not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                seen.append(f.read().decode("latin-1"))
        self.assertTrue(any("RunInstances" in text for text in seen))  # the logs logged
        for text in seen:
            for secret in secrets:
                self.assertNotIn(secret, text)


class _CredServer:
    """STS (AssumeRoleWithWebIdentity) and container-credential endpoints on
    127.0.0.1, answering with the simulator's keys as temporary credentials."""

    def __init__(self):
        import http.server
        import threading
        import urllib.parse

        seen = self.seen = []

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, ctype, body):
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                form = dict(urllib.parse.parse_qsl(
                    self.rfile.read(int(self.headers["Content-Length"])).decode()))
                seen.append(("sts", form))
                self.reply("text/xml", (
                    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                    "<AssumeRoleWithWebIdentityResult><Credentials>"
                    "<AccessKeyId>AKIDNESTPLANSIM</AccessKeyId>"
                    "<SecretAccessKey>nestplan-sim-secret</SecretAccessKey>"
                    "<SessionToken>webtoken</SessionToken>"
                    "<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>"
                    "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"))

            def do_PUT(self):
                seen.append(("imds-token", self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")))
                self.reply("text/plain", "IMDSTOKEN")

            def do_GET(self):
                if self.path.startswith("/latest/meta-data/iam/security-credentials/"):
                    if self.headers.get("X-aws-ec2-metadata-token") != "IMDSTOKEN":
                        self.send_response(401)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    role = self.path.rsplit("/", 1)[1]
                    if not role:
                        seen.append(("imds-role", None))
                        return self.reply("text/plain", "runner-role")
                    seen.append(("imds-creds", role))
                    return self.reply("application/json",
                                      '{"Code": "Success", "AccessKeyId": "AKIDNESTPLANSIM", '
                                      '"SecretAccessKey": "nestplan-sim-secret", "Token": "itok", '
                                      '"Expiration": "2099-01-01T00:00:00Z"}')
                seen.append(("container", self.headers.get("Authorization")))
                self.reply("application/json",
                           '{"AccessKeyId": "AKIDNESTPLANSIM", "SecretAccessKey": '
                           '"nestplan-sim-secret", "Token": "ctok", '
                           '"Expiration": "2099-01-01T00:00:00Z"}')

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class TestCredentialSources(SimTestCase):
    def setUp(self):
        super().setUp()
        self.creds = _CredServer()
        self.write_config(CONFIG)
        del self.env["AWS_ACCESS_KEY_ID"]
        del self.env["AWS_SECRET_ACCESS_KEY"]

    def tearDown(self):
        self.creds.close()
        super().tearDown()

    def test_web_identity_for_oidc_pipelines(self):
        token = os.path.join(self.dir, "oidc-token")
        with open(token, "w") as f:
            f.write("eyJhbGciOi.OIDC.TOKEN\n")
        self.env.update({"AWS_WEB_IDENTITY_TOKEN_FILE": token,
                         "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/ci",
                         "AWS_ENDPOINT_URL_STS": self.creds.url + "/"})
        self.ok("plan")
        kind, form = self.creds.seen[0]
        self.assertEqual(kind, "sts")
        self.assertEqual(form["Action"], "AssumeRoleWithWebIdentity")
        self.assertEqual(form["WebIdentityToken"], "eyJhbGciOi.OIDC.TOKEN")
        self.assertEqual(form["RoleArn"], "arn:aws:iam::123456789012:role/ci")

    def test_container_credentials(self):
        self.env.update({"AWS_CONTAINER_CREDENTIALS_FULL_URI": self.creds.url + "/creds",
                         "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer abc"})
        self.ok("plan")
        self.assertEqual(self.creds.seen[0], ("container", "Bearer abc"))

    def test_imds_v2_token_first(self):
        self.env["AWS_EC2_METADATA_DISABLED"] = "false"
        self.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = self.creds.url
        self.ok("plan")
        kinds = [k for k, _ in self.creds.seen]
        self.assertEqual(kinds[:3], ["imds-token", "imds-role", "imds-creds"])
        self.assertEqual(self.creds.seen[2], ("imds-creds", "runner-role"))

    def test_assume_role_with_source_profile(self):
        with open(self.env["AWS_SHARED_CREDENTIALS_FILE"], "w") as f:
            f.write("[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = basesecret\n")
        with open(self.env["AWS_CONFIG_FILE"], "w") as f:
            f.write("[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/deploy\n"
                    "source_profile = base\n")
        self.env.update({"AWS_PROFILE": "deploy", "AWS_ENDPOINT_URL_STS": self.creds.url + "/"})
        try:
            self.ok("plan")
        finally:
            open(self.env["AWS_SHARED_CREDENTIALS_FILE"], "w").close()
            open(self.env["AWS_CONFIG_FILE"], "w").close()
        kind, form = self.creds.seen[0]
        self.assertEqual((kind, form["Action"], form["RoleArn"]),
                         ("sts", "AssumeRole", "arn:aws:iam::123456789012:role/deploy"))

    def test_environment_wins_over_web_identity(self):
        self.env.update({"AWS_ACCESS_KEY_ID": "AKIDNESTPLANSIM",
                         "AWS_SECRET_ACCESS_KEY": "nestplan-sim-secret",
                         "AWS_WEB_IDENTITY_TOKEN_FILE": "/nonexistent",
                         "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/ci"})
        self.ok("plan")
        self.assertEqual(self.creds.seen, [])

    def test_nothing_found_lists_where_it_looked(self):
        r = self.ok("plan", rc=1)
        self.assertIn("no AWS credentials found", r.err)
        self.assertIn("web identity", r.err)
