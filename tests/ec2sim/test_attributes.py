"""Issue 14's instance attributes in the simulator: images, root volumes,
volume modifications, KMS aliases, IAM instance profile associations,
metadata options, monitoring, instance attributes and protection, placement
groups, and the control API. README.md ("Instance attributes") gives each
rule's source."""
import base64
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client import call, child, items_under  # noqa: E402
from harness import Simulator  # noqa: E402

try:
    import boto3
    import botocore.config
    import botocore.exceptions
except ImportError:
    boto3 = None

AMI = "ami-0abcdef1234567890"
WIN_AMI = "ami-0fedcba9876543210"


class AttrCase(unittest.TestCase):
    options = {}

    @classmethod
    def setUpClass(cls):
        opts = dict(transition_seconds=0.05, seed=14, volume_modification_seconds=0.05)
        opts.update(cls.options)
        cls.sim = Simulator(**opts)
        cls.sim.__enter__()
        cls.url = cls.sim.url

    @classmethod
    def tearDownClass(cls):
        cls.sim.__exit__(None, None, None)

    def setUp(self):
        self.sim.reset()

    def ok(self, action, params=None):
        r = call(self.url, action, params or {})
        self.assertEqual(r.status, 200, r.body)
        return r

    def err(self, action, params, code, status=400):
        if action == "RunInstances":
            params = dict({"InstanceType": "m8i.large"}, **params)
        r = call(self.url, action, params)
        self.assertEqual((r.status, r.code), (status, code), r.body)
        return r

    def launch(self, image=AMI, itype="m8i.large", **extra):
        p = {"ImageId": image, "InstanceType": itype, "MinCount": "1", "MaxCount": "1"}
        p.update(extra)
        r = self.ok("RunInstances", p)
        return r.text("instanceId")

    def describe(self, iid):
        r = self.ok("DescribeInstances", {"InstanceId.1": iid})
        return [e for e in r.root.iter() if e.tag.endswith("instancesSet")][0][0]

    def wait_state(self, iid, state):
        for _ in range(300):
            if self.sim.instance(iid)["state"] == state:
                return
            time.sleep(0.02)
        self.fail("%s never became %s" % (iid, state))

    def stopped(self, **extra):
        iid = self.launch(**extra)
        self.wait_state(iid, "running")
        self.ok("StopInstances", {"InstanceId.1": iid})
        self.wait_state(iid, "stopped")
        return iid

    def attr(self, iid, name):
        r = self.ok("DescribeInstanceAttribute", {"InstanceId": iid, "Attribute": name})
        return r

    def eventually(self, fn, want, tries=300):
        got = None
        for _ in range(tries):
            got = fn()
            if got == want:
                return
            time.sleep(0.02)
        self.assertEqual(got, want)


