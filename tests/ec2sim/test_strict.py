"""The simulator is as strict as EC2 (issue 13, point 8): read-after-write
delays, terminated instances vanishing, ClientToken idempotency, NextToken
bound to its request, a fault per action, UnknownParameter from botocore's
model, the tenancy table, accounts, the request log."""
import datetime
import json
import os
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigv4  # noqa: E402
from client import allocate_host, call  # noqa: E402
from harness import Simulator  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
AMI = "ami-0abcdef1234567890"

try:
    import boto3
    import botocore.exceptions
except ImportError:
    boto3 = None


def raw_call(url, action):
    """A signed call whose answer is returned unparsed: (status, type, body)."""
    form = urllib.parse.urlencode({"Action": action, "Version": "2016-11-15"}).encode()
    amz = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8",
               "host": url.split("://")[1], "x-amz-date": amz}
    scope = "%s/us-east-1/ec2/aws4_request" % amz[:8]
    sig = sigv4.signature("POST", "/", "", headers, sorted(headers), form, amz, scope,
                          "nestplan-sim-secret")
    req = urllib.request.Request(url + "/", data=form, method="POST", headers={
        "Content-Type": headers["content-type"], "X-Amz-Date": amz,
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDNESTPLANSIM/%s, SignedHeaders=%s, "
                         "Signature=%s" % (scope, ";".join(sorted(headers)), sig)})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers["Content-Type"], r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


def ids_of(reply):
    return [e.text for e in reply.find_all("instanceId")]


def by_id(iid):
    return {"Filter.1.Name": "instance-id", "Filter.1.Value.1": iid}


class StrictCase(unittest.TestCase):
    options = {}

    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator(transition_seconds=0.05, seed=11, **cls.options)
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

    def state(self, iid):
        r = call(self.url, "DescribeInstances", by_id(iid))
        self.assertEqual(r.status, 200, r.body)
        names = [e.text for e in r.find_all("name")]
        return names[0] if names else None

    def wait_state(self, iid, state, timeout=5):
        end = time.time() + timeout
        while time.time() < end:
            if self.state(iid) == state:
                return
            time.sleep(0.02)
        self.fail("%s never reached %s" % (iid, state))

    def stopped(self, **extra):
        iid = self.run_one(**extra)
        self.wait_state(iid, "running")
        self.assertEqual(call(self.url, "StopInstances", {"InstanceId.1": iid}).status, 200)
        self.wait_state(iid, "stopped")
        return iid

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code


class TestReadAfterWrite(StrictCase):
    def test_describe_shows_the_old_state_for_a_while_after_each_write(self):
        iid = self.stopped()
        # Seed 11's first draw is 0.452 of the range: 0.9 s, ample for the checks below.
        self.sim.faults(stale_ms=2000)
        r = call(self.url, "StartInstances", {"InstanceId.1": iid})
        self.assertEqual(r.text("name"), "pending")  # the write's own answer is current
        self.assertEqual(self.state(iid), "stopped")
        # by id too, and filters match what is shown
        r = call(self.url, "DescribeInstances", {"InstanceId.1": iid})
        self.assertEqual([e.text for e in r.find_all("name")], ["stopped"])
        r = call(self.url, "DescribeInstances", {"Filter.1.Name": "instance-state-name",
                                                 "Filter.1.Value.1": "stopped"})
        self.assertEqual(ids_of(r), [iid])
        self.wait_state(iid, "running", timeout=8)

    def test_attributes_and_tags_lag_too(self):
        iid = self.stopped()
        self.sim.faults(stale_ms=2000)
        r = call(self.url, "ModifyInstanceAttribute", {"InstanceId": iid,
                                                       "InstanceType.Value": "m8i.4xlarge"})
        self.assertEqual(r.status, 200, r.body)
        call(self.url, "CreateTags", {"ResourceId.1": iid, "Tag.1.Key": "k", "Tag.1.Value": "v"})
        r = call(self.url, "DescribeInstances", by_id(iid))
        self.assertEqual((r.text("instanceType"), r.find_all("key")), ("m8i.2xlarge", []))
        self.assertEqual(self.sim.instances()[0]["instance_type"], "m8i.4xlarge")  # the truth
        end = time.time() + 8
        while time.time() < end:
            r = call(self.url, "DescribeInstances", by_id(iid))
            if r.text("instanceType") == "m8i.4xlarge":
                break
            time.sleep(0.02)
        self.assertEqual((r.text("instanceType"), r.text("key")), ("m8i.4xlarge", "k"))

    def test_delays_are_seeded(self):
        import random
        # The delay is the first draw of a stream seeded with --seed, after each reset:
        # the tag can never show earlier than that (a lower bound holds under any load).
        expect = random.Random(11).uniform(0, 1000) / 1000.0
        for _ in range(2):
            self.sim.reset()
            iid = self.run_one()
            self.wait_state(iid, "running")
            self.sim.faults(stale_ms=1000)
            t0 = time.monotonic()
            call(self.url, "CreateTags", {"ResourceId.1": iid, "Tag.1.Key": "k",
                                          "Tag.1.Value": "v"})
            while call(self.url, "DescribeInstances", by_id(iid)).text("key") != "k":
                self.assertLess(time.monotonic() - t0, 10, "never caught up")
                time.sleep(0.01)
            self.assertGreaterEqual(time.monotonic() - t0, expect)

    def test_no_delay_by_default(self):
        iid = self.stopped()
        call(self.url, "StartInstances", {"InstanceId.1": iid})
        self.assertIn(self.state(iid), ("pending", "running"))


