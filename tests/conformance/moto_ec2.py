"""moto's server mode on 127.0.0.1, a port the OS picks, for the conformance
tests. moto is optional: skip_reason() says why it cannot run here.

    with MotoEc2() as moto:
        moto.url, moto.client()   # boto3 EC2 client for out-of-band changes
        moto.reset()              # empty every backend
"""
import json
import logging
import urllib.request

REGION = "us-east-1"


def skip_reason():
    try:
        import moto
        from moto.server import ThreadedMotoServer  # noqa: F401  (needs flask, werkzeug)
        import boto3  # noqa: F401
    except ImportError as e:
        return "moto's server mode or boto3 is not installed (%s)" % e
    major = int(moto.__version__.split(".")[0])
    if major < 5:
        return "moto %s is older than 5 (this test was written against 5.2)" % moto.__version__
    return None


class MotoEc2:
    def __init__(self):
        self.server = None
        self.url = None

    def __enter__(self):
        from moto.server import ThreadedMotoServer
        # werkzeug logs every request on stderr; the tests report their own.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = "http://%s:%d" % (host, port)
        return self

    def __exit__(self, *exc):
        if self.server:
            self.server.stop()
            self.server = None

    def reset(self):
        req = urllib.request.Request(self.url + "/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()

    def client(self):
        import boto3
        return boto3.client("ec2", endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    @staticmethod
    def version():
        import moto
        return moto.__version__


def dumps(obj):
    return json.dumps(obj, default=str, indent=1)