class TestImagesAndRootVolume(AttrCase):
    def test_describe_images_root_device_and_snapshot_size(self):
        r = self.ok("DescribeImages", {"ImageId.1": AMI, "ImageId.2": WIN_AMI})
        imgs = {child(i, "imageId"): i for i in items_under(r, "imagesSet")}
        self.assertEqual((child(imgs[AMI], "rootDeviceName"), child(imgs[AMI], "volumeSize"),
                          child(imgs[AMI], "platform")), ("/dev/xvda", "8", None))
        self.assertEqual((child(imgs[WIN_AMI], "rootDeviceName"),
                          child(imgs[WIN_AMI], "volumeSize"), child(imgs[WIN_AMI], "platform")),
                         ("/dev/sda1", "30", "windows"))
        self.assertTrue(child(imgs[AMI], "snapshotId").startswith("snap-"))
        self.err("DescribeImages", {"ImageId.1": "ami-zz"}, "InvalidAMIID.Malformed")
        self.sim.image("ami-0000000000000dead", missing=True)
        self.err("DescribeImages", {"ImageId.1": "ami-0000000000000dead"}, "InvalidAMIID.NotFound")
        self.err("RunInstances", {"ImageId": "ami-0000000000000dead", "MinCount": "1",
                                  "MaxCount": "1", "InstanceType": "m8i.large"},
                 "InvalidAMIID.NotFound")
        self.sim.image("ami-0123456789abcdef0", root_device_name="/dev/sda1",
                       snapshot_size_gib=20)
        r = self.ok("DescribeImages", {"Filter.1.Name": "root-device-name",
                                       "Filter.1.Value.1": "/dev/sda1"})
        self.assertIn("ami-0123456789abcdef0",
                      [child(i, "imageId") for i in items_under(r, "imagesSet")])

    def test_default_root_volume_in_describe_instances_and_volumes(self):
        iid = self.launch()
        item = self.describe(iid)
        self.assertEqual((child(item, "rootDeviceName"), child(item, "rootDeviceType"),
                          child(item, "ebsOptimized")), ("/dev/xvda", "ebs", "false"))
        bdm = items_under(item, "blockDeviceMapping")
        self.assertEqual(len(bdm), 1)
        self.assertEqual((child(bdm[0], "deviceName"), child(bdm[0], "status"),
                          child(bdm[0], "deleteOnTermination")), ("/dev/xvda", "attached", "true"))
        self.assertIsNotNone(child(bdm[0], "attachTime"))
        vid = child(bdm[0], "volumeId")
        r = self.ok("DescribeVolumes", {"VolumeId.1": vid})
        v = items_under(r, "volumeSet")[0]
        self.assertEqual((child(v, "size"), child(v, "volumeType"), child(v, "iops"),
                          child(v, "throughput"), child(v, "encrypted"), child(v, "status"),
                          child(v, "instanceId"), child(v, "device")),
                         ("8", "gp3", "3000", "125", "false", "in-use", iid, "/dev/xvda"))
        self.assertIsNone(child(v, "kmsKeyId"))

    def test_root_volume_mapping_applied(self):
        key = self.sim.kms_key("alias/ci")
        iid = self.launch(**{"BlockDeviceMapping.1.DeviceName": "/dev/xvda",
                             "BlockDeviceMapping.1.Ebs.VolumeSize": "200",
                             "BlockDeviceMapping.1.Ebs.VolumeType": "gp3",
                             "BlockDeviceMapping.1.Ebs.Iops": "6000",
                             "BlockDeviceMapping.1.Ebs.Throughput": "500",
                             "BlockDeviceMapping.1.Ebs.Encrypted": "true",
                             "BlockDeviceMapping.1.Ebs.KmsKeyId": "alias/ci",
                             "BlockDeviceMapping.1.Ebs.DeleteOnTermination": "false"})
        root = self.sim.instance(iid)["root_volume"]
        self.assertEqual({k: root[k] for k in root if k != "volume_id"},
                         {"size_gib": 200, "type": "gp3", "iops": 6000, "throughput": 500,
                          "encrypted": True, "kms_key_id": key["arn"],
                          "delete_on_termination": False})
        self.assertEqual(key["arn"], "arn:aws:kms:us-east-1:123456789012:key/" + key["key_id"])
        r = self.ok("DescribeVolumes", {"Filter.1.Name": "attachment.instance-id",
                                        "Filter.1.Value.1": iid})
        v = items_under(r, "volumeSet")[0]
        self.assertEqual(child(v, "kmsKeyId"), key["arn"])  # the ARN, never the alias
        # the key's id and the alias ARN name the same key
        iid2 = self.launch(**{"BlockDeviceMapping.1.DeviceName": "/dev/xvda",
                              "BlockDeviceMapping.1.Ebs.Encrypted": "true",
                              "BlockDeviceMapping.1.Ebs.KmsKeyId":
                                  "arn:aws:kms:us-east-1:123456789012:alias/ci"})
        self.assertEqual(self.sim.instance(iid2)["root_volume"]["kms_key_id"], key["arn"])
        # encrypted without a key: the account's AWS managed key, alias/aws/ebs
        iid3 = self.launch(**{"BlockDeviceMapping.1.DeviceName": "/dev/xvda",
                              "BlockDeviceMapping.1.Ebs.Encrypted": "true"})
        managed = [k for k in self.sim._req("GET", "/_sim/kms_keys")["kms_keys"]
                   if k["alias"] == "alias/aws/ebs"][0]
        self.assertEqual(self.sim.instance(iid3)["root_volume"]["kms_key_id"], managed["arn"])

    def test_windows_root_is_sda1_and_30_gib(self):
        iid = self.launch(image=WIN_AMI)
        inst = self.sim.instance(iid)
        self.assertEqual((inst["root_device_name"], inst["root_volume"]["size_gib"],
                          inst["platform"]), ("/dev/sda1", 30, "windows"))

    def test_root_volume_refusals(self):
        base = {"BlockDeviceMapping.1.DeviceName": "/dev/xvda"}
        r = self.err("RunInstances", dict(base, ImageId=AMI, MinCount="1", MaxCount="1",
                                          **{"BlockDeviceMapping.1.Ebs.VolumeSize": "4"}),
                     "InvalidBlockDeviceMapping")
        self.assertIn("Volume of size 4GB is smaller than  snapshot 'snap-", r.text("Message"))
        self.assertIn("expect size >= 8GB", r.text("Message"))
        r = self.err("RunInstances", {"ImageId": WIN_AMI, "MinCount": "1", "MaxCount": "1",
                                      "BlockDeviceMapping.1.DeviceName": "/dev/sda1",
                                      "BlockDeviceMapping.1.Ebs.VolumeSize": "29"},
                     "InvalidBlockDeviceMapping")
        self.assertIn("expect size >= 30GB", r.text("Message"))
        cases = [
            ({"BlockDeviceMapping.1.Ebs.VolumeType": "gp4"}, "InvalidParameterValue"),
            ({"BlockDeviceMapping.1.Ebs.Iops": "2999"}, "InvalidParameterValue"),
            ({"BlockDeviceMapping.1.Ebs.Iops": "80001",
              "BlockDeviceMapping.1.Ebs.VolumeSize": "1000"}, "InvalidParameterValue"),
            ({"BlockDeviceMapping.1.Ebs.Iops": "5000"}, "InvalidParameterValue"),  # > 500/GiB
            ({"BlockDeviceMapping.1.Ebs.Throughput": "2001",
              "BlockDeviceMapping.1.Ebs.Iops": "16000",
              "BlockDeviceMapping.1.Ebs.VolumeSize": "100"}, "InvalidParameterValue"),
            ({"BlockDeviceMapping.1.Ebs.Throughput": "1000"}, "InvalidParameterValue"),  # > .25
            ({"BlockDeviceMapping.1.Ebs.VolumeType": "gp2",
              "BlockDeviceMapping.1.Ebs.Iops": "300"}, "InvalidParameterCombination"),
            ({"BlockDeviceMapping.1.Ebs.VolumeType": "io2"}, "InvalidParameterCombination"),
            ({"BlockDeviceMapping.1.Ebs.VolumeType": "io1",
              "BlockDeviceMapping.1.Ebs.Iops": "1000", "BlockDeviceMapping.1.Ebs.VolumeSize": "100",
              "BlockDeviceMapping.1.Ebs.Throughput": "200"}, "InvalidParameterCombination"),
            ({"BlockDeviceMapping.1.Ebs.VolumeType": "io1",
              "BlockDeviceMapping.1.Ebs.Iops": "1000"}, "InvalidParameterValue"),  # > 50/GiB
            ({"BlockDeviceMapping.1.Ebs.VolumeType": "st1"}, "InvalidParameterValue"),  # < 125
            ({"BlockDeviceMapping.1.Ebs.VolumeSize": "65537"}, "InvalidParameterValue"),
            ({"BlockDeviceMapping.1.Ebs.KmsKeyId": "alias/ci"}, "InvalidParameterDependency"),
            ({"BlockDeviceMapping.1.Ebs.Encrypted": "true",
              "BlockDeviceMapping.1.Ebs.KmsKeyId": "alias/none"}, "InvalidParameterValue"),
            ({"BlockDeviceMapping.1.Ebs.Encrypted": "yes"}, "InvalidParameterValue"),
        ]
        self.sim.kms_key("alias/ci")
        for extra, code in cases:
            with self.subTest(extra=extra):
                self.err("RunInstances", dict(base, ImageId=AMI, MinCount="1", MaxCount="1",
                                              **extra), code)
        # within the limits: the largest gp3, an io2 at 1000 IOPS per GiB
        self.launch(**dict(base, **{"BlockDeviceMapping.1.Ebs.VolumeSize": "65536",
                                    "BlockDeviceMapping.1.Ebs.Iops": "80000",
                                    "BlockDeviceMapping.1.Ebs.Throughput": "2000"}))
        self.launch(**dict(base, **{"BlockDeviceMapping.1.Ebs.VolumeType": "io2",
                                    "BlockDeviceMapping.1.Ebs.VolumeSize": "100",
                                    "BlockDeviceMapping.1.Ebs.Iops": "100000"}))
        r = self.err("RunInstances", {"ImageId": AMI, "MinCount": "1", "MaxCount": "1",
                                      "BlockDeviceMapping.1.DeviceName": "/dev/sdf",
                                      "BlockDeviceMapping.1.Ebs.VolumeType": "gp3"},
                     "InvalidBlockDeviceMapping")
        self.assertEqual(r.text("Message"),
                         "Either snapshot ID or volume size must be provided for: /dev/sdf")

    def test_extra_volume_and_termination(self):
        iid = self.launch(**{"BlockDeviceMapping.1.DeviceName": "/dev/sdf",
                             "BlockDeviceMapping.1.Ebs.VolumeSize": "50",
                             "BlockDeviceMapping.1.Ebs.DeleteOnTermination": "false"})
        vols = {v["device"]: v for v in self.sim.volumes()}
        self.assertEqual(set(vols), {"/dev/xvda", "/dev/sdf"})
        self.wait_state(iid, "running")
        self.ok("TerminateInstances", {"InstanceId.1": iid})
        self.wait_state(iid, "terminated")
        r = self.ok("DescribeVolumes")
        left = items_under(r, "volumeSet")
        # the root volume is deleted with the instance, the other detached
        self.assertEqual([(child(v, "volumeId"), child(v, "status"), child(v, "instanceId"))
                          for v in left], [(vols["/dev/sdf"]["volume_id"], "available", None)])
        self.err("DescribeVolumes", {"VolumeId.1": vols["/dev/xvda"]["volume_id"]},
                 "InvalidVolume.NotFound")
        self.assertEqual(items_under(self.describe(iid), "blockDeviceMapping"), [])


