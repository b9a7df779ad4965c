"""The simulator's own rules, driven over HTTP with a stdlib SigV4 client."""
import datetime
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigv4  # noqa: E402
from client import allocate_host, call  # noqa: E402
from harness import Simulator  # noqa: E402

AMI = "ami-0abcdef1234567890"


class TestSigV4Vectors(unittest.TestCase):
    def test_notes_ec2_vector(self):
        body = b"Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-1234567890abcdef0"
        headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8",
                   "host": "ec2.us-east-1.amazonaws.com", "x-amz-date": "20250115T120000Z"}
        sig = sigv4.signature("POST", "/", "", headers, sorted(headers), body, "20250115T120000Z",
                              "20250115/us-east-1/ec2/aws4_request",
                              "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        self.assertEqual(sig, "6c56345ab5a97085b47f038ee24b19be4856b59d26fc3bfed95853f7edd1559e")

    def test_notes_iam_get_vector(self):
        headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8",
                   "host": "iam.amazonaws.com", "x-amz-date": "20150830T123600Z"}
        sig = sigv4.signature("GET", "/", "Action=ListUsers&Version=2010-05-08", headers,
                              sorted(headers), b"", "20150830T123600Z",
                              "20150830/us-east-1/iam/aws4_request",
                              "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        self.assertEqual(sig, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")


class SimCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator(transition_seconds=0.2, seed=7)
        cls.sim.__enter__()
        cls.url = cls.sim.url

    @classmethod
    def tearDownClass(cls):
        cls.sim.__exit__(None, None, None)

    def setUp(self):
        self.sim.reset()

    def run_one(self, **extra):
        p = {"ImageId": AMI, "InstanceType": "m8i.2xlarge", "MinCount": "1", "MaxCount": "1"}
        p.update(extra)
        r = call(self.url, "RunInstances", p)
        self.assertEqual(r.status, 200, r.body)
        return r.text("instanceId")

    def wait_state(self, iid, state, timeout=5):
        end = time.time() + timeout
        while time.time() < end:
            r = call(self.url, "DescribeInstances", {"Filter.1.Name": "instance-id",
                                                     "Filter.1.Value.1": iid})
            names = [e.text for e in r.find_all("name")]
            if state in names:
                return
            time.sleep(0.05)
        self.fail("%s never reached %s" % (iid, state))


class TestAuth(SimCase):
    def test_unsigned_request_is_auth_failure(self):
        r = call(self.url, "DescribeInstances", sign=False)
        self.assertEqual((r.status, r.code), (401, "AuthFailure"))

    def test_wrong_secret_is_auth_failure(self):
        r = call(self.url, "DescribeInstances", secret="wrong")
        self.assertEqual((r.status, r.code), (401, "AuthFailure"))

    def test_unknown_key_is_auth_failure(self):
        r = call(self.url, "DescribeInstances", key="AKIDOTHER")
        self.assertEqual(r.status, 401)

    def test_clock_skew_is_request_expired(self):
        r = call(self.url, "DescribeInstances",
                 when=datetime.datetime.utcnow() - datetime.timedelta(minutes=20))
        self.assertEqual(r.code, "RequestExpired")

    def test_session_token_accepted_when_signed(self):
        r = call(self.url, "DescribeInstances", token="FQoGZXIvYXdzEXAMPLETOKEN")
        self.assertEqual(r.status, 200, r.body)

    def test_error_document_has_no_namespace_and_request_id(self):
        r = call(self.url, "Bogus")
        self.assertEqual((r.status, r.code), (400, "InvalidAction"))
        self.assertEqual(r.root.tag, "Response")
        self.assertIsNotNone(r.text("RequestID"))


