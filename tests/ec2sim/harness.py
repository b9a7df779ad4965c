"""Start the simulator for a test and stop it afterwards:

    with Simulator(transition_seconds=0.2) as sim:
        env = sim.env()      # AWS_* for nestplan, the AWS CLI or boto3
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Imported as `harness` from tests/ec2sim too, not only as tests.*.harness.
if os.path.dirname(os.path.dirname(HERE)) not in sys.path:
    sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
from tests.simproc import SimProcess  # noqa: E402


class Simulator(SimProcess):
    script = os.path.join(HERE, "ec2sim.py")
    prefix = "ec2sim-"

    def env(self):
        return self.base_env("AWS_ENDPOINT_URL_EC2")

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
