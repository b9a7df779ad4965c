#!/usr/bin/env python3
"""Ask the installed botocore which endpoint each (service, region, FIPS,
dual-stack) resolves to, and print the rows as JSON: the expected answers
of nestplan's resolver (tests/data/endpoints.json, checked by the unit
tests; tests/integration/test_endpoints.py regenerates them live).

Each row is what a real botocore client would send: a client is made with
use_fips_endpoint / use_dualstack_endpoint (and, for S3, the addressing
style), and a 'before-send' hook takes the prepared request's URL and
SigV4 scope instead of sending it. Nothing is sent anywhere; still, run it
inside `unshare -n` (the integration test does).

    unshare -n python3 tools/gen_endpoint_cases.py > tests/data/endpoints.json
"""
import json
import os
import re
import sys
import tempfile
from urllib.parse import urlsplit

# Every partition's named regions of interest, and one made-up region per
# partition pattern (botocore resolves those by the pattern alone).
REGIONS = [
    "us-east-1", "eu-west-1", "ca-central-1", "ap-southeast-2", "aws-global",
    "cn-north-1", "cn-northwest-1",
    "us-gov-west-1", "us-gov-east-1",
    "eusc-de-east-1",
    "us-iso-east-1", "us-isob-east-1", "eu-isoe-west-1", "us-isof-south-1",
    # made up, one per pattern
    "mx-moon-7", "cn-south-9", "us-gov-north-9", "eusc-de-west-9",
    "us-iso-north-9", "us-isob-south-9", "eu-isoe-north-9", "us-isof-west-9",
]
BUCKETS = [("nestplan-state", False), ("nestplan-state", True), ("nestplan.state.v1", False)]
CUSTOM = ["http://127.0.0.1:4566", "https://ec2.example.test:8443/base"]


class Captured(Exception):
    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def capture(request, **kwargs):
    raise Captured(request)


def clean_environment():
    """botocore reads AWS_* and the shared files: none of them may colour
    the rows."""
    for k in list(os.environ):
        if k.startswith("AWS_") or k.startswith("BOTO"):
            del os.environ[k]
    empty = tempfile.NamedTemporaryFile(prefix="nestplan-endpoints-", delete=False)
    empty.close()
    os.environ["AWS_CONFIG_FILE"] = empty.name
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = empty.name
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    return empty.name


def one(session, Config, service, region, fips, dualstack, endpoint=None, bucket=None,
        path_style=False):
    row = {"service": service, "region": region, "fips": fips, "dualstack": dualstack}
    if endpoint:
        row["endpoint"] = endpoint
    if bucket:
        row["bucket"] = bucket
        row["force_path_style"] = path_style
    kw = {"use_fips_endpoint": fips, "use_dualstack_endpoint": dualstack,
          "retries": {"total_max_attempts": 1}}
    if service == "s3":
        kw["s3"] = {"addressing_style": "path" if path_style else "auto"}
    try:
        client = session.create_client(
            service, region_name=region, endpoint_url=endpoint, config=Config(**kw),
            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
        client.meta.events.register("before-send", capture)
        if service == "ec2":
            client.describe_instances()
        elif service == "sts":
            client.get_caller_identity()
        else:
            client.list_objects_v2(Bucket=bucket)
        row["error"] = "botocore sent nothing"
    except Captured as c:
        u = urlsplit(c.request.url)
        path = u.path.rstrip("/")
        row["url"] = "%s://%s%s" % (u.scheme, u.netloc, path)
        auth = c.request.headers.get("Authorization", b"")
        if isinstance(auth, bytes):
            auth = auth.decode()
        m = re.search(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request", auth)
        row["signing_region"] = m.group(1) if m else None
        row["signing_name"] = m.group(2) if m else None
    except Exception as e:  # botocore's refusal is an expected answer too
        row["error"] = str(e)
    return row


def rows():
    import botocore
    import botocore.session
    from botocore.config import Config

    empty = clean_environment()
    try:
        session = botocore.session.get_session()
        out = []
        for service in ("ec2", "sts", "s3"):
            for region in REGIONS:
                for fips in (False, True):
                    for dualstack in (False, True):
                        if service == "s3":
                            for bucket, path_style in BUCKETS:
                                out.append(one(session, Config, service, region, fips,
                                               dualstack, bucket=bucket,
                                               path_style=path_style))
                        else:
                            out.append(one(session, Config, service, region, fips, dualstack))
            for endpoint in CUSTOM:
                for region in ("eu-west-1", "eu-isoe-west-1"):
                    for fips in (False, True):
                        for dualstack in (False, True):
                            if service == "s3":
                                for bucket, path_style in BUCKETS:
                                    out.append(one(session, Config, service, region, fips,
                                                   dualstack, endpoint=endpoint, bucket=bucket,
                                                   path_style=path_style))
                            else:
                                out.append(one(session, Config, service, region, fips,
                                               dualstack, endpoint=endpoint))
        return {"botocore": botocore.__version__, "rows": out}
    finally:
        os.unlink(empty)


def main():
    json.dump(rows(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