class TestStaleFromTheCommandLine(StrictCase):
    options = {"stale_ms": 5000}  # seed 11: 2.3 s

    def test_stale_ms_option(self):
        iid = self.run_one()
        self.wait_state(iid, "running")
        call(self.url, "CreateTags", {"ResourceId.1": iid, "Tag.1.Key": "k", "Tag.1.Value": "v"})
        # seed 11 draws a delay well above a few milliseconds
        self.assertIsNone(call(self.url, "DescribeInstances", by_id(iid)).text("key"))


class TestTerminatedVanish(StrictCase):
    def test_terminated_instances_vanish_after_the_ttl(self):
        iid = self.run_one()
        self.wait_state(iid, "running")
        call(self.url, "TerminateInstances", {"InstanceId.1": iid})
        self.wait_state(iid, "terminated")
        self.sim.faults(terminated_ttl_s=0.3)  # counted from the termination
        time.sleep(0.4)
        self.assertEqual(ids_of(call(self.url, "DescribeInstances", by_id(iid))), [])
        self.assertEqual(ids_of(call(self.url, "DescribeInstances")), [])
        r = call(self.url, "DescribeInstances", {"InstanceId.1": iid})
        self.assertEqual((r.status, r.code), (400, "InvalidInstanceID.NotFound"))

    def test_default_ttl_is_an_hour(self):
        iid = self.run_one()
        self.sim.set_instance(iid, state="terminated")
        self.assertEqual(self.state(iid), "terminated")
        self.assertEqual(self.sim.faults()["faults"]["terminated_ttl_s"], 3600)


class TestTerminatedTtlOption(StrictCase):
    options = {"terminated_ttl": 0}

    def test_option(self):
        iid = self.run_one()
        self.sim.set_instance(iid, state="terminated")
        self.assertIsNone(self.state(iid))


