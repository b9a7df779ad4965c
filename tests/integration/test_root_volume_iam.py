"""The attributes that need calls of their own (issue 14), end to end
against the simulator: the instance profile (associate, replace,
disassociate) and the root volume."""
import time
import unittest

from tests.integration.common import SimTestCase

AMI = "ami-0abcdef1234567890"

IAM_CONFIG = """\
version: 1
instances:
  b:
    image_id: %s
    instance_type: m8i.large
    iam_instance_profile: %s
"""


def actions(calls):
    return [c["action"] for c in calls]


class InstanceProfile(SimTestCase):
    def setUp(self):
        super().setUp()
        self.ci = self.sim.instance_profile("ci-runner")
        self.other = self.sim.instance_profile("other")

    def settle(self, iid, want_name):
        # An association goes associating -> associated after the transition.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            p = self.sim.instance(iid)["iam_instance_profile"]
            if (p and p["state"] == "associated" and p["name"] == want_name) or \
                    (want_name is None and p is None):
                return p
            time.sleep(0.1)
        self.fail("instance profile of %s never became %s" % (iid, want_name))

    def test_launch_read_back_change_live_and_drift(self):
        self.write_config(IAM_CONFIG % (AMI, "ci-runner"))
        self.ok("apply", "-auto-approve")
        b = self.live()["b"]
        self.assertEqual(b["iam_instance_profile"]["name"], "ci-runner")
        launch = [r for r in self.sim.requests() if r["action"] == "RunInstances"]
        self.assertEqual(launch[-1]["params"].get("IamInstanceProfile.Name"), "ci-runner")
        iid = b["instance_id"]
        self.settle(iid, "ci-runner")
        # Read back as the ARN; the file's name is the same profile: nothing to do.
        self.ok("plan", "-detailed-exitcode", rc=0)
        res = self.state_resources()["b"]
        self.assertEqual(res["iam_instance_profile"], self.ci["arn"])

        # Another profile, by ARN: replaced while it runs, no stop.
        self.write_config(IAM_CONFIG % (AMI, '"%s"' % self.other["arn"]))
        plan = self.ok("plan", "-json").json()
        ch = plan["changes"][0]
        self.assertEqual(ch["steps"], ["replace_iam_instance_profile"])
        self.assertFalse(ch["requires_stop"])
        self.assertIn("iam:PassRole", plan["unchecked_permissions"])
        before = len(self.sim.calls())
        self.ok("apply", "-auto-approve")
        sent = actions(self.sim.calls()[before:])
        self.assertIn("ReplaceIamInstanceProfileAssociation", sent)
        self.assertNotIn("StopInstances", sent)
        self.assertEqual(self.live()["b"]["instance_id"], iid)
        self.settle(iid, "other")
        self.ok("plan", "-detailed-exitcode", rc=0)

        # None: disassociated, no stop; then nothing more to do.
        self.write_config(IAM_CONFIG % (AMI, '""'))
        before = len(self.sim.calls())
        self.ok("apply", "-auto-approve")
        sent = actions(self.sim.calls()[before:])
        self.assertIn("DisassociateIamInstanceProfile", sent)
        self.assertNotIn("StopInstances", sent)
        self.settle(iid, None)
        self.ok("plan", "-detailed-exitcode", rc=0)

        # Back to one: associated, no stop.
        self.write_config(IAM_CONFIG % (AMI, "ci-runner"))
        before = len(self.sim.calls())
        self.ok("apply", "-auto-approve")
        sent = actions(self.sim.calls()[before:])
        self.assertIn("AssociateIamInstanceProfile", sent)
        self.assertNotIn("StopInstances", sent)
        self.settle(iid, "ci-runner")
        self.ok("plan", "-detailed-exitcode", rc=0)

        # Out of band: drift names the attribute with both ARNs.
        self.sim.set_instance(iid, iam_instance_profile="other")
        r = self.ok("drift", "-json", rc=2).json()
        rows = [d for d in r["drift"] if d["attribute"] == "iam_instance_profile"]
        self.assertEqual(len(rows), 1, r)
        self.assertEqual(rows[0]["recorded"], self.ci["arn"])
        self.assertEqual(rows[0]["live"], self.other["arn"])

    def test_launch_by_arn_of_another_partition_shape_is_validated(self):
        self.write_config(IAM_CONFIG % (AMI, "arn:aws:s3:::bucket/instance-profile/x"))
        r = self.ok("validate", rc=1)
        self.assertIn("iam_instance_profile", r.err + r.out)
        self.write_config(IAM_CONFIG % (AMI, "'ci runner'"))
        r = self.ok("validate", rc=1)
        self.assertIn("not an instance profile name", r.err + r.out)
        self.write_config(IAM_CONFIG % (AMI, "arn:aws-us-gov:iam::123456789012:"
                                             "instance-profile/path/ci-runner"))
        self.ok("validate")

    def test_unknown_profile_is_ec2s_error_at_launch(self):
        self.write_config(IAM_CONFIG % (AMI, "nope"))
        r = self.ok("apply", "-auto-approve", rc=1)
        self.assertIn("Invalid IAM Instance Profile name", r.err + r.out)