class TestVolumes(AttrCase):
    def root(self, iid):
        return self.sim.instance(iid)["root_volume"]["volume_id"]

    def mod_state(self, vid):
        r = self.ok("DescribeVolumesModifications", {"VolumeId.1": vid})
        return child(items_under(r, "volumeModificationSet")[0], "modificationState")

    def test_describe_volumes_paging_and_filters(self):
        ids = [self.launch() for _ in range(7)]
        self.err("DescribeVolumes", {"MaxResults": "4"}, "InvalidParameterValue")
        self.err("DescribeVolumes", {"MaxResults": "5", "VolumeId.1": self.root(ids[0])},
                 "InvalidParameterCombination")
        seen, token, pages = [], None, 0
        while True:
            p = {"MaxResults": "5"}
            if token:
                p["NextToken"] = token
            r = self.ok("DescribeVolumes", p)
            seen += [child(v, "volumeId") for v in items_under(r, "volumeSet")]
            pages += 1
            token = r.text("nextToken")
            if not token:
                break
        self.assertEqual((len(seen), len(set(seen)), pages), (7, 7, 2))
        r = self.ok("DescribeVolumes", {"Filter.1.Name": "attachment.instance-id",
                                        "Filter.1.Value.1": ids[2],
                                        "Filter.1.Value.2": ids[4]})
        self.assertEqual(sorted(child(v, "instanceId") for v in items_under(r, "volumeSet")),
                         sorted([ids[2], ids[4]]))
        self.err("DescribeVolumes", {"VolumeId.1": "vol-0123456789abcdef0"},
                 "InvalidVolume.NotFound")
        self.err("DescribeVolumes", {"VolumeId.1": "volume-1"}, "InvalidVolumeID.Malformed")
        self.err("DescribeVolumes", {"Filter.1.Name": "nope", "Filter.1.Value.1": "x"},
                 "InvalidParameterValue")

    def test_modify_volume_grows_and_goes_through_states(self):
        iid = self.launch()
        vid = self.root(iid)
        r = self.ok("DescribeVolumesModifications", {"VolumeId.1": vid})
        never = items_under(r, "volumeModificationSet")[0]
        self.assertEqual((child(never, "volumeId"), child(never, "modificationState")),
                         (vid, None))
        r = self.ok("ModifyVolume", {"VolumeId": vid, "Size": "100", "Iops": "4000",
                                     "Throughput": "250"})
        m = [e for e in r.root if e.tag.endswith("volumeModification")][0]
        self.assertEqual((child(m, "modificationState"), child(m, "originalSize"),
                          child(m, "targetSize"), child(m, "targetIops"),
                          child(m, "targetThroughput"), child(m, "targetVolumeType")),
                         ("modifying", "8", "100", "4000", "250", "gp3"))
        self.eventually(lambda: self.mod_state(vid), "completed")
        v = items_under(self.ok("DescribeVolumes", {"VolumeId.1": vid}), "volumeSet")[0]
        self.assertEqual((child(v, "size"), child(v, "iops"), child(v, "throughput")),
                         ("100", "4000", "250"))
        self.assertEqual(self.sim.instance(iid)["root_volume"]["size_gib"], 100)
        r = self.err("ModifyVolume", {"VolumeId": vid, "Size": "50"}, "InvalidParameterValue")
        self.assertEqual(r.text("Message"), "New size cannot be smaller than existing size")
        self.err("ModifyVolume", {"VolumeId": vid}, "MissingParameter")
        self.err("ModifyVolume", {"VolumeId": vid, "VolumeType": "gp2", "Iops": "3000"},
                 "InvalidParameterCombination")
        # type change: gp3 -> io2 defaults to 3,000 IOPS; -> gp2 reports the baseline
        self.ok("ModifyVolume", {"VolumeId": vid, "VolumeType": "gp2"})
        self.eventually(lambda: self.mod_state(vid), "completed")
        v = items_under(self.ok("DescribeVolumes", {"VolumeId.1": vid}), "volumeSet")[0]
        self.assertEqual((child(v, "volumeType"), child(v, "iops"), child(v, "throughput")),
                         ("gp2", "300", None))

    def test_describe_shows_new_values_from_optimizing_on(self):
        vid = self.root(self.launch())
        self.sim.faults(volume_modification_seconds=30)
        self.ok("ModifyVolume", {"VolumeId": vid, "Size": "20"})
        self.assertEqual(self.mod_state(vid), "modifying")
        v = items_under(self.ok("DescribeVolumes", {"VolumeId.1": vid}), "volumeSet")[0]
        self.assertEqual(child(v, "size"), "8")
        r = self.err("ModifyVolume", {"VolumeId": vid, "Size": "30"},
                     "IncorrectModificationState")
        self.assertIn("modifying", r.text("Message"))

    def test_four_modifications_per_rolling_window(self):
        vid = self.root(self.launch())
        for size in (9, 10, 11, 12):
            self.ok("ModifyVolume", {"VolumeId": vid, "Size": str(size)})
            self.eventually(lambda: self.mod_state(vid), "completed")
        r = self.err("ModifyVolume", {"VolumeId": vid, "Size": "13"},
                     "VolumeModificationRateExceeded")
        self.assertIn("again after", r.text("Message"))
        self.sim.faults(volume_modification_window_s=0.2)
        time.sleep(0.25)
        self.ok("ModifyVolume", {"VolumeId": vid, "Size": "13"})

    def test_cooldown_option(self):
        vid = self.root(self.launch())
        self.sim.faults(volume_modification_cooldown_s=21600)
        self.ok("ModifyVolume", {"VolumeId": vid, "Size": "9"})
        self.eventually(lambda: self.mod_state(vid), "completed")
        r = self.err("ModifyVolume", {"VolumeId": vid, "Size": "10"},
                     "VolumeModificationRateExceeded")
        self.assertIn("Wait at least 6 hours between modifications", r.text("Message"))
        self.sim.faults(volume_modification_cooldown_s=0)
        self.ok("ModifyVolume", {"VolumeId": vid, "Size": "10"})

    def test_modifications_filter_and_dry_run(self):
        a, b = self.root(self.launch()), self.root(self.launch())
        self.err("ModifyVolume", {"VolumeId": a, "Size": "9", "DryRun": "true"},
                 "DryRunOperation", 412)
        self.ok("ModifyVolume", {"VolumeId": a, "Size": "9"})
        r = self.ok("DescribeVolumesModifications")
        self.assertEqual([child(m, "volumeId") for m in items_under(r, "volumeModificationSet")],
                         [a])
        self.eventually(lambda: self.mod_state(a), "completed")
        r = self.ok("DescribeVolumesModifications", {"Filter.1.Name": "modification-state",
                                                     "Filter.1.Value.1": "modifying"})
        self.assertEqual(items_under(r, "volumeModificationSet"), [])
        self.assertEqual(self.mod_state(b), None)