class TestClientToken(StrictCase):
    def test_same_token_same_parameters_returns_the_original_reservation(self):
        p = {"ImageId": AMI, "InstanceType": "m8i.large", "MinCount": "2", "MaxCount": "2",
             "ClientToken": "np-abc-1"}
        a = call(self.url, "RunInstances", p)
        b = call(self.url, "RunInstances", p)
        self.assertEqual(b.status, 200, b.body)
        self.assertEqual((a.text("reservationId"), ids_of(a)), (b.text("reservationId"), ids_of(b)))
        self.assertEqual(len(self.sim.instances()), 2)
        r = call(self.url, "DescribeInstances", {"Filter.1.Name": "client-token",
                                                 "Filter.1.Value.1": "np-abc-1"})
        self.assertEqual(sorted(ids_of(r)), sorted(ids_of(a)))

    def test_same_token_other_parameters_is_a_mismatch(self):
        self.run_one(ClientToken="t1")
        r = call(self.url, "RunInstances", {"ImageId": AMI, "InstanceType": "m8i.2xlarge",
                                            "MinCount": "1", "MaxCount": "1", "ClientToken": "t1",
                                            "TagSpecification.1.ResourceType": "instance",
                                            "TagSpecification.1.Tag.1.Key": "a",
                                            "TagSpecification.1.Tag.1.Value": "b"})
        self.assertEqual((r.status, r.code), (400, "IdempotentParameterMismatch"))
        self.assertEqual(len(self.sim.instances()), 1)

    def test_token_outlives_the_instance_in_describe(self):
        self.sim.faults(terminated_ttl_s=0)
        iid = self.run_one(ClientToken="t2")
        self.sim.set_instance(iid, state="terminated")
        self.assertIsNone(self.state(iid))
        self.assertEqual(self.run_one(ClientToken="t2"), iid)
        self.assertEqual(len(self.sim.instances()), 1)

    def test_tokens_longer_than_64_or_not_ascii_are_refused(self):
        self.run_one(ClientToken="x" * 64)
        for bad in ("x" * 65, "jeton-\u00e9"):
            r = call(self.url, "RunInstances", {"ImageId": AMI, "MinCount": "1", "MaxCount": "1",
                                                "InstanceType": "m8i.large", "ClientToken": bad})
            self.assertEqual((r.status, r.code), (400, "InvalidParameterValue"))
        self.assertEqual(len(self.sim.instances()), 1)

    def test_tokens_are_per_account(self):
        a = self.run_one(ClientToken="t3")
        self.sim.account("210987654321")
        b = self.run_one(ClientToken="t3")
        self.assertNotEqual(a, b)


class TestNextToken(StrictCase):
    def fleet(self, n=12):
        r = call(self.url, "RunInstances", {"ImageId": AMI, "InstanceType": "m8i.large",
                                            "MinCount": str(n), "MaxCount": str(n),
                                            "TagSpecification.1.ResourceType": "instance",
                                            "TagSpecification.1.Tag.1.Key": "k",
                                            "TagSpecification.1.Tag.1.Value": "v"})
        self.assertEqual(r.status, 200, r.body)

    def first(self, **extra):
        p = {"MaxResults": "5", "Filter.1.Name": "tag:k", "Filter.1.Value.1": "v"}
        p.update(extra)
        r = call(self.url, "DescribeInstances", p)
        self.assertEqual(r.status, 200, r.body)
        return p, r.text("nextToken")

    def test_token_with_other_filters_or_page_size_is_refused(self):
        self.fleet()
        p, token = self.first()
        self.assertTrue(token)
        for change in ({"Filter.1.Value.1": "w"}, {"MaxResults": "6"},
                       {"Filter.2.Name": "instance-state-name", "Filter.2.Value.1": "running"}):
            r = call(self.url, "DescribeInstances", dict(p, NextToken=token, **change))
            self.assertEqual((r.status, r.code), (400, "InvalidParameterValue"), change)
        r = call(self.url, "DescribeInstances", dict(p, NextToken=token))
        self.assertEqual((r.status, len(ids_of(r))), (200, 5))

    def test_forged_and_other_account_tokens_are_refused(self):
        import base64
        self.fleet()
        p, token = self.first()
        forged = base64.b64encode(b"page:0").decode()
        self.assertEqual(call(self.url, "DescribeInstances", dict(p, NextToken=forged)).code,
                         "InvalidParameterValue")
        self.sim.account("210987654321")
        self.assertEqual(call(self.url, "DescribeInstances", dict(p, NextToken=token)).code,
                         "InvalidParameterValue")

    def test_tokens_expire(self):
        self.fleet()
        self.sim.faults(next_token_ttl_s=0.2)
        p, token = self.first()
        time.sleep(0.3)
        r = call(self.url, "DescribeInstances", dict(p, NextToken=token))
        self.assertEqual((r.status, r.code), (400, "InvalidParameterValue"))
        self.assertIn("expired", r.text("Message"))

    def test_instance_type_tokens_are_bound_too(self):
        p = {"MaxResults": "5", "Filter.1.Name": "instance-type", "Filter.1.Value.1": "m8i*"}
        token = call(self.url, "DescribeInstanceTypes", p).text("nextToken")
        self.assertTrue(token)
        self.assertEqual(call(self.url, "DescribeInstanceTypes",
                              dict(p, NextToken=token)).status, 200)
        r = call(self.url, "DescribeInstanceTypes",
                 dict(p, NextToken=token, **{"Filter.1.Value.1": "c8i*"}))
        self.assertEqual(r.code, "InvalidParameterValue")