class TestInstances(SimCase):
    def test_run_with_nested_virtualization_and_cpu_options(self):
        iid = self.run_one(**{"CpuOptions.CoreCount": "2", "CpuOptions.ThreadsPerCore": "2",
                              "CpuOptions.NestedVirtualization": "enabled"})
        inst = [i for i in self.sim.instances() if i["instance_id"] == iid][0]
        self.assertEqual((inst["core_count"], inst["nested_virtualization"], inst["state"]),
                         (2, "enabled", "pending"))

    def test_core_count_alone_is_refused(self):
        r = call(self.url, "RunInstances", {"ImageId": AMI, "InstanceType": "m8i.2xlarge",
                                            "MinCount": "1", "MaxCount": "1",
                                            "CpuOptions.CoreCount": "2"})
        self.assertEqual(r.code, "InvalidParameterCombination")

    def test_nested_virtualization_on_unsupported_type_is_refused(self):
        r = call(self.url, "RunInstances", {"ImageId": AMI, "InstanceType": "m6i.2xlarge",
                                            "MinCount": "1", "MaxCount": "1",
                                            "CpuOptions.NestedVirtualization": "enabled"})
        self.assertEqual(r.code, "InvalidParameterCombination")

    def test_windows_above_192_vcpus_is_refused(self):
        r = call(self.url, "RunInstances", {"ImageId": "ami-0fedcba9876543210",
                                            "InstanceType": "m8i.96xlarge", "MinCount": "1",
                                            "MaxCount": "1",
                                            "CpuOptions.NestedVirtualization": "enabled"})
        self.assertEqual(r.code, "InvalidParameterCombination")

    def test_unknown_type_and_bad_image_are_refused(self):
        r = call(self.url, "RunInstances", {"ImageId": AMI, "InstanceType": "m8i.nope",
                                            "MinCount": "1", "MaxCount": "1"})
        self.assertEqual(r.code, "InvalidParameterValue")
        r = call(self.url, "RunInstances", {"ImageId": "ubuntu", "MinCount": "1", "MaxCount": "1"})
        self.assertEqual(r.code, "InvalidAMIID.Malformed")

    def test_client_token_is_idempotent_and_checks_parameters(self):
        a = self.run_one(ClientToken="tok-1")
        b = self.run_one(ClientToken="tok-1")
        self.assertEqual(a, b)
        self.assertEqual(len(self.sim.instances()), 1)
        r = call(self.url, "RunInstances", {"ImageId": AMI, "InstanceType": "m8i.xlarge",
                                            "MinCount": "1", "MaxCount": "1",
                                            "ClientToken": "tok-1"})
        self.assertEqual(r.code, "IdempotentParameterMismatch")

    def test_dry_run_and_denied_actions(self):
        r = call(self.url, "RunInstances", {"ImageId": AMI, "InstanceType": "m8i.large",
                                            "MinCount": "1", "MaxCount": "1", "DryRun": "true"})
        self.assertEqual((r.status, r.code), (412, "DryRunOperation"))
        self.assertEqual(self.sim.instances(), [])
        self.sim.faults(deny_actions=["StopInstances"])
        iid = self.run_one()
        r = call(self.url, "StopInstances", {"InstanceId.1": iid, "DryRun": "true"})
        self.assertEqual((r.status, r.code), (403, "UnauthorizedOperation"))

    def test_describe_rules(self):
        iid = self.run_one()
        r = call(self.url, "DescribeInstances", {"InstanceId.1": iid, "MaxResults": "5"})
        self.assertEqual(r.code, "InvalidParameterCombination")
        r = call(self.url, "DescribeInstances", {"InstanceId.1": "i-00000000000000000"})
        self.assertEqual(r.code, "InvalidInstanceID.NotFound")
        r = call(self.url, "DescribeInstances", {"InstanceId.1": "bogus"})
        self.assertEqual(r.code, "InvalidInstanceID.Malformed")
        r = call(self.url, "DescribeInstances", {"MaxResults": "4"})
        self.assertEqual(r.code, "InvalidParameterValue")
        r = call(self.url, "DescribeInstances", {"Filter.1.Name": "instance-id",
                                                 "Filter.1.Value.1": "i-00000000000000000"})
        self.assertEqual((r.status, r.find_all("instanceId")), (200, []))

    def test_pagination_and_tag_filters(self):
        call(self.url, "RunInstances", {"ImageId": AMI, "InstanceType": "m8i.large",
                                        "MinCount": "12", "MaxCount": "12",
                                        "TagSpecification.1.ResourceType": "instance",
                                        "TagSpecification.1.Tag.1.Key": "nestplan:lineage",
                                        "TagSpecification.1.Tag.1.Value": "L"})
        self.run_one()
        seen, token, pages = [], None, 0
        while True:
            p = {"MaxResults": "5", "Filter.1.Name": "tag:nestplan:lineage", "Filter.1.Value.1": "L"}
            if token:
                p["NextToken"] = token
            r = call(self.url, "DescribeInstances", p)
            seen += [e.text for e in r.find_all("instanceId")]
            pages += 1
            token = r.text("nextToken")
            if not token:
                break
        self.assertEqual((len(seen), len(set(seen)), pages), (12, 12, 3))

    def test_state_transitions_and_incorrect_state(self):
        iid = self.run_one()
        r = call(self.url, "StopInstances", {"InstanceId.1": iid})
        self.assertEqual(r.code, "IncorrectInstanceState")  # never reached running
        self.wait_state(iid, "running")
        r = call(self.url, "ModifyInstanceAttribute", {"InstanceId": iid,
                                                       "InstanceType.Value": "m8i.xlarge"})
        self.assertEqual(r.code, "IncorrectInstanceState")
        r = call(self.url, "StopInstances", {"InstanceId.1": iid})
        self.assertEqual(r.text("name"), "stopping")
        r = call(self.url, "StartInstances", {"InstanceId.1": iid})
        self.assertEqual(r.code, "IncorrectInstanceState")
        self.wait_state(iid, "stopped")

    def test_type_change_resets_cpu_and_guards_nested_virtualization(self):
        iid = self.run_one(**{"CpuOptions.NestedVirtualization": "enabled",
                              "CpuOptions.CoreCount": "2", "CpuOptions.ThreadsPerCore": "1"})
        self.wait_state(iid, "running")
        call(self.url, "StopInstances", {"InstanceId.1": iid})
        self.wait_state(iid, "stopped")
        r = call(self.url, "ModifyInstanceAttribute", {"InstanceId": iid,
                                                       "InstanceType.Value": "m6i.2xlarge"})
        self.assertEqual(r.code, "InvalidInstanceAttributeValue")
        r = call(self.url, "ModifyInstanceAttribute", {"InstanceId": iid,
                                                       "InstanceType.Value": "m8i.4xlarge"})
        self.assertEqual(r.status, 200, r.body)
        inst = [i for i in self.sim.instances() if i["instance_id"] == iid][0]
        self.assertEqual((inst["core_count"], inst["threads_per_core"], inst["nested_virtualization"]),
                         (8, 2, "disabled"))
        r = call(self.url, "ModifyInstanceCpuOptions", {"InstanceId": iid, "CoreCount": "3"})
        self.assertEqual(r.code, "InvalidParameterCombination")
        r = call(self.url, "ModifyInstanceCpuOptions", {"InstanceId": iid, "CoreCount": "9",
                                                        "ThreadsPerCore": "2"})
        self.assertEqual(r.code, "InvalidParameterValue")  # m8i.4xlarge has 1 to 8 cores
        r = call(self.url, "ModifyInstanceCpuOptions", {"InstanceId": iid, "CoreCount": "4",
                                                        "ThreadsPerCore": "2",
                                                        "NestedVirtualization": "enabled"})
        self.assertEqual(r.text("nestedVirtualization"), "enabled")

    def test_host_tenancy_cannot_leave_the_host(self):
        allocate_host(self.url)
        iid = self.run_one(**{"Placement.Tenancy": "host"})
        self.wait_state(iid, "running")
        call(self.url, "StopInstances", {"InstanceId.1": iid})
        self.wait_state(iid, "stopped")
        r = call(self.url, "ModifyInstancePlacement", {"InstanceId": iid, "Tenancy": "dedicated"})
        self.assertEqual(r.code, "InvalidRequest")

    def test_tags_rules(self):
        iid = self.run_one()
        r = call(self.url, "CreateTags", {"ResourceId.1": iid, "Tag.1.Key": "aws:x",
                                          "Tag.1.Value": "y"})
        self.assertEqual(r.code, "InvalidParameterValue")
        r = call(self.url, "CreateTags", {"ResourceId.1": iid, "Tag.1.Key": "team",
                                          "Tag.1.Value": ""})
        self.assertEqual(r.text("return"), "true")
        r = call(self.url, "DeleteTags", {"ResourceId.1": iid, "Tag.1.Key": "team"})
        self.assertEqual(r.status, 200)

    def test_instance_types_filter_and_pages(self):
        names, token = [], None
        while True:
            p = {"Filter.1.Name": "processor-info.supported-features",
                 "Filter.1.Value.1": "nested-virtualization", "MaxResults": "20"}
            if token:
                p["NextToken"] = token
            r = call(self.url, "DescribeInstanceTypes", p)
            names += [e.text for e in r.find_all("instanceType")]
            token = r.text("nextToken")
            if not token:
                break
        self.assertEqual(len(names), 54)
        self.assertNotIn("m6i.large", names)
        self.assertTrue(all(not n.endswith("metal-48xl") for n in names))
        r = call(self.url, "DescribeInstanceTypes", {"InstanceType.1": "m8i.nope"})
        self.assertEqual(r.code, "InvalidInstanceType")

    def test_out_of_band_changes_and_faults(self):
        iid = self.run_one()
        self.sim.set_instance(iid, instance_type="m8i.xlarge", state="terminated")
        inst = self.sim.instances()[0]
        self.assertEqual((inst["instance_type"], inst["state"]), ("m8i.xlarge", "terminated"))
        self.sim.faults(throttle_rate=1.0)
        r = call(self.url, "DescribeInstances")
        self.assertEqual((r.status, r.code), (503, "RequestLimitExceeded"))
        self.sim.faults(throttle_rate=0.0, error_rate=1.0)
        self.assertEqual(call(self.url, "DescribeInstances").status, 500)
        self.assertGreaterEqual(self.sim.stats()["calls"]["DescribeInstances"], 2)

    def test_rate_limits_are_per_api_and_per_instance(self):
        iid = self.run_one()
        self.sim.faults(rate_limits=True)
        tag = {"ResourceId.1": iid, "Tag.1.Key": "k", "Tag.1.Value": "v"}
        # A mutating API's bucket holds 200 requests and refills 5 a second.
        # (Time passes while we call, so a few refilled tokens are allowed for.)
        t0, ok = time.monotonic(), 0
        for _ in range(600):
            code = call(self.url, "CreateTags", tag).code
            if code == "RequestLimitExceeded":
                break
            self.assertIsNone(code)
            ok += 1
        else:
            self.fail("never throttled")
        self.assertGreaterEqual(ok, 200)
        self.assertLessEqual(ok, 200 + 5 * (time.monotonic() - t0) + 1)
        # Each API has its own bucket: another mutating action still goes.
        self.assertEqual(call(self.url, "DeleteTags", tag).status, 200)
        # RunInstances also spends one resource token per instance: 1,000, 2 a second.
        big = {"ImageId": AMI, "InstanceType": "m8i.large", "MinCount": "999", "MaxCount": "999"}
        self.assertEqual(call(self.url, "RunInstances", big).status, 200)
        r = call(self.url, "RunInstances", dict(big, MinCount="20", MaxCount="20"))
        self.assertEqual((r.status, r.code), (503, "RequestLimitExceeded"))
        self.assertGreaterEqual(self.sim.stats()["throttled"].get("RunInstances", 0), 1)
        self.sim.reset()  # back to the start-up setting (off), buckets full
        self.assertEqual(call(self.url, "RunInstances", big).status, 200)

    def test_reset_latency_and_lost_responses(self):
        iid = self.run_one()
        self.sim.faults(reset_rate=1.0)
        with self.assertRaises(Exception):
            call(self.url, "DescribeInstances")
        self.sim.faults(reset_rate=0.0, latency_ms=200)
        t0 = time.time()
        call(self.url, "DescribeInstances")
        self.assertGreaterEqual(time.time() - t0, 0.2)
        self.sim.faults(latency_ms=0, lose_response={"action": "CreateTags", "nth": 1})
        with self.assertRaises(Exception):
            call(self.url, "CreateTags", {"ResourceId.1": iid, "Tag.1.Key": "k", "Tag.1.Value": "v"})
        # the call was made; only its answer was lost
        self.assertEqual(self.sim.instances()[0]["tags"], {"k": "v"})

    def test_seed_makes_ids_repeatable(self):
        self.sim.reset()
        a = self.run_one()
        self.sim.reset()
        self.assertEqual(self.run_one(), a)

    def test_invisible_instances_are_missing_for_a_while(self):
        self.sim.faults(invisible_ms=400)
        iid = self.run_one()
        r = call(self.url, "DescribeInstances", {"Filter.1.Name": "instance-id",
                                                 "Filter.1.Value.1": iid})
        self.assertEqual(r.find_all("instanceId"), [])
        time.sleep(0.5)
        r = call(self.url, "DescribeInstances", {"Filter.1.Name": "instance-id",
                                                 "Filter.1.Value.1": iid})
        self.assertEqual([e.text for e in r.find_all("instanceId")], [iid])

    def test_pages_of_1000_list_10000_instances_once_each(self):
        for _ in range(10):
            call(self.url, "RunInstances", {"ImageId": AMI, "InstanceType": "m8i.large",
                                            "MinCount": "1000", "MaxCount": "1000",
                                            "TagSpecification.1.ResourceType": "instance",
                                            "TagSpecification.1.Tag.1.Key": "k",
                                            "TagSpecification.1.Tag.1.Value": "v"})
        # (Its speed is in tests/bench: the raw page fetch of plan_fleet.py.)
        seen, pages, token = [], 0, None
        while True:
            p = {"MaxResults": "1000", "Filter.1.Name": "tag:k", "Filter.1.Value.1": "v"}
            if token:
                p["NextToken"] = token
            r = call(self.url, "DescribeInstances", p)
            self.assertEqual(r.status, 200, r.body)
            seen += [e.text for e in r.find_all("instanceId")]
            pages += 1
            token = r.text("nextToken")
            if not token:
                break
        self.assertEqual(pages, 10)
        self.assertEqual(len(seen), 10000)
        self.assertEqual(len(set(seen)), 10000)


