"""Start the S3 stand-in for a test and stop it afterwards:

    from tests.s3sim.harness import S3Simulator
    with S3Simulator(bucket="state", require_sse=True) as s3:
        env = s3.env()       # AWS_* for nestplan, the AWS CLI or boto3
        s3.objects()         # every bucket, key and version

Options are s3sim.py's flags with '_' for '-'; a list gives the flag once
per item (versioned_bucket=["a", "b"]).
"""
import os
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
# Imported as `harness` from tests/ec2sim too, not only as tests.*.harness.
if os.path.dirname(os.path.dirname(HERE)) not in sys.path:
    sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
from tests.simproc import SimProcess  # noqa: E402


class S3Simulator(SimProcess):
    script = os.path.join(HERE, "s3sim.py")
    prefix = "s3sim-"

    @property
    def region(self):
        return self.options.get("region", "us-east-1")

    def env(self):
        env = self.base_env("AWS_ENDPOINT_URL_S3")
        if self.options.get("session_token"):
            env["AWS_SESSION_TOKEN"] = self.options["session_token"]
        return env

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