class TestIamInstanceProfiles(AttrCase):
    def test_control_api_creates_profiles(self):
        p = self.sim.instance_profile("ci-runner")
        self.assertEqual(p["arn"], "arn:aws:iam::123456789012:instance-profile/ci-runner")
        self.assertRegex(p["id"], r"^AIPA[A-Z0-9]{17}$")
        self.assertEqual(self.sim.instance_profile("ci-runner"), p)  # idempotent
        self.assertEqual([x["name"] for x in self.sim.instance_profiles()], ["ci-runner"])

    def test_launch_with_profile_by_name_or_arn(self):
        p = self.sim.instance_profile("ci-runner")
        iid = self.launch(**{"IamInstanceProfile.Name": "ci-runner"})
        item = self.describe(iid)
        prof = [e for e in item if e.tag.endswith("iamInstanceProfile")][0]
        self.assertEqual((child(prof, "arn"), child(prof, "id")), (p["arn"], p["id"]))
        iid2 = self.launch(**{"IamInstanceProfile.Arn": p["arn"]})
        self.assertEqual(self.sim.instance(iid2)["iam_instance_profile"]["arn"], p["arn"])
        r = self.ok("DescribeIamInstanceProfileAssociations",
                    {"Filter.1.Name": "instance-id", "Filter.1.Value.1": iid})
        rows = items_under(r, "iamInstanceProfileAssociationSet")
        self.assertEqual(len(rows), 1)
        self.assertTrue(child(rows[0], "associationId").startswith("iip-assoc-"))
        self.assertIn(child(rows[0], "state"), ("associating", "associated"))
        self.assertIsNone(child(self.describe(self.launch()), "iamInstanceProfile"))

    def test_unknown_profile_gets_ec2s_error(self):
        r = self.err("RunInstances", {"ImageId": AMI, "MinCount": "1", "MaxCount": "1",
                                      "IamInstanceProfile.Name": "nope"}, "InvalidParameterValue")
        self.assertEqual(r.text("Message"), "Value (nope) for parameter iamInstanceProfile.name "
                                            "is invalid. Invalid IAM Instance Profile name")
        r = self.err("RunInstances", {"ImageId": AMI, "MinCount": "1", "MaxCount": "1",
                                      "IamInstanceProfile.Arn":
                                          "arn:aws:iam::123456789012:instance-profile/nope"},
                     "InvalidParameterValue")
        self.assertIn("parameter iamInstanceProfile.arn is invalid", r.text("Message"))
        # another account's profile does not exist for this one
        self.sim.instance_profile("theirs", account_id="210987654321")
        self.err("RunInstances", {"ImageId": AMI, "MinCount": "1", "MaxCount": "1",
                                  "IamInstanceProfile.Name": "theirs"}, "InvalidParameterValue")

    def test_associate_replace_disassociate(self):
        a, b = self.sim.instance_profile("a"), self.sim.instance_profile("b")
        iid = self.launch()
        self.err("AssociateIamInstanceProfile", {"InstanceId": iid,
                                                 "IamInstanceProfile.Name": "a"},
                 "IncorrectInstanceState")  # pending
        self.wait_state(iid, "running")
        self.err("AssociateIamInstanceProfile", {"InstanceId": iid,
                                                 "IamInstanceProfile.Name": "zz"},
                 "InvalidParameterValue")
        r = self.ok("AssociateIamInstanceProfile", {"InstanceId": iid,
                                                    "IamInstanceProfile.Name": "a"})
        aid = r.text("associationId")
        self.assertEqual((r.text("state"), r.text("arn")), ("associating", a["arn"]))
        r = self.err("AssociateIamInstanceProfile", {"InstanceId": iid,
                                                     "IamInstanceProfile.Name": "b"},
                     "IncorrectState")
        self.assertEqual(r.text("Message"), "There is an existing association for instance %s"
                         % iid)

        def state(assoc):
            r = self.ok("DescribeIamInstanceProfileAssociations", {"AssociationId.1": assoc})
            return child(items_under(r, "iamInstanceProfileAssociationSet")[0], "state")
        self.eventually(lambda: state(aid), "associated")
        r = self.ok("ReplaceIamInstanceProfileAssociation",
                    {"AssociationId": aid, "IamInstanceProfile.Arn": b["arn"]})
        new = r.text("associationId")
        self.assertNotEqual(new, aid)
        self.assertEqual((r.text("state"), r.text("arn")), ("associating", b["arn"]))
        self.assertEqual(self.sim.instance(iid)["iam_instance_profile"]["arn"], b["arn"])
        r = self.ok("DescribeIamInstanceProfileAssociations",
                    {"Filter.1.Name": "instance-id", "Filter.1.Value.1": iid})
        self.assertEqual([child(x, "associationId")
                          for x in items_under(r, "iamInstanceProfileAssociationSet")], [new])
        self.err("ReplaceIamInstanceProfileAssociation",
                 {"AssociationId": aid, "IamInstanceProfile.Name": "a"}, "IncorrectState")
        r = self.ok("DisassociateIamInstanceProfile", {"AssociationId": new})
        self.assertEqual(r.text("state"), "disassociating")
        self.eventually(lambda: self.sim.instance(iid)["iam_instance_profile"], None)
        self.assertIsNone(child(self.describe(iid), "iamInstanceProfile"))
        self.err("DisassociateIamInstanceProfile", {"AssociationId": "iip-assoc-0123456789abcdef0"},
                 "InvalidAssociationID.NotFound")
        # no DryRun on these calls (the model)
        self.err("AssociateIamInstanceProfile", {"InstanceId": iid, "DryRun": "true",
                                                 "IamInstanceProfile.Name": "a"},
                 "UnknownParameter")

    def test_replace_on_a_stopped_instance_is_refused(self):
        self.sim.instance_profile("a")
        iid = self.stopped(**{"IamInstanceProfile.Name": "a"})
        aid = self.sim.instance(iid)["iam_instance_profile"]["association_id"]
        r = self.err("ReplaceIamInstanceProfileAssociation",
                     {"AssociationId": aid, "IamInstanceProfile.Name": "a"}, "IncorrectState")
        self.assertIn("is not the active association", r.text("Message"))

    def test_paging_and_state_filter(self):
        self.sim.instance_profile("a")
        for _ in range(6):
            self.launch(**{"IamInstanceProfile.Name": "a"})
        self.err("DescribeIamInstanceProfileAssociations", {"MaxResults": "4"},
                 "InvalidParameterValue")
        r = self.ok("DescribeIamInstanceProfileAssociations", {"MaxResults": "5"})
        first = items_under(r, "iamInstanceProfileAssociationSet")
        r2 = self.ok("DescribeIamInstanceProfileAssociations",
                     {"MaxResults": "5", "NextToken": r.text("nextToken")})
        self.assertEqual(len(first) + len(items_under(r2, "iamInstanceProfileAssociationSet")), 6)
        time.sleep(0.1)
        r = self.ok("DescribeIamInstanceProfileAssociations",
                    {"Filter.1.Name": "state", "Filter.1.Value.1": "associated"})
        self.assertEqual(len(items_under(r, "iamInstanceProfileAssociationSet")), 6)


