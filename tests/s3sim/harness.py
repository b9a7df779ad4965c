"""Start the S3 stand-in for a test and stop it afterwards:

    from tests.s3sim.harness import S3Simulator
    with S3Simulator(bucket="state", require_sse=True) as s3:
        env = s3.env()       # AWS_* for nestplan, the AWS CLI or boto3
        s3.objects()         # every bucket, key and version

Options are s3sim.py's flags with '_' for '-'; a list gives the flag once
per item (versioned_bucket=["a", "b"]).
"""
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


class S3Simulator:
    def __init__(self, **options):
        self.options = options
        self.proc = None
        self.url = None
        self.tmp = None

    def __enter__(self):
        args = [sys.executable, os.path.join(HERE, "s3sim.py"), "--port", "0"]
        for k, v in self.options.items():
            flag = "--" + k.replace("_", "-")
            for item in (v if isinstance(v, (list, tuple)) else [v]):
                if item is True:
                    args.append(flag)
                elif item is not None and item is not False:  # 0 is a value, not "unset"
                    args += [flag, str(item)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            raise RuntimeError("s3 simulator did not start: %r" % line)
        self.url = line.split()[-1]
        self.tmp = tempfile.mkdtemp(prefix="s3sim-")
        for name in ("config", "credentials"):
            open(os.path.join(self.tmp, name), "w").close()
        return self

    def __exit__(self, *exc):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
        if self.tmp:
            for name in os.listdir(self.tmp):
                os.unlink(os.path.join(self.tmp, name))
            os.rmdir(self.tmp)
            self.tmp = None

    @property
    def region(self):
        return self.options.get("region", "us-east-1")

    def env(self):
        env = {"AWS_ACCESS_KEY_ID": self.options.get("access_key", "AKIDNESTPLANSIM"),
               "AWS_SECRET_ACCESS_KEY": self.options.get("secret_key", "nestplan-sim-secret"),
               "AWS_REGION": self.region,
               "AWS_DEFAULT_REGION": self.region,
               "AWS_ENDPOINT_URL_S3": self.url,
               "AWS_CONFIG_FILE": os.path.join(self.tmp, "config"),
               "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.tmp, "credentials"),
               "AWS_EC2_METADATA_DISABLED": "true"}
        if self.options.get("session_token"):
            env["AWS_SESSION_TOKEN"] = self.options["session_token"]
        return env

    def _req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def stats(self):
        """{"calls": {OPERATION: n}, "throttled": {...}, "conflicts": n, ...}"""
        return self._req("GET", "/_sim/stats")

    def objects(self, bucket=None, bodies=False):
        """Every version of every key, newest first per key; body_b64 with bodies."""
        q = {}
        if bucket:
            q["bucket"] = bucket
        if bodies:
            q["bodies"] = "1"
        return self._req("GET", "/_sim/objects" + ("?" + urllib.parse.urlencode(q) if q else ""))

    def requests(self):
        """The API requests since reset: [{op, bucket, key, status, code, headers, ...}]."""
        return self._req("GET", "/_sim/requests")["requests"]

    def create_bucket(self, name, versioning=None):
        return self._req("POST", "/_sim/buckets", {"name": name, "versioning": versioning})

    def replace_object(self, bucket, key, body, **fields):
        """Write an object behind the client's back (a new ETag, a new version)."""
        import base64
        req = {"bucket": bucket, "key": key, "body_b64": base64.b64encode(body).decode()}
        req.update(fields)
        return self._req("POST", "/_sim/objects", req)

    def delete_object(self, bucket, key):
        """Delete behind the client's back (a delete marker on a versioned bucket)."""
        return self._req("POST", "/_sim/objects", {"bucket": bucket, "key": key, "delete": True})

    def faults(self, **kw):
        return self._req("POST", "/_sim/faults", kw)

    def reset(self):
        return self._req("POST", "/_sim/reset", {})