ROOT_CONFIG = """\
version: 1
instances:
  b:
    image_id: %s
    instance_type: m8i.large
    root_volume: %s
"""


class RootVolume(SimTestCase):
    def root(self, iid):
        return self.sim.instance(iid)["root_volume"]

    def test_launch_read_back_change_live_and_drift(self):
        key = self.sim.kms_key("alias/ci")
        self.write_config(ROOT_CONFIG % (AMI, '{ size_gib: 100, type: gp3, iops: 4000, '
                                         'throughput_mibps: 200, encrypted: true, '
                                         'kms_key_id: "%s", delete_on_termination: false }'
                                         % key["arn"]))
        self.ok("apply", "-auto-approve")
        b = self.live()["b"]
        iid = b["instance_id"]
        launch = [r for r in self.sim.requests() if r["action"] == "RunInstances"][-1]["params"]
        self.assertEqual(launch["BlockDeviceMapping.1.DeviceName"], b["root_device_name"])
        rv = self.root(iid)
        self.assertEqual((rv["size_gib"], rv["type"], rv["iops"], rv["throughput"],
                          rv["encrypted"], rv["kms_key_id"], rv["delete_on_termination"]),
                         (100, "gp3", 4000, 200, True, key["arn"], False))
        # Read back (DescribeVolumes): nothing to do, and the state knows the volume.
        self.ok("plan", "-detailed-exitcode", rc=0)
        res = self.state_resources()["b"]
        self.assertEqual(res["root_volume"]["size_gib"], 100)
        self.assertEqual(res["root_volume"]["kms_key_id"], key["arn"])

        # Growth, IOPS, throughput and delete_on_termination: live, one ModifyVolume.
        self.write_config(ROOT_CONFIG % (AMI, '{ size_gib: 200, type: gp3, iops: 6000, '
                                         'throughput_mibps: 250, encrypted: true, '
                                         'kms_key_id: "%s", delete_on_termination: true }'
                                         % key["arn"]))
        r = self.ok("plan")
        self.assertIn("modifications", r.out)  # EBS's limit per 24 h is said
        plan = self.ok("plan", "-json").json()
        self.assertEqual(plan["changes"][0]["steps"],
                         ["modify_volume", "modify_root_delete_on_termination"])
        before = len(self.sim.requests())
        self.ok("apply", "-auto-approve")
        # The preflight's DryRun calls aside.
        sent = [x for x in self.sim.requests()[before:] if "DryRun" not in x["params"]]
        names = [x["action"] for x in sent]
        self.assertNotIn("StopInstances", names)
        self.assertEqual(names.count("ModifyVolume"), 1, names)
        mv = [x for x in sent if x["action"] == "ModifyVolume"][0]["params"]
        self.assertEqual((mv.get("Size"), mv.get("Iops"), mv.get("Throughput")),
                         ("200", "6000", "250"))
        self.assertEqual(self.live()["b"]["instance_id"], iid)
        deadline = time.monotonic() + 10
        while self.root(iid)["size_gib"] != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        rv = self.root(iid)
        self.assertEqual((rv["size_gib"], rv["iops"], rv["throughput"],
                          rv["delete_on_termination"]), (200, 6000, 250, True))
        self.ok("plan", "-detailed-exitcode", rc=0)

        # A shrink replaces, with EC2's reason.
        self.write_config(ROOT_CONFIG % (AMI, "{ size_gib: 150 }"))
        plan = self.ok("plan", "-json").json()
        self.assertEqual(plan["changes"][0]["action"], "replace")
        self.assertIn("EBS volumes only grow", plan["changes"][0]["replace_reason"])

        # Out of band: drift.
        self.write_config(ROOT_CONFIG % (AMI, "{ size_gib: 200 }"))
        self.sim.set_instance(iid, root_volume={"size_gib": 300, "delete_on_termination": False})
        r = self.ok("drift", "-json", rc=2).json()
        got = {d["attribute"]: (d["recorded"], d["live"]) for d in r["drift"]}
        self.assertEqual(got.get("root_volume.size_gib"), ("200", "300"), r)
        self.assertEqual(got.get("root_volume.delete_on_termination"), ("true", "false"), r)

    def test_below_the_snapshot_and_aliases_are_refused(self):
        self.sim.image(AMI, snapshot_size_gib=30)
        self.write_config(ROOT_CONFIG % (AMI, "{ size_gib: 20 }"))
        r = self.ok("apply", "-auto-approve", rc=1)
        self.assertIn("snapshot", r.err + r.out)
        self.assertEqual(self.live(), {})
        self.write_config(ROOT_CONFIG % (AMI, '{ encrypted: true, kms_key_id: "alias/ci" }'))
        r = self.ok("validate", rc=1)
        self.assertIn("use the key's ARN", r.err + r.out)
        self.write_config(ROOT_CONFIG % (AMI, "{ type: io2, size_gib: 100 }"))
        r = self.ok("validate", rc=1)
        self.assertIn("iops is required", r.err + r.out)


if __name__ == "__main__":
    unittest.main()