class TestMetadataAndMonitoring(AttrCase):
    def md(self, iid):
        item = self.describe(iid)
        md = [e for e in item if e.tag.endswith("metadataOptions")][0]
        return {k: child(md, k) for k in ("state", "httpTokens", "httpPutResponseHopLimit",
                                          "httpEndpoint", "instanceMetadataTags",
                                          "httpProtocolIpv6")}

    def test_launch_defaults_and_options(self):
        iid = self.launch()
        self.wait_state(iid, "running")
        self.eventually(lambda: self.md(iid)["state"], "applied")
        self.assertEqual(self.md(iid), {"state": "applied", "httpTokens": "optional",
                                        "httpPutResponseHopLimit": "1", "httpEndpoint": "enabled",
                                        "instanceMetadataTags": "disabled",
                                        "httpProtocolIpv6": "disabled"})
        iid = self.launch(**{"MetadataOptions.HttpTokens": "required",
                             "MetadataOptions.HttpPutResponseHopLimit": "2",
                             "MetadataOptions.InstanceMetadataTags": "enabled"})
        self.assertEqual(self.md(iid)["state"], "pending")
        self.eventually(lambda: self.md(iid)["state"], "applied")
        self.assertEqual((self.md(iid)["httpTokens"], self.md(iid)["httpPutResponseHopLimit"],
                          self.md(iid)["instanceMetadataTags"]), ("required", "2", "enabled"))
        for bad in ({"MetadataOptions.HttpTokens": "maybe"},
                    {"MetadataOptions.HttpPutResponseHopLimit": "65"},
                    {"MetadataOptions.HttpPutResponseHopLimit": "0"},
                    {"MetadataOptions.HttpEndpoint": "on"}):
            self.err("RunInstances", dict(bad, ImageId=AMI, MinCount="1", MaxCount="1"),
                     "InvalidParameterValue")

    def test_modify_metadata_options_pending_then_applied(self):
        iid = self.launch()
        self.wait_state(iid, "running")
        r = self.ok("ModifyInstanceMetadataOptions", {"InstanceId": iid, "HttpTokens": "required",
                                                      "HttpPutResponseHopLimit": "3"})
        self.assertEqual((r.text("instanceId"), r.text("state"), r.text("httpTokens"),
                          r.text("httpPutResponseHopLimit"), r.text("httpEndpoint")),
                         (iid, "pending", "required", "3", "enabled"))
        self.eventually(lambda: self.md(iid)["state"], "applied")
        self.assertEqual(self.sim.instance(iid)["metadata_options"]["http_tokens"], "required")
        for bad in ({"HttpTokens": "x"}, {"HttpPutResponseHopLimit": "99"},
                    {"InstanceMetadataTags": "yes"}, {"HttpEndpoint": "x"}):
            self.err("ModifyInstanceMetadataOptions", dict(bad, InstanceId=iid),
                     "InvalidParameterValue")
        self.err("ModifyInstanceMetadataOptions", {"InstanceId": iid, "HttpTokens": "optional",
                                                   "DryRun": "true"}, "DryRunOperation", 412)

    def test_modified_while_stopped_applies_when_running(self):
        iid = self.stopped()
        self.ok("ModifyInstanceMetadataOptions", {"InstanceId": iid, "HttpTokens": "required"})
        time.sleep(0.15)
        self.assertEqual(self.md(iid)["state"], "pending")
        self.ok("StartInstances", {"InstanceId.1": iid})
        self.wait_state(iid, "running")
        self.eventually(lambda: self.md(iid)["state"], "applied")

    def test_monitoring(self):
        iid = self.launch(**{"Monitoring.Enabled": "true"})
        mon_el = [e for e in self.describe(iid) if e.tag.endswith("monitoring")][0]
        # pending at first; a loaded machine may already see it done
        self.assertIn(child(mon_el, "state"), ("pending", "enabled"))
        mon = lambda: self.sim.instance(iid)["monitoring"]  # noqa: E731
        self.eventually(mon, "enabled")
        r = self.ok("UnmonitorInstances", {"InstanceId.1": iid})
        self.assertEqual(r.text("state"), "disabling")
        self.eventually(mon, "disabled")
        r = self.ok("MonitorInstances", {"InstanceId.1": iid})
        self.assertEqual((r.text("instanceId"), r.text("state")), (iid, "pending"))
        self.eventually(mon, "enabled")
        r = self.ok("DescribeInstances", {"Filter.1.Name": "monitoring-state",
                                          "Filter.1.Value.1": "enabled"})
        self.assertEqual([e.text for e in r.find_all("instanceId")], [iid])
        self.err("MonitorInstances", {"InstanceId.1": iid, "DryRun": "true"},
                 "DryRunOperation", 412)