class TestActionErrors(StrictCase):
    def test_dry_run_fault_applies_to_dry_runs_only(self):
        iid = self.stopped()
        self.sim.faults(action_errors={"ModifyInstanceCpuOptions": {
            "code": "InternalError", "status": 500, "dry_run": True}})
        p = {"InstanceId": iid, "CoreCount": "2", "ThreadsPerCore": "2"}
        r = call(self.url, "ModifyInstanceCpuOptions", dict(p, DryRun="true"))
        self.assertEqual((r.status, r.code), (500, "InternalError"))
        r = call(self.url, "ModifyInstanceCpuOptions", p)
        self.assertEqual(r.status, 200, r.body)

    def test_real_call_fault_is_the_default_and_count_limits_it(self):
        iid = self.stopped()
        self.sim.faults(action_errors={"StartInstances": {
            "code": "Unavailable", "status": 503, "message": "down", "count": 2}})
        r = call(self.url, "StartInstances", {"InstanceId.1": iid, "DryRun": "true"})
        self.assertEqual(r.code, "DryRunOperation")
        for _ in range(2):
            r = call(self.url, "StartInstances", {"InstanceId.1": iid})
            self.assertEqual((r.status, r.code, r.text("Message")), (503, "Unavailable", "down"))
        self.assertEqual(call(self.url, "StartInstances", {"InstanceId.1": iid}).status, 200)

    def test_html_answer_and_clearing(self):
        self.sim.faults(action_errors={"DescribeInstances": {"status": 502, "html": True}})
        status, ctype, body = raw_call(self.url, "DescribeInstances")
        self.assertEqual((status, ctype.split(";")[0]), (502, "text/html"))
        self.assertTrue(body.startswith(b"<!DOCTYPE html>"), body)
        self.sim.faults(action_errors={})
        self.assertEqual(call(self.url, "DescribeInstances").status, 200)

    def test_bad_specs_are_refused(self):
        for bad in ({"X": {"colour": "red"}}, {"X": {"status": 200}}, {"X": {"count": -1}},
                    {"X": "boom"}):
            self.assertEqual(self.post("/_sim/faults", {"action_errors": bad}), 400, bad)