class TestConformance(SimCase):
    def test_boto3_parses_every_response(self):
        try:
            import boto3
        except ImportError:
            self.skipTest("boto3 not installed: conformance with the official SDK skipped")
        ec2 = boto3.client("ec2", endpoint_url=self.url, region_name="us-east-1",
                           aws_access_key_id="AKIDNESTPLANSIM",
                           aws_secret_access_key="nestplan-sim-secret")
        out = ec2.run_instances(ImageId=AMI, InstanceType="m8i.2xlarge", MinCount=1, MaxCount=1,
                                CpuOptions={"CoreCount": 4, "ThreadsPerCore": 2,
                                            "NestedVirtualization": "enabled"},
                                TagSpecifications=[{"ResourceType": "instance",
                                                    "Tags": [{"Key": "team", "Value": "ci"}]}])
        iid = out["Instances"][0]["InstanceId"]
        desc = ec2.describe_instances(InstanceIds=[iid])
        inst = desc["Reservations"][0]["Instances"][0]
        self.assertEqual(inst["CpuOptions"]["NestedVirtualization"], "enabled")
        self.assertEqual(inst["Tags"], [{"Key": "team", "Value": "ci"}])
        types = ec2.describe_instance_types(InstanceTypes=["m8i.2xlarge"])["InstanceTypes"]
        self.assertIn("nested-virtualization", types[0]["ProcessorInfo"]["SupportedFeatures"])
        with self.assertRaises(Exception) as e:
            ec2.stop_instances(InstanceIds=[iid], DryRun=True)
        self.assertIn("DryRunOperation", str(e.exception))

    def test_aws_cli_lists_instances(self):
        aws = shutil.which("aws")
        if not aws:
            self.skipTest("the AWS CLI is not installed: CLI conformance skipped")
        self.run_one()
        env = dict(os.environ, **self.sim.env())
        r = subprocess.run([aws, "ec2", "describe-instances", "--endpoint-url", self.url,
                            "--output", "json"], env=env, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("m8i.2xlarge", r.stdout)


if __name__ == "__main__":
    unittest.main()