class TestInstanceAttributes(AttrCase):
    def value(self, iid, name):
        r = self.attr(iid, name)
        el = [e for e in r.root if e.tag.endswith(name)][0]
        return child(el, "value")

    def test_describe_instance_attribute_one_at_a_time(self):
        ud = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
        iid = self.launch(UserData=ud, DisableApiTermination="true", EbsOptimized="true")
        self.assertEqual((self.value(iid, "disableApiTermination"),
                          self.value(iid, "disableApiStop"), self.value(iid, "userData"),
                          self.value(iid, "instanceType"), self.value(iid, "ebsOptimized"),
                          self.value(iid, "rootDeviceName")),
                         ("true", "false", ud, "m8i.large", "true", "/dev/xvda"))
        r = self.attr(iid, "blockDeviceMapping")
        bdm = items_under(r, "blockDeviceMapping")
        self.assertEqual((child(bdm[0], "deviceName"), child(bdm[0], "deleteOnTermination")),
                         ("/dev/xvda", "true"))
        self.assertIsNone(self.value(self.launch(), "userData"))
        self.err("DescribeInstanceAttribute", {"InstanceId": iid, "Attribute": "nope"},
                 "InvalidParameterValue")
        self.err("DescribeInstanceAttribute", {"InstanceId": iid}, "MissingParameter")
        self.err("DescribeInstanceAttribute", {"InstanceId.1": iid, "Attribute": "userData"},
                 "UnknownParameter")

    def test_modify_live_attributes(self):
        iid = self.launch()
        self.wait_state(iid, "running")
        self.ok("ModifyInstanceAttribute", {"InstanceId": iid,
                                            "DisableApiTermination.Value": "true"})
        self.ok("ModifyInstanceAttribute", {"InstanceId": iid, "Attribute": "disableApiStop",
                                            "Value": "true"})
        self.ok("ModifyInstanceAttribute", {"InstanceId": iid,
                                            "BlockDeviceMapping.1.DeviceName": "/dev/xvda",
                                            "BlockDeviceMapping.1.Ebs.DeleteOnTermination":
                                                "false"})
        self.ok("ModifyInstanceAttribute", {"InstanceId": iid, "GroupId.1": "sg-0123456789abcdef0",
                                            "GroupId.2": "sg-0fedcba987654321f"})
        inst = self.sim.instance(iid)
        self.assertEqual((inst["disable_api_termination"], inst["disable_api_stop"],
                          inst["root_volume"]["delete_on_termination"],
                          inst["security_group_ids"]),
                         (True, True, False, ["sg-0123456789abcdef0", "sg-0fedcba987654321f"]))
        self.err("ModifyInstanceAttribute", {"InstanceId": iid,
                                             "BlockDeviceMapping.1.DeviceName": "/dev/sdz",
                                             "BlockDeviceMapping.1.Ebs.DeleteOnTermination":
                                                 "true"}, "InvalidInstanceAttributeValue")
        self.err("ModifyInstanceAttribute", {"InstanceId": iid,
                                             "DisableApiStop.Value": "false",
                                             "DisableApiTermination.Value": "false"},
                 "InvalidParameterCombination")
        self.err("ModifyInstanceAttribute", {"InstanceId": iid, "DisableApiStop.Value": "maybe"},
                 "InvalidParameterValue")

    def test_stopped_only_attributes(self):
        iid = self.launch()
        self.wait_state(iid, "running")
        ud = base64.b64encode(b"new").decode()
        for p in ({"EbsOptimized.Value": "true"}, {"UserData.Value": ud}):
            self.err("ModifyInstanceAttribute", dict(p, InstanceId=iid), "IncorrectInstanceState")
            # a dry run checks the parameters, not the state
            self.err("ModifyInstanceAttribute", dict(p, InstanceId=iid, DryRun="true"),
                     "DryRunOperation", 412)
        self.ok("StopInstances", {"InstanceId.1": iid})
        self.wait_state(iid, "stopped")
        self.ok("ModifyInstanceAttribute", {"InstanceId": iid, "EbsOptimized.Value": "true"})
        self.ok("ModifyInstanceAttribute", {"InstanceId": iid, "UserData.Value": ud})
        self.assertEqual((self.value(iid, "ebsOptimized"), self.value(iid, "userData")),
                         ("true", ud))
        self.assertEqual(child(self.describe(iid), "ebsOptimized"), "true")
        self.assertEqual(self.sim.instance(iid)["user_data_b64"], ud)
        self.err("ModifyInstanceAttribute", {"InstanceId": iid, "UserData.Value": "!!"},
                 "InvalidParameterValue")

    def test_protection_enforced(self):
        iid = self.launch(DisableApiStop="true")
        self.wait_state(iid, "running")
        r = self.err("StopInstances", {"InstanceId.1": iid}, "OperationNotPermitted")
        self.assertEqual(r.text("Message"), "The instance '%s' may not be stopped. Modify its "
                         "'disableApiStop' instance attribute and try again." % iid)
        # stop protection protects from termination too
        r = self.err("TerminateInstances", {"InstanceId.1": iid}, "OperationNotPermitted")
        self.assertIn("'disableApiStop'", r.text("Message"))
        other = self.launch(DisableApiTermination="true")
        r = self.err("TerminateInstances", {"InstanceId.1": other, "InstanceId.2": iid},
                     "OperationNotPermitted")
        self.assertEqual(r.text("Message"), "The instance '%s' may not be terminated. Modify its "
                         "'disableApiTermination' instance attribute and try again." % other)
        self.assertEqual(self.sim.instance(other)["state"] in ("pending", "running"), True)
        self.ok("ModifyInstanceAttribute", {"InstanceId": iid, "DisableApiStop.Value": "false"})
        self.ok("StopInstances", {"InstanceId.1": iid})
        self.ok("ModifyInstanceAttribute", {"InstanceId": other,
                                            "DisableApiTermination.Value": "false"})
        self.ok("TerminateInstances", {"InstanceId.1": other})
        self.err("RunInstances", {"ImageId": AMI, "MinCount": "1", "MaxCount": "1",
                                  "DisableApiTermination": "true",
                                  "InstanceMarketOptions.MarketType": "spot"},
                 "InvalidParameterCombination")

    def test_out_of_band_changes_for_drift(self):
        self.sim.instance_profile("p")
        self.sim.placement_group("pg1")
        iid = self.launch()
        out = self.sim.set_instance(iid, monitoring=True, ebs_optimized=True,
                                    disable_api_termination=True, disable_api_stop=True,
                                    metadata_options={"http_tokens": "required"},
                                    iam_instance_profile="p", placement_group="pg1",
                                    user_data_b64="eA==",
                                    root_volume={"size_gib": 42, "delete_on_termination": False})
        self.assertEqual((out["monitoring"], out["ebs_optimized"], out["disable_api_termination"],
                          out["disable_api_stop"], out["metadata_options"]["http_tokens"],
                          out["iam_instance_profile"]["name"], out["placement_group"],
                          out["user_data_b64"], out["root_volume"]["size_gib"],
                          out["root_volume"]["delete_on_termination"]),
                         ("enabled", True, True, True, "required", "p", "pg1", "eA==", 42, False))
        item = self.describe(iid)
        self.assertEqual((child(item, "groupName"), child(item, "ebsOptimized")),
                         ("pg1", "true"))
        self.assertEqual(self.value(iid, "disableApiStop"), "true")
        with self.assertRaises(Exception):
            self.sim.set_instance(iid, iam_instance_profile="nope")