class TestUnknownParameter(StrictCase):
    def test_dry_run_on_modify_instance_placement_is_unknown(self):
        iid = self.stopped()
        r = call(self.url, "ModifyInstancePlacement", {"InstanceId": iid, "Tenancy": "host",
                                                       "DryRun": "true"})
        self.assertEqual((r.status, r.code), (400, "UnknownParameter"))
        self.assertEqual(r.text("Message"), "The parameter DryRun is not recognized")

    def test_names_outside_the_input_shape_are_unknown(self):
        iid = self.run_one()
        cases = [("DescribeInstances", {"InstanceIds.1": iid}),
                 ("DescribeInstances", {"Filter.1.Values.1": "x", "Filter.1.Name": "tag-key"}),
                 ("DescribeInstances", {"InstanceId.0": iid}),
                 ("RunInstances", {"ImageId": AMI, "MinCount": "1", "MaxCount": "1",
                                   "SecurityGroupIds.1": "sg-0123456789abcdef0"}),
                 ("CreateTags", {"ResourceId.1": iid, "Tags.1.Key": "k"}),
                 ("StopInstances", {"InstanceId.1": iid, "Bogus": "1"})]
        for action, p in cases:
            r = call(self.url, action, p)
            self.assertEqual((r.status, r.code), (400, "UnknownParameter"), (action, p))
        self.assertEqual(len(self.sim.instances()), 1)

    def test_every_name_nestplan_sends_is_known(self):
        iid = self.run_one(**{
            "KeyName": "k", "SubnetId": "subnet-0123456789abcdef0",
            "SecurityGroupId.1": "sg-0123456789abcdef0", "ClientToken": "t",
            "CpuOptions.CoreCount": "2", "CpuOptions.ThreadsPerCore": "2",
            "CpuOptions.NestedVirtualization": "enabled", "Placement.AvailabilityZone": "us-east-1a",
            "HibernationOptions.Configured": "false", "UserData": "aGk=",
            "TagSpecification.1.ResourceType": "instance", "TagSpecification.1.Tag.1.Key": "a",
            "TagSpecification.1.Tag.1.Value": "b", "TagSpecification.1.Tag.12.Key": "c"})
        r = call(self.url, "DescribeInstances", {"Filter.1.Name": "instance-id",
                                                 "Filter.1.Value.1": iid, "MaxResults": "5",
                                                 "Filter.2.Name": "tag-key",
                                                 "Filter.2.Value.10": "a"})
        self.assertEqual(r.status, 200, r.body)

    def test_the_table_is_what_the_generator_makes(self):
        try:
            import botocore  # noqa: F401
        except ImportError:
            self.skipTest("botocore not installed: ec2_params.json not checked against it")
        import importlib.util
        import tempfile
        spec = importlib.util.spec_from_file_location("gen_params",
                                                      os.path.join(HERE, "gen_params.py"))
        gen = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(gen)
        with tempfile.TemporaryDirectory() as d:
            gen.OUT = os.path.join(d, "ec2_params.json")
            gen.main()
            with open(gen.OUT) as f:
                fresh = json.load(f)["actions"]
        with open(os.path.join(HERE, "ec2_params.json")) as f:
            committed = json.load(f)["actions"]
        self.assertEqual(committed, fresh, "regenerate with tests/ec2sim/gen_params.py")


class TestPlacement(StrictCase):
    def placement(self, iid, **p):
        return call(self.url, "ModifyInstancePlacement", dict(p, InstanceId=iid))

    def test_allowed_directions(self):
        iid = self.stopped(**{"Placement.Tenancy": "dedicated"})
        r = self.placement(iid, Tenancy="host")
        self.assertEqual(r.status, 200, r.body)
        host = allocate_host(self.url)
        r = self.placement(iid, HostId=host, Affinity="host")
        self.assertEqual(r.status, 200, r.body)
        inst = self.sim.instances()[0]
        self.assertEqual((inst["tenancy"], inst["host_id"]), ("host", host))

    def test_refused_directions_name_the_direction(self):
        for start, target in (("default", "dedicated"), ("default", "host"),
                              ("dedicated", "default"), ("host", "default"),
                              ("host", "dedicated")):
            self.sim.reset()
            if start == "host":
                allocate_host(self.url)
            iid = self.stopped(**{"Placement.Tenancy": start})
            r = self.placement(iid, Tenancy=target)
            self.assertEqual((r.status, r.code), (400, "InvalidRequest"), (start, target))
            self.assertIn("from %s to %s" % (start, target), r.text("Message"))
            self.assertEqual(self.sim.instances()[0]["tenancy"], start)

    def test_a_host_id_alone_moves_a_default_instance_to_a_host(self):
        iid = self.stopped()
        r = self.placement(iid, HostId="h-0123456789abcdef0")
        self.assertEqual(r.code, "InvalidRequest")

    def test_not_stopped_is_incorrect_state(self):
        iid = self.run_one(**{"Placement.Tenancy": "dedicated"})
        self.wait_state(iid, "running")
        r = self.placement(iid, Tenancy="host")
        self.assertEqual((r.status, r.code), (400, "IncorrectInstanceState"))


