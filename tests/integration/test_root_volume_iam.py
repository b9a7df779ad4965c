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


if __name__ == "__main__":
    unittest.main()