class TestPlacementGroups(AttrCase):
    def test_create_describe_and_launch_into(self):
        self.sim.placement_group("ctl", strategy="spread")
        r = self.ok("CreatePlacementGroup", {"GroupName": "runners", "Strategy": "cluster"})
        self.assertEqual(r.text("groupName"), "runners")
        self.assertTrue(r.text("groupId").startswith("pg-"))
        self.err("CreatePlacementGroup", {"GroupName": "runners", "Strategy": "cluster"},
                 "InvalidPlacementGroup.Duplicate")
        self.err("CreatePlacementGroup", {"GroupName": "x", "Strategy": "pack"},
                 "InvalidParameterValue")
        self.ok("CreatePlacementGroup", {"GroupName": "parts", "Strategy": "partition",
                                         "PartitionCount": "3"})
        r = self.ok("DescribePlacementGroups")
        groups = {child(g, "groupName"): g for g in items_under(r, "placementGroupSet")}
        self.assertEqual({n: child(g, "strategy") for n, g in groups.items()},
                         {"ctl": "spread", "runners": "cluster", "parts": "partition"})
        self.assertEqual(child(groups["parts"], "partitionCount"), "3")
        self.err("DescribePlacementGroups", {"GroupName.1": "nope"},
                 "InvalidPlacementGroup.Unknown")
        iid = self.launch(**{"Placement.GroupName": "runners"})
        self.assertEqual(child(self.describe(iid), "groupName"), "runners")
        r = self.err("RunInstances", {"ImageId": AMI, "MinCount": "1", "MaxCount": "1",
                                      "Placement.GroupName": "nope"},
                     "InvalidPlacementGroup.Unknown")
        self.assertEqual(r.text("Message"), "The Placement Group 'nope' is unknown.")
        for extra in ({"Placement.GroupName": "runners", "Placement.Tenancy": "host"},
                      {"Placement.GroupName": "ctl", "Placement.Tenancy": "dedicated"},
                      {"Placement.GroupName": "runners", "InstanceType": "t3.large"}):
            with self.subTest(extra=extra):
                self.err("RunInstances", dict({"ImageId": AMI, "MinCount": "1", "MaxCount": "1",
                                               "InstanceType": "m8i.large"}, **extra),
                         "InvalidParameterCombination")
        self.launch(**{"Placement.GroupName": "runners", "Placement.Tenancy": "dedicated"})
        self.err("DeletePlacementGroup", {"GroupName": "runners"}, "InvalidPlacementGroup.InUse")
        self.ok("DeletePlacementGroup", {"GroupName": "parts"})

    def test_modify_instance_placement_group(self):
        self.sim.placement_group("a")
        iid = self.launch()
        self.wait_state(iid, "running")
        self.err("ModifyInstancePlacement", {"InstanceId": iid, "GroupName": "a"},
                 "IncorrectInstanceState")
        self.ok("StopInstances", {"InstanceId.1": iid})
        self.wait_state(iid, "stopped")
        self.err("ModifyInstancePlacement", {"InstanceId": iid, "GroupName": "zz"},
                 "InvalidPlacementGroup.Unknown")
        self.ok("ModifyInstancePlacement", {"InstanceId": iid, "GroupName": "a"})
        self.assertEqual(self.sim.instance(iid)["placement_group"], "a")
        self.err("ModifyInstancePlacement", {"InstanceId": iid, "Tenancy": "host"},
                 "InvalidRequest")  # default -> host is refused first (tenancy table)
        self.ok("ModifyInstancePlacement", {"InstanceId": iid, "GroupName": ""})
        self.assertIsNone(self.sim.instance(iid)["placement_group"])
        self.assertEqual(child(self.describe(iid), "groupName"), None)