class TestAccounts(StrictCase):
    def test_each_account_sees_its_own_instances(self):
        a = self.run_one()
        r = call(self.url, "DescribeInstances", {"InstanceId.1": a})
        self.assertEqual(r.text("ownerId"), "123456789012")
        self.assertEqual(self.sim.account("210987654321"), "210987654321")
        b = self.run_one()
        self.assertEqual(ids_of(call(self.url, "DescribeInstances")), [b])
        for action, p in (("DescribeInstances", {"InstanceId.1": a}),
                          ("StopInstances", {"InstanceId.1": a}),
                          ("CreateTags", {"ResourceId.1": a, "Tag.1.Key": "k", "Tag.1.Value": "v"}),
                          ("ModifyInstanceAttribute", {"InstanceId": a,
                                                       "InstanceType.Value": "m8i.large"}),
                          ("TerminateInstances", {"InstanceId.1": a})):
            r = call(self.url, action, p)
            self.assertEqual((r.status, r.code), (400, "InvalidInstanceID.NotFound"), action)
        r = call(self.url, "DescribeInstances", {"InstanceId.1": b})
        self.assertEqual(r.text("ownerId"), "210987654321")
        owners = {i["instance_id"]: i["account_id"] for i in self.sim.instances()}
        self.assertEqual(owners, {a: "123456789012", b: "210987654321"})
        self.sim.reset()
        self.assertEqual(self.sim.account(), "123456789012")

    def test_bad_account_is_refused(self):
        self.assertEqual(self.post("/_sim/account", {"account_id": "12345"}), 400)


class TestAccountOption(StrictCase):
    options = {"account_id": "555566667777"}

    def test_option(self):
        r = call(self.url, "RunInstances", {"ImageId": AMI, "InstanceType": "m8i.large",
                                            "MinCount": "1", "MaxCount": "1"})
        self.assertEqual(r.text("ownerId"), "555566667777")
        self.assertEqual(self.sim.instances()[0]["account_id"], "555566667777")


class TestLifecycle(StrictCase):
    def test_start_goes_through_pending_and_stop_through_stopping(self):
        sim = Simulator(transition_seconds=1.0, seed=3)
        with sim:
            r = call(sim.url, "RunInstances", {"ImageId": AMI, "InstanceType": "m8i.large",
                                               "MinCount": "1", "MaxCount": "1"})
            iid = r.text("instanceId")
            time.sleep(1.1)
            r = call(sim.url, "StopInstances", {"InstanceId.1": iid})
            self.assertEqual(r.text("name"), "stopping")
            self.assertEqual(sim.instances()[0]["state"], "stopping")
            time.sleep(1.1)
            self.assertEqual(sim.instances()[0]["state"], "stopped")
            r = call(sim.url, "StartInstances", {"InstanceId.1": iid})
            self.assertEqual(r.text("name"), "pending")
            self.assertEqual(sim.instances()[0]["state"], "pending")
            time.sleep(1.1)
            self.assertEqual(sim.instances()[0]["state"], "running")

    def test_type_change_resets_cpu_options_and_nested_virtualization(self):
        iid = self.stopped(**{"CpuOptions.CoreCount": "2", "CpuOptions.ThreadsPerCore": "1",
                              "CpuOptions.NestedVirtualization": "enabled"})
        r = call(self.url, "ModifyInstanceAttribute", {"InstanceId": iid,
                                                       "InstanceType.Value": "c8i.4xlarge"})
        self.assertEqual(r.status, 200, r.body)
        r = call(self.url, "DescribeInstances", {"InstanceId.1": iid})
        self.assertEqual((r.text("coreCount"), r.text("threadsPerCore"),
                          r.text("nestedVirtualization")), ("8", "2", "disabled"))


