"""Start the simulator for a test and stop it afterwards:

    with Simulator(transition_seconds=0.2) as sim:
        env = sim.env()      # AWS_* for nestplan, the AWS CLI or boto3
"""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


class Simulator:
    def __init__(self, **options):
        self.options = options
        self.proc = None
        self.url = None
        self.tmp = None

    def __enter__(self):
        args = [sys.executable, os.path.join(HERE, "ec2sim.py"), "--port", "0"]
        for k, v in self.options.items():
            flag = "--" + k.replace("_", "-")
            if v is True:
                args.append(flag)
            elif v is not None and v is not False:  # 0 is a value, not "unset"
                args += [flag, str(v)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise RuntimeError("simulator did not start: %r" % line)
        self.url = line.split()[-1]
        self.tmp = tempfile.mkdtemp(prefix="ec2sim-")
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
        if self.tmp:
            for name in os.listdir(self.tmp):
                os.unlink(os.path.join(self.tmp, name))
            os.rmdir(self.tmp)

    def env(self):
        return {"AWS_ACCESS_KEY_ID": self.options.get("access_key", "AKIDNESTPLANSIM"),
                "AWS_SECRET_ACCESS_KEY": self.options.get("secret_key", "nestplan-sim-secret"),
                "AWS_REGION": self.options.get("region", "us-east-1"),
                "AWS_DEFAULT_REGION": self.options.get("region", "us-east-1"),
                "AWS_ENDPOINT_URL_EC2": self.url,
                "AWS_CONFIG_FILE": os.path.join(self.tmp, "config"),
                "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.tmp, "credentials"),
                "AWS_EC2_METADATA_DISABLED": "true"}

    def _req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def stats(self):
        return self._req("GET", "/_sim/stats")

    def instances(self):
        return self._req("GET", "/_sim/instances")["instances"]

    def calls(self):
        return self._req("GET", "/_sim/calls")["calls"]

    def requests(self):
        """Every API request since reset: [{action, params, status, account_id}]."""
        return self._req("GET", "/_sim/requests")["requests"]

    def account(self, account_id=None):
        """The account the simulator answers as; switches it when given."""
        if account_id is None:
            return self._req("GET", "/_sim/account")["account_id"]
        return self._req("POST", "/_sim/account", {"account_id": account_id})["account_id"]

    def set_instance(self, iid, **fields):
        return self._req("POST", "/_sim/instances/" + iid, fields)

    def faults(self, **kw):
        return self._req("POST", "/_sim/faults", kw)

    def reset(self):
        return self._req("POST", "/_sim/reset", {})

    def hosts(self):
        """Every Dedicated Host (all accounts) with its capacity and instances."""
        return self._req("GET", "/_sim/hosts")["hosts"]

    def set_host(self, hid, **fields):
        return self._req("POST", "/_sim/hosts/" + hid, fields)

    def latency_model(self):
        return self._req("GET", "/_sim/latency_model")

    def instance_profile(self, name, account_id=None):
        """Creates an IAM instance profile (or returns the existing one)."""
        body = {"name": name}
        if account_id:
            body["account_id"] = account_id
        return self._req("POST", "/_sim/instance_profiles", body)

    def instance_profiles(self):
        return self._req("GET", "/_sim/instance_profiles")["instance_profiles"]

    def kms_key(self, alias, key_id=None):
        """A KMS key under that alias in the current account: {alias, key_id, arn}."""
        body = {"alias": alias}
        if key_id:
            body["key_id"] = key_id
        return self._req("POST", "/_sim/kms_keys", body)

    def placement_group(self, name, strategy="cluster", **extra):
        return self._req("POST", "/_sim/placement_groups", dict(extra, name=name,
                                                                 strategy=strategy))

    def image(self, image_id, **fields):
        """Registers or changes an image: platform, root_device_name,
        snapshot_size_gib, volume_type, missing, name."""
        return self._req("POST", "/_sim/images", dict(fields, image_id=image_id))

    def volumes(self):
        return self._req("GET", "/_sim/volumes")["volumes"]

    def instance(self, iid):
        return [i for i in self.instances() if i["instance_id"] == iid][0]
