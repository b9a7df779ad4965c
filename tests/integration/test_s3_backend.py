"""The S3 state backend end to end: separate working directories stand for
separate runners (no shared disk) on one state in S3, against the EC2
simulator and the S3 stand-in (tests/s3sim), and against moto's S3 where
moto is installed."""
import base64
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
import unittest

from tests.ec2sim.harness import Simulator
from tests.integration.common import NESTPLAN
from tests.s3sim.harness import S3Simulator
from tests.conformance import moto_ec2

BUCKET = "team-state"
KEY = "mobile-ci/nestplan.db"
SECRET = "nestplan-sim-secret"
TOKEN = "FQoGZXIvYXdzEXAMPLESESSIONTOKENnestplan"
USER_DATA_SECRET = "hunter2-user-data-must-not-leave"

CONFIG = """\
version: 1
provider: {{ region: us-east-1 }}
backend:
  s3: {{ bucket: {bucket}, key: {key}, region: us-east-1, endpoint: {endpoint} }}
defaults: {{ image_id: ami-0abcdef1234567890 }}
instances:
  runner:
    count: {count}
    instance_type: {itype}
    cpu_options: {{ nested_virtualization: enabled }}
    user_data: |
      #!/bin/sh
      echo {secret}
"""


class Result:
    def __init__(self, proc):
        self.rc, self.out, self.err = proc.returncode, proc.stdout, proc.stderr

    def __repr__(self):
        return "rc=%s\nstdout:\n%s\nstderr:\n%s" % (self.rc, self.out, self.err)