class TestRequestLog(StrictCase):
    def test_every_request_with_its_parameters(self):
        iid = self.run_one(ClientToken="t9")
        call(self.url, "DescribeInstances", {"Filter.1.Name": "instance-id",
                                             "Filter.1.Value.1": iid})
        call(self.url, "Bogus")
        reqs = self.sim.requests()
        self.assertEqual([r["action"] for r in reqs], ["RunInstances", "DescribeInstances",
                                                       "Bogus"])
        self.assertEqual(reqs[0]["params"]["ClientToken"], "t9")
        self.assertEqual(reqs[1]["params"]["Filter.1.Value.1"], iid)
        self.assertEqual([r["status"] for r in reqs], [200, 200, 400])
        self.sim.reset()
        self.assertEqual(self.sim.requests(), [])

    def test_bounded(self):
        sys.path.insert(0, HERE)
        import ec2sim
        self.assertEqual(ec2sim.REQUEST_LOG_SIZE, 10000)
        for _ in range(3):
            call(self.url, "DescribeInstances")
        self.assertEqual(len(self.sim.requests()), 3)


@unittest.skipUnless(boto3, "boto3 not installed: the SDK's view of the strict rules is skipped")
class TestWithBoto3(StrictCase):
    def client(self):
        return boto3.client("ec2", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="AKIDNESTPLANSIM",
                            aws_secret_access_key="nestplan-sim-secret")

    def test_idempotency_and_mismatch(self):
        ec2 = self.client()
        kw = dict(ImageId=AMI, InstanceType="m8i.large", MinCount=1, MaxCount=1, ClientToken="b1")
        a = ec2.run_instances(**kw)
        b = ec2.run_instances(**kw)
        self.assertEqual(a["ReservationId"], b["ReservationId"])
        self.assertEqual(a["OwnerId"], "123456789012")
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            ec2.run_instances(**dict(kw, InstanceType="m8i.xlarge"))
        self.assertEqual(e.exception.response["Error"]["Code"], "IdempotentParameterMismatch")
        got = ec2.describe_instances(Filters=[{"Name": "client-token", "Values": ["b1"]}])
        self.assertEqual(len(got["Reservations"][0]["Instances"]), 1)

    def test_paginator_walks_and_a_changed_request_is_refused(self):
        ec2 = self.client()
        ec2.run_instances(ImageId=AMI, InstanceType="m8i.large", MinCount=12, MaxCount=12)
        pages = list(ec2.get_paginator("describe_instances").paginate(
            PaginationConfig={"PageSize": 5}))
        self.assertEqual(sum(len(r["Instances"]) for p in pages for r in p["Reservations"]), 12)
        token = ec2.describe_instances(MaxResults=5)["NextToken"]
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            ec2.describe_instances(MaxResults=6, NextToken=token)
        self.assertEqual(e.exception.response["Error"]["Code"], "InvalidParameterValue")

    def test_botocore_sends_no_dry_run_for_placement_and_the_fault_per_action(self):
        ec2 = self.client()
        iid = ec2.run_instances(ImageId=AMI, InstanceType="m8i.large", MinCount=1,
                                MaxCount=1)["Instances"][0]["InstanceId"]
        self.wait_state(iid, "running")
        ec2.stop_instances(InstanceIds=[iid])
        self.wait_state(iid, "stopped")
        self.sim.faults(action_errors={"ModifyInstanceCpuOptions": {"dry_run": True}})
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            ec2.modify_instance_cpu_options(InstanceId=iid, CoreCount=1, ThreadsPerCore=2,
                                            DryRun=True)
        self.assertEqual(e.exception.response["Error"]["Code"], "InternalError")
        out = ec2.modify_instance_cpu_options(InstanceId=iid, CoreCount=1, ThreadsPerCore=2)
        self.assertEqual(out["CoreCount"], 1)
        with self.assertRaises(Exception):  # botocore's own validation refuses DryRun here
            ec2.modify_instance_placement(InstanceId=iid, Tenancy="host", DryRun=True)
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            ec2.modify_instance_placement(InstanceId=iid, Tenancy="dedicated")
        self.assertEqual(e.exception.response["Error"]["Code"], "InvalidRequest")


if __name__ == "__main__":
    unittest.main()