@unittest.skipUnless(boto3, "boto3 is not installed: the SDK's view of the attributes is skipped")
class TestWithBoto3(AttrCase):
    def client(self):
        env = self.sim.env()
        return boto3.client("ec2", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                            config=botocore.config.Config(retries={"max_attempts": 1}))

    def test_boto3_reads_every_new_field(self):
        ec2 = self.client()
        prof = self.sim.instance_profile("ci-runner")
        key = self.sim.kms_key("alias/ci")
        ec2.create_placement_group(GroupName="runners", Strategy="cluster")
        img = ec2.describe_images(ImageIds=[AMI])["Images"][0]
        self.assertEqual((img["RootDeviceName"],
                          img["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"]), ("/dev/xvda", 8))
        run = ec2.run_instances(
            ImageId=AMI, InstanceType="m8i.large", MinCount=1, MaxCount=1,
            IamInstanceProfile={"Name": "ci-runner"}, EbsOptimized=True,
            Monitoring={"Enabled": True}, DisableApiTermination=True,
            UserData="echo hi",
            MetadataOptions={"HttpTokens": "required", "HttpPutResponseHopLimit": 2},
            Placement={"GroupName": "runners"},
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {
                "VolumeSize": 200, "VolumeType": "gp3", "Iops": 6000, "Throughput": 500,
                "Encrypted": True, "KmsKeyId": "alias/ci", "DeleteOnTermination": True}}])
        iid = run["Instances"][0]["InstanceId"]
        inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        self.assertEqual(inst["IamInstanceProfile"], {"Arn": prof["arn"], "Id": prof["id"]})
        self.assertEqual((inst["EbsOptimized"], inst["RootDeviceName"], inst["RootDeviceType"],
                          inst["Placement"]["GroupName"]), (True, "/dev/xvda", "ebs", "runners"))
        self.assertIn(inst["Monitoring"]["State"], ("pending", "enabled"))
        self.assertEqual({k: inst["MetadataOptions"][k] for k in
                          ("HttpTokens", "HttpPutResponseHopLimit", "HttpEndpoint",
                           "InstanceMetadataTags", "HttpProtocolIpv6")},
                         {"HttpTokens": "required", "HttpPutResponseHopLimit": 2,
                          "HttpEndpoint": "enabled", "InstanceMetadataTags": "disabled",
                          "HttpProtocolIpv6": "disabled"})
        bdm = inst["BlockDeviceMappings"][0]
        self.assertEqual((bdm["DeviceName"], bdm["Ebs"]["Status"],
                          bdm["Ebs"]["DeleteOnTermination"]), ("/dev/xvda", "attached", True))
        self.assertIn("AttachTime", bdm["Ebs"])
        vol = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id",
                                             "Values": [iid]}])["Volumes"][0]
        self.assertEqual((vol["Size"], vol["VolumeType"], vol["Iops"], vol["Throughput"],
                          vol["Encrypted"], vol["KmsKeyId"], vol["Attachments"][0]["InstanceId"]),
                         (200, "gp3", 6000, 500, True, key["arn"], iid))
        # boto3 base64-encodes UserData for RunInstances; DescribeInstanceAttribute gives it back
        ud = ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")
        self.assertEqual(base64.b64decode(ud["UserData"]["Value"]), b"echo hi")
        dat = ec2.describe_instance_attribute(InstanceId=iid, Attribute="disableApiTermination")
        self.assertEqual(dat["DisableApiTermination"], {"Value": True})
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            ec2.terminate_instances(InstanceIds=[iid])
        self.assertEqual(e.exception.response["Error"]["Code"], "OperationNotPermitted")
        mod = ec2.modify_volume(VolumeId=vol["VolumeId"], Size=300)["VolumeModification"]
        self.assertEqual((mod["ModificationState"], mod["OriginalSize"], mod["TargetSize"]),
                         ("modifying", 200, 300))
        mods = ec2.describe_volumes_modifications(VolumeIds=[vol["VolumeId"]])
        self.assertEqual(mods["VolumesModifications"][0]["VolumeId"], vol["VolumeId"])
        assoc = ec2.describe_iam_instance_profile_associations(
            Filters=[{"Name": "instance-id", "Values": [iid]}])["IamInstanceProfileAssociations"]
        self.assertEqual(assoc[0]["IamInstanceProfile"]["Arn"], prof["arn"])
        for _ in range(200):
            cur = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
            if cur["State"]["Name"] == "running":
                break
            time.sleep(0.02)
        md = ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="optional")
        self.assertEqual(md["InstanceMetadataOptions"]["State"], "pending")
        mon = ec2.unmonitor_instances(InstanceIds=[iid])["InstanceMonitorings"][0]
        self.assertEqual(mon["Monitoring"]["State"], "disabling")
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1,
                              IamInstanceProfile={"Name": "nope"})
        self.assertEqual(e.exception.response["Error"]["Code"], "InvalidParameterValue")
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        # ModifyInstanceAttribute UserData is a blob: botocore base64-encodes it
        ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": False})
        ec2.stop_instances(InstanceIds=[iid])
        for _ in range(200):
            cur = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
            if cur["State"]["Name"] == "stopped":
                break
            time.sleep(0.02)
        ec2.modify_instance_attribute(InstanceId=iid, UserData={"Value": b"echo again"})
        ud = ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")
        self.assertEqual(base64.b64decode(ud["UserData"]["Value"]), b"echo again")
        groups = ec2.describe_placement_groups(GroupNames=["runners"])["PlacementGroups"]
        self.assertEqual((groups[0]["GroupName"], groups[0]["Strategy"], groups[0]["State"]),
                         ("runners", "cluster", "available"))


if __name__ == "__main__":
    unittest.main()