class Runner:
    """One working directory: a CI runner of its own."""

    def __init__(self, case, name):
        self.case = case
        self.dir = tempfile.mkdtemp(prefix="nestplan-s3-%s-" % name)
        case.addCleanup(shutil.rmtree, self.dir, True)

    def config(self, count=2, itype="m8i.large", endpoint=None, **kw):
        text = CONFIG.format(bucket=kw.get("bucket", BUCKET), key=kw.get("key", KEY),
                             endpoint=endpoint or self.case.s3_url, count=count, itype=itype,
                             secret=USER_DATA_SECRET)
        with open(os.path.join(self.dir, "nestplan.yaml"), "w") as f:
            f.write(text)

    def env(self, extra=None):
        env = dict(self.case.env)
        env.update(extra or {})
        return env

    def np(self, *args, env=None, timeout=120, binary=False):
        p = subprocess.run([NESTPLAN] + list(args), cwd=self.dir, env=self.env(env),
                           capture_output=True, text=not binary, timeout=timeout)
        return Result(p)

    def ok(self, *args, rc=0, **kw):
        r = self.np(*args, **kw)
        self.case.assertEqual(r.rc, rc, r)
        return r

    def start(self, *args, env=None):
        p = subprocess.Popen([NESTPLAN] + list(args), cwd=self.dir, env=self.env(env),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
        self.case.addCleanup(_reap, p)
        return p


def _reap(p):
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
    p.communicate()


class BackendCase(unittest.TestCase):
    """Both simulators per class; each test its own bucket contents."""

    sim_args = {"transition_seconds": 0.2}

    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator(**cls.sim_args)
        cls.sim.__enter__()
        cls.start_s3()

    @classmethod
    def tearDownClass(cls):
        cls.stop_s3()
        cls.sim.__exit__(None, None, None)

    @classmethod
    def start_s3(cls):
        cls.s3 = S3Simulator(versioned_bucket=BUCKET, require_sse=True, session_token=TOKEN)
        cls.s3.__enter__()
        cls.s3_url = cls.s3.url

    @classmethod
    def stop_s3(cls):
        cls.s3.__exit__(None, None, None)

    def reset_s3(self):
        self.s3.reset()

    def setUp(self):
        self.sim.reset()
        self.reset_s3()
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("AWS_") and not k.startswith("NESTPLAN_")}
        self.env.update(self.sim.env())
        self.env.update({"AWS_SESSION_TOKEN": TOKEN, "NESTPLAN_IN_AUTOMATION": "1",
                         "NO_COLOR": "1", "NESTPLAN_S3_LOCK_LEASE": "3"})
        self.env.pop("AWS_ENDPOINT_URL_S3", None)
        # The private copies of the state go here, so a killed run leaves nothing behind.
        self.tmpdir = tempfile.mkdtemp(prefix="nestplan-s3-tmp-")
        self.addCleanup(shutil.rmtree, self.tmpdir, True)
        self.env["TMPDIR"] = self.tmpdir

    # -- what is in S3 --------------------------------------------------------------
    def objects(self):
        return self.s3.objects(bucket=BUCKET, bodies=True)["objects"]

    def current(self, key):
        for o in self.objects():
            if o["key"] == key and o["is_latest"] and not o["delete_marker"]:
                return o
        return None

    def state_puts(self):
        return sum(1 for r in self.s3.requests()
                   if r["op"] == "PutObject" and r["key"] == KEY and r["status"] == 200)

    def live(self):
        return [i for i in self.sim.instances()
                if i["state"] not in ("terminated", "shutting-down")]

    def wait_for(self, what, cond, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            v = cond()
            if v:
                return v
            time.sleep(0.05)
        self.fail("timed out waiting for " + what)


class S3BackendTest(BackendCase):
    def test_init_apply_show_from_another_directory(self):
        a, c = Runner(self, "a"), Runner(self, "c")
        a.config(count=2)
        a.ok("init")
        self.assertIsNotNone(self.current(KEY))
        self.assertIsNone(self.current(KEY + ".lock"), "the lock is released")
        a.ok("apply", "-auto-approve")
        self.assertEqual(len(self.live()), 2)
        # A third directory, with the state named on the command line only.
        r = c.ok("show", "-json", env={"NESTPLAN_STATE": "s3://%s/%s" % (BUCKET, KEY),
                                       "AWS_ENDPOINT_URL_S3": self.s3_url})
        self.assertEqual(sorted(x["address"] for x in r.out and __import__("json").loads(r.out)["resources"]),
                         ["runner[0]", "runner[1]"])
        c.config(count=2)
        c.ok("plan", "-detailed-exitcode")            # 0: nothing to change
        c.ok("drift", "-lock=false")                  # reads, never writes
        r = c.np("apply", "-auto-approve", "-lock=false")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("-lock=false refused", r.err)
        self.assertFalse(os.path.exists(os.path.join(c.dir, "nestplan.db")),
                         "no local state is made beside an S3 backend")
        self.assertEqual(os.listdir(self.tmpdir), [], "the private copies are removed")
        # Every write is encrypted at rest and conditional.
        for r in self.s3.requests():
            if r["op"] == "PutObject":
                self.assertEqual(r["headers"].get("x-amz-server-side-encryption"), "AES256", r)
                self.assertTrue("If-Match" in r["headers"] or "If-None-Match" in r["headers"], r)
            if r["op"] == "DeleteObject":
                self.assertIn("If-Match", r["headers"], r)

    def test_two_applies_at_once_one_waits_nothing_lost(self):
        a, b = Runner(self, "a"), Runner(self, "b")
        a.config(count=3)
        b.config(count=3)
        self.sim.faults(latency_ms=150)
        pa = a.start("apply", "-auto-approve")
        self.wait_for("a's lock", lambda: self.current(KEY + ".lock"))
        # Without waiting: refused, naming the holder, its operation and age.
        r = b.np("apply", "-auto-approve")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("is locked by", r.err)
        self.assertIn("'apply'", r.err)
        self.assertRegex(r.err, r"\w+@\S+ \(pid %d" % pa.pid)
        # Waiting: it runs after a, and finds nothing left to do.
        pb = b.start("apply", "-auto-approve", "-lock-timeout=60s")
        out_a, err_a = pa.communicate(timeout=120)
        out_b, err_b = pb.communicate(timeout=120)
        self.sim.faults(latency_ms=0)
        self.assertEqual(pa.returncode, 0, err_a)
        self.assertEqual(pb.returncode, 0, err_b)
        self.assertEqual(len(self.live()), 3, "no duplicate launch")
        r = b.ok("show", "-json")
        self.assertEqual(len(__import__("json").loads(r.out)["resources"]), 3)

    def test_sigkill_mid_cycle_lock_expires_other_runner_converges(self):
        a, b = Runner(self, "a"), Runner(self, "b")
        a.config(count=2)
        a.ok("apply", "-auto-approve")
        ids = sorted(i["instance_id"] for i in self.live())
        a.config(count=2, itype="m8i.xlarge")
        b.config(count=2, itype="m8i.xlarge")
        self.sim.faults(latency_ms=100)
        pa = a.start("apply", "-auto-approve", env={"NESTPLAN_S3_LOCK_LEASE": "2"})
        self.wait_for("a stopped instance",
                      lambda: any(i["state"] in ("stopping", "stopped") for i in self.live()))
        os.killpg(pa.pid, signal.SIGKILL)
        pa.communicate()
        self.sim.faults(latency_ms=0)
        lock = self.current(KEY + ".lock")
        self.assertIsNotNone(lock, "a killed run leaves its lock")
        r = b.np("plan")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("is locked by", r.err)
        # Its lease runs out; the next run takes the lock over by a conditional overwrite.
        r = b.ok("apply", "-auto-approve", "-lock-timeout=30s")
        self.assertIn("lease had expired", r.err)
        live = self.live()
        self.assertEqual(sorted(i["instance_id"] for i in live), ids, "no duplicate, no loss")
        for i in live:
            self.assertEqual(i["state"], "running", i)
            self.assertEqual(i["instance_type"], "m8i.xlarge", i)
        b.ok("plan", "-detailed-exitcode")
        self.assertIsNone(self.current(KEY + ".lock"))

    def test_sigkill_after_the_first_modification_converges_elsewhere(self):
        # Killed between the modifications of a cycle, whose calls upload nothing first.
        a, b = Runner(self, "a"), Runner(self, "b")
        a.config(count=2)
        a.ok("apply", "-auto-approve")
        ids = sorted(i["instance_id"] for i in self.live())
        a.config(count=2, itype="m8i.xlarge")
        b.config(count=2, itype="m8i.xlarge")
        self.sim.faults(stall={"action": "ModifyInstanceCpuOptions", "nth": 1, "seconds": 30})
        pa = a.start("apply", "-auto-approve", env={"NESTPLAN_S3_LOCK_LEASE": "2"})
        self.wait_for("the first modification",
                      lambda: any(c["action"] == "ModifyInstanceAttribute"
                                  for c in self.sim.calls()))
        time.sleep(0.5)  # the next call of the cycle is held by the stall
        os.killpg(pa.pid, signal.SIGKILL)
        pa.communicate()
        self.sim.faults(stall=None)
        b.ok("apply", "-auto-approve", "-lock-timeout=30s")
        live = self.live()
        self.assertEqual(sorted(i["instance_id"] for i in live), ids)
        for i in live:
            self.assertEqual((i["state"], i["instance_type"]), ("running", "m8i.xlarge"), i)
        b.ok("plan", "-detailed-exitcode")

    def test_force_unlock_of_a_dead_holder(self):
        a, b = Runner(self, "a"), Runner(self, "b")
        a.config(count=1)
        b.config(count=1)
        a.ok("init")
        self.sim.faults(latency_ms=400)
        pa = a.start("apply", "-auto-approve", env={"NESTPLAN_S3_LOCK_LEASE": "60"})
        lock = self.wait_for("a's lock", lambda: self.current(KEY + ".lock"))
        os.killpg(pa.pid, signal.SIGKILL)
        pa.communicate()
        self.sim.faults(latency_ms=0)
        lock_id = __import__("json").loads(base64.b64decode(lock["body_b64"]))["id"]
        r = b.np("apply", "-auto-approve")
        self.assertEqual(r.rc, 1, r)
        self.assertIn(lock_id, r.err)
        self.assertIn("expires in", r.err)
        # Live (lease of 60 s): only with -force.
        r = b.np("force-unlock", "-input=false", lock_id)
        self.assertEqual(r.rc, 1, r)
        r = b.np("force-unlock", "-force", "wrong-id")
        self.assertEqual(r.rc, 1, r)
        self.assertIn(lock_id, r.err)
        b.ok("force-unlock", "-force", lock_id)
        self.assertIsNone(self.current(KEY + ".lock"))
        b.ok("apply", "-auto-approve")
        self.assertEqual(len(self.live()), 1, "the killed run's launch is resumed, not doubled")

    def test_state_replaced_behind_our_back_is_not_overwritten(self):
        a, other = Runner(self, "a"), Runner(self, "other")
        a.config(count=2)
        a.ok("init")
        other.config(count=1, key="other/nestplan.db")
        other.ok("init")
        foreign = base64.b64decode(self.current("other/nestplan.db")["body_b64"])
        self.sim.faults(latency_ms=300)
        pa = a.start("apply", "-auto-approve")
        self.wait_for("a's lock", lambda: self.current(KEY + ".lock"))
        self.s3.replace_object(BUCKET, KEY, foreign)
        out, err = pa.communicate(timeout=120)
        self.sim.faults(latency_ms=0)
        self.assertNotEqual(pa.returncode, 0, err)
        self.assertIn("refusing to overwrite it", err)
        self.assertEqual(base64.b64decode(self.current(KEY)["body_b64"]), foreign,
                         "the replacement stays")

    def test_s3_faults_412_409_503_and_dropped_connections(self):
        a = Runner(self, "a")
        a.config(count=2)
        # A lost answer of the state's first write: the retry's 412 is our own write.
        self.s3.faults(lose_response={"op": "PutObject", "nth": 2})
        a.ok("init")
        self.s3.faults(lose_response=None,
                       action_errors={"PutObject": {"code": "ConditionalRequestConflict",
                                                    "status": 409, "count": 2}})
        a.ok("apply", "-auto-approve")
        # 503 SlowDown and 500 on reads and on the lock's release: retried.
        self.s3.faults(action_errors={"GetObject": {"code": "SlowDown", "status": 503, "count": 2},
                                      "DeleteObject": {"code": "InternalError", "status": 500,
                                                       "count": 1}})
        a.config(count=3)
        a.ok("apply", "-auto-approve")
        # Random throttling and dropped connections on everything.
        self.s3.faults(action_errors={}, throttle_rate=0.2, reset_rate=0.1)
        a.ok("plan", env={"AWS_MAX_ATTEMPTS": "10"})
        self.s3.faults(throttle_rate=0, reset_rate=0)
        self.assertEqual(len(self.live()), 3)
        r = a.ok("show", "-json")
        self.assertEqual(len(__import__("json").loads(r.out)["resources"]), 3)
        stats = self.s3.stats()
        self.assertGreater(sum(stats["throttled"].values()), 0, stats)
        codes = {r["code"] for r in self.s3.requests()}
        self.assertIn("ConditionalRequestConflict", codes)
        self.assertIsNone(self.current(KEY + ".lock"))

    def test_no_secret_token_or_user_data_in_any_object(self):
        a = Runner(self, "a")
        a.config(count=2)
        a.ok("apply", "-auto-approve")
        a.ok("state", "pull", binary=True)
        bodies = [base64.b64decode(o["body_b64"]) for o in self.objects()
                  if not o["delete_marker"]]
        self.assertGreater(len(bodies), 2)
        for body in bodies:
            for needle in (SECRET, TOKEN, USER_DATA_SECRET, "AKIDNESTPLANSIM"):
                self.assertNotIn(needle.encode(), body)

    def test_state_pull_and_push_lineage_and_serial(self):
        a, b = Runner(self, "a"), Runner(self, "b")
        a.config(count=1)
        a.ok("apply", "-auto-approve")
        r = a.np("state", "pull", binary=True)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.out, base64.b64decode(self.current(KEY)["body_b64"]))
        self.assertTrue(r.out.startswith(b"SQLite format 3\0"))
        pulled = os.path.join(a.dir, "pulled.db")
        with open(pulled, "wb") as f:
            f.write(r.out)
        a.ok("state", "push", pulled)              # same lineage and serial: allowed
        # Another lineage: refused, unless -force.
        b.ok("init", "-state=" + os.path.join(b.dir, "local.db"))
        r = a.np("state", "push", os.path.join(b.dir, "local.db"))
        self.assertEqual(r.rc, 1, r)
        self.assertIn("another lineage", r.err)
        # A lower serial: refused.
        a.config(count=2)
        a.ok("apply", "-auto-approve")
        r = a.np("state", "push", pulled)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("refusing to go back", r.err)
        a.ok("state", "push", "-force", pulled)
        r = a.ok("show", "-json")
        self.assertEqual(len(__import__("json").loads(r.out)["resources"]), 1)

    def test_init_migrate_state_and_history_on_a_versioned_bucket(self):
        a, b = Runner(self, "a"), Runner(self, "b")
        # A local state first, as before the backend existed.
        with open(os.path.join(a.dir, "nestplan.yaml"), "w") as f:
            f.write(textwrap.dedent("""\
                version: 1
                provider: { region: us-east-1 }
                instances:
                  web: { image_id: ami-0abcdef1234567890, instance_type: m8i.large }
                """))
        a.ok("apply", "-auto-approve")
        local = a.ok("show", "-json")
        a.config(count=1)
        # A plan in the new backend makes an empty remote state: one a migration may replace.
        a.ok("plan")
        a.ok("init", "-migrate-state")
        b.config(count=1)
        remote = b.ok("show", "-json")
        self.assertEqual(__import__("json").loads(remote.out)["lineage"],
                         __import__("json").loads(local.out)["lineage"])
        r = b.ok("show", "-history")
        self.assertIn("apply", r.out)
        # Another local state cannot be moved over it.
        c = Runner(self, "c")
        c.ok("init")
        c.config(count=1)
        r = c.np("init", "-migrate-state")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("another lineage", r.err)
        # The bucket's earlier versions are the backups.
        versions = [o for o in self.objects() if o["key"] == KEY and not o["delete_marker"]]
        self.assertGreaterEqual(len(versions), 1)

    def test_fifty_instances_cost_few_state_uploads(self):
        a = Runner(self, "a")
        a.config(count=50)
        a.ok("init")
        before = self.state_puts()
        a.ok("apply", "-auto-approve", timeout=300)
        launch = self.state_puts() - before
        self.assertEqual(len(self.live()), 50)
        a.config(count=50, itype="m8i.xlarge")
        before = self.state_puts()
        a.ok("apply", "-auto-approve", timeout=300)
        change = self.state_puts() - before
        self.assertTrue(all(i["instance_type"] == "m8i.xlarge" and i["state"] == "running"
                            for i in self.live()))
        print("\nS3 backend, state uploads: %d for launching 50 instances, %d for changing the "
              "type of 50 (stop/modify/start)" % (launch, change))
        # Batched: before the calls that need it (one per batch), and at the end;
        # never one per instance.
        self.assertLessEqual(launch, 4)
        self.assertLessEqual(change, 6)

    def test_errors_name_the_state_in_s3_not_its_private_copy(self):
        a = Runner(self, "a")
        a.config(count=1)
        a.ok("apply", "-auto-approve")
        path = os.path.join(a.dir, "nestplan.yaml")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("provider: { region: us-east-1 }",
                                 "provider: { region: us-west-2 }"))
        r = a.np("plan")
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("state 's3://%s/%s' holds instances in region us-east-1" % (BUCKET, KEY),
                      r.err)
        self.assertNotIn(self.tmpdir, r.err)

    def test_credentials_are_resolved_once_for_s3_and_ec2(self):
        # One credential_process run (one assume-role, one MFA prompt in real
        # life) serves both the S3 backend's client and EC2's.
        a = Runner(self, "a")
        a.config(count=1)
        log = os.path.join(a.dir, "creds.log")
        answer = '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s", ' \
                 '"SessionToken": "%s"}' % (self.env["AWS_ACCESS_KEY_ID"],
                                            self.env["AWS_SECRET_ACCESS_KEY"], TOKEN)
        script = os.path.join(a.dir, "creds.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\necho run >> '%s'\ncat <<'EOF'\n%s\nEOF\n" % (log, answer))
        os.chmod(script, 0o700)
        cfg = os.path.join(a.dir, "aws-config")
        with open(cfg, "w") as f:
            f.write("[default]\ncredential_process = %s\n" % script)
        env = {"AWS_CONFIG_FILE": cfg, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            self.env.pop(k, None)
        a.ok("init", env=env)
        os.unlink(log)
        a.ok("plan", env=env)
        with open(log) as f:
            self.assertEqual(f.read().split(), ["run"], "credentials resolved once per run")


@unittest.skipUnless(moto_ec2.skip_reason() is None, moto_ec2.skip_reason() or "")
class MotoS3BackendTest(S3BackendTest):
    """The same scenarios against moto's S3 (conditional writes since moto 5)."""

    @classmethod
    def start_s3(cls):
        import boto3
        cls.moto = moto_ec2.MotoEc2().__enter__()
        cls.s3_url = cls.moto.url
        cls.boto = boto3.client("s3", endpoint_url=cls.s3_url, region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing")

    @classmethod
    def stop_s3(cls):
        cls.moto.__exit__(None, None, None)

    def reset_s3(self):
        self.moto.reset()
        self.boto.create_bucket(Bucket=BUCKET)
        self.boto.put_bucket_versioning(Bucket=BUCKET,
                                        VersioningConfiguration={"Status": "Enabled"})

    def objects(self):
        out = []
        versions = self.boto.list_object_versions(Bucket=BUCKET)
        for v in versions.get("Versions", []):
            o = self.boto.get_object(Bucket=BUCKET, Key=v["Key"], VersionId=v["VersionId"])
            out.append({"key": v["Key"], "is_latest": v["IsLatest"], "delete_marker": False,
                        "body_b64": base64.b64encode(o["Body"].read()).decode()})
        for m in versions.get("DeleteMarkers", []):
            out.append({"key": m["Key"], "is_latest": m["IsLatest"], "delete_marker": True})
        return out

    def state_puts(self):
        self.skipTest("moto keeps no request log")

    # What only the stand-in can do (faults, a request log, writing behind the
    # client's back with its control API) is tested there.
    def test_s3_faults_412_409_503_and_dropped_connections(self):
        self.skipTest("moto injects no faults")

    def test_state_replaced_behind_our_back_is_not_overwritten(self):
        a = Runner(self, "a")
        a.config(count=2)
        a.ok("init")
        self.sim.faults(latency_ms=300)
        pa = a.start("apply", "-auto-approve")
        self.wait_for("a's lock", lambda: self.current(KEY + ".lock"))
        self.boto.put_object(Bucket=BUCKET, Key=KEY, Body=b"replaced")
        out, err = pa.communicate(timeout=120)
        self.sim.faults(latency_ms=0)
        self.assertNotEqual(pa.returncode, 0, err)
        self.assertIn("refusing to overwrite it", err)
        self.assertEqual(self.boto.get_object(Bucket=BUCKET, Key=KEY)["Body"].read(), b"replaced")

    def test_init_apply_show_from_another_directory(self):
        # The request-log checks are the stand-in's; the scenario is the same.
        a, c = Runner(self, "a"), Runner(self, "c")
        a.config(count=2)
        a.ok("apply", "-auto-approve")
        c.config(count=2)
        c.ok("plan", "-detailed-exitcode")


if __name__ == "__main__":
    unittest.main()
