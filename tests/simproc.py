"""What the EC2 simulator's and the S3 stand-in's harnesses share: start the
server on a port the OS picks (127.0.0.1), an empty AWS config and credentials
file for the clients, the JSON control API, and stopping it all again."""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request


class SimProcess:
    script = None   # the server, a path
    prefix = "sim-"  # of the temporary directory

    def __init__(self, **options):
        self.options = options
        self.proc = None
        self.url = None
        self.tmp = None

    def __enter__(self):
        args = [sys.executable, self.script, "--port", "0"]
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
            self.proc = None
            raise RuntimeError("%s did not start: %r" % (os.path.basename(self.script), line))
        self.url = line.split()[-1]
        self.tmp = tempfile.mkdtemp(prefix=self.prefix)
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

    def base_env(self, endpoint_var):
        """AWS_* for nestplan, the AWS CLI or boto3, pointed at this server."""
        region = self.options.get("region", "us-east-1")
        return {"AWS_ACCESS_KEY_ID": self.options.get("access_key", "AKIDNESTPLANSIM"),
                "AWS_SECRET_ACCESS_KEY": self.options.get("secret_key", "nestplan-sim-secret"),
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                endpoint_var: self.url,
                "AWS_CONFIG_FILE": os.path.join(self.tmp, "config"),
                "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.tmp, "credentials"),
                "AWS_EC2_METADATA_DISABLED": "true"}

    def _req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def faults(self, **kw):
        return self._req("POST", "/_sim/faults", kw)

    def reset(self):
        return self._req("POST", "/_sim/reset", {})

    def stats(self):
        return self._req("GET", "/_sim/stats")

    def requests(self):
        """The API requests since reset, as the server logged them."""
        return self._req("GET", "/_sim/requests")["requests"]
