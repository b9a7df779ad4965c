"""Dedicated Hosts in the simulator (issue 18, point 5): AllocateHosts,
DescribeHosts, ModifyHosts, ReleaseHosts, tags, EC2's capacity model and
host-tenancy launches and starts. README.md gives each rule's source."""
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
AZ = "us-east-1a"


class HostCase(unittest.TestCase):
    options = {"host_placement": "strict"}

    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator(transition_seconds=0.05, seed=21, **cls.options)
        cls.sim.__enter__()
        cls.url = cls.sim.url

    @classmethod
    def tearDownClass(cls):
        cls.sim.__exit__(None, None, None)

    def setUp(self):
        self.sim.reset()

    def allocate(self, quantity=1, **extra):
        p = {"InstanceFamily": "m8i", "AvailabilityZone": AZ, "Quantity": str(quantity)}
        p.update(extra)
        if "InstanceType" in extra:
            del p["InstanceFamily"]
        r = call(self.url, "AllocateHosts", p)
        self.assertEqual(r.status, 200, r.body)
        return [e.text for e in items_under(r, "hostIdSet")]

    def launch(self, itype="m8i.4xlarge", count=1, host=None, expect=200, **extra):
        p = {"ImageId": AMI, "InstanceType": itype, "MinCount": str(extra.pop("lo", count)),
             "MaxCount": str(count), "Placement.Tenancy": "host"}
        if host:
            p["Placement.HostId"] = host
        p.update(extra)
        r = call(self.url, "RunInstances", p)
        self.assertEqual(r.status, expect, r.body)
        return r if expect != 200 else [e.text for e in r.find_all("instanceId")]

    def describe(self, *ids, **params):
        p = dict(params)
        for n, h in enumerate(ids, 1):
            p["HostId.%d" % n] = h
        r = call(self.url, "DescribeHosts", p)
        self.assertEqual(r.status, 200, r.body)
        return {child(e, "hostId"): e for e in items_under(r, "hostSet")}

    def capacity(self, host_item):
        return {child(i, "instanceType"): (int(child(i, "availableCapacity")),
                                            int(child(i, "totalCapacity")))
                for i in items_under(host_item, "availableInstanceCapacity")}

    def wait_state(self, iid, state):
        for _ in range(200):
            r = call(self.url, "DescribeInstances", {"InstanceId.1": iid})
            if r.text("name") == state:
                return
            time.sleep(0.02)
        self.fail("%s never became %s" % (iid, state))

    def batch(self, reply):
        ok = [e.text for e in items_under(reply, "successful")]
        bad = {child(e, "resourceId"): child(e, "code") for e in items_under(reply, "unsuccessful")}
        return ok, bad


class TestAllocateAndPlace(HostCase):
    def test_two_m8i_hosts_hold_six_m8i_4xlarge_by_host_id(self):
        hosts = self.allocate(2, AutoPlacement="off", HostRecovery="on",
                              **{"TagSpecification.1.ResourceType": "dedicated-host",
                                 "TagSpecification.1.Tag.1.Key": "team",
                                 "TagSpecification.1.Tag.1.Value": "ci"})
        self.assertEqual(len(hosts), 2)
        for n in range(6):
            self.launch(host=hosts[n % 2])
        seen = self.describe(*hosts)
        for h in hosts:
            item = seen[h]
            self.assertEqual((child(item, "state"), child(item, "autoPlacement"),
                              child(item, "hostRecovery"), child(item, "availabilityZone"),
                              child(item, "allowsMultipleInstanceTypes")),
                             ("available", "off", "on", AZ, "on"))
            props = [e for e in item if e.tag.endswith("hostProperties")][0]
            # the family's largest size, m8i.96xlarge: 192 cores, 384 vCPUs
            self.assertEqual((child(props, "cores"), child(props, "sockets"),
                              child(props, "totalVCpus"), child(props, "instanceFamily"),
                              child(props, "instanceType")), ("192", "2", "384", "m8i", None))
            self.assertEqual(child(item, "availableVCpus"), str(384 - 3 * 16))
            cap = self.capacity(item)
            self.assertEqual(cap["m8i.4xlarge"], (24 - 3, 24))   # 8 cores each
            self.assertEqual(cap["m8i.96xlarge"], (0, 1))
            self.assertEqual(cap["m8i.large"], (192 - 24, 192))  # 1 core each
            self.assertNotIn("m8i-flex.large", cap)
            on_host = items_under(item, "instances")
            self.assertEqual([child(i, "instanceType") for i in on_host], ["m8i.4xlarge"] * 3)
            self.assertEqual(child(on_host[0], "ownerId"), "123456789012")
            self.assertIsNotNone(child(item, "allocationTime"))
            self.assertIsNone(child(item, "releaseTime"))
            tags = items_under(item, "tagSet")
            self.assertEqual([(child(t, "key"), child(t, "value")) for t in tags], [("team", "ci")])
        r = call(self.url, "DescribeInstances", {"Filter.1.Name": "host-id",
                                                 "Filter.1.Value.1": hosts[0]})
        self.assertEqual(len(r.find_all("instanceId")), 3)
        self.assertEqual({e.text for e in r.find_all("tenancy")}, {"host"})
        self.assertEqual({e.text for e in r.find_all("hostId")}, {hosts[0]})
        self.assertEqual(r.text("availabilityZone"), AZ)
        control = {h["host_id"]: h for h in self.sim.hosts()}
        self.assertEqual(len(control[hosts[1]]["instances"]), 3)
        self.assertEqual(control[hosts[1]]["available_capacity"]["m8i.4xlarge"], 21)

    def test_a_single_type_host_holds_cores_over_the_types_cores(self):
        # "48 physical cores / 8 cores per instance = 6 instances" (User Guide): here 192 / 8
        (h,) = self.allocate(InstanceType="m8i.4xlarge")
        item = self.describe(h)[h]
        self.assertEqual(self.capacity(item), {"m8i.4xlarge": (24, 24)})
        self.assertEqual(child(item, "allowsMultipleInstanceTypes"), "off")
        r = self.launch("m8i.2xlarge", host=h, expect=400)
        self.assertEqual(r.code, "IncompatibleHostRequirements")
        self.launch(count=24, host=h)
        r = self.launch(host=h, expect=400)
        self.assertEqual(r.code, "InsufficientCapacityOnHost")
        self.assertIn("has insufficient capacity", r.text("Message"))

    def test_allocation_checks(self):
        cases = [({"InstanceFamily": "m8i", "InstanceType": "m8i.large"},
                  "InvalidParameterCombination"),
                 ({"InstanceFamily": "m8i-flex"}, "InvalidHostConfiguration"),
                 ({"InstanceType": "m8i-flex.large", "InstanceFamily": None},
                  "InvalidHostConfiguration"),
                 ({"AvailabilityZone": "eu-west-1a"}, "InvalidAvailabilityZone"),
                 ({"AutoPlacement": "yes"}, "InvalidAutoPlacement"),
                 ({"Quantity": None}, "MissingParameter"),
                 ({"Quantity": "0"}, "InvalidParameterValue"),
                 ({"TagSpecification.1.ResourceType": "instance",
                   "TagSpecification.1.Tag.1.Key": "a"}, "InvalidParameterValue")]
        for extra, code in cases:
            p = {"InstanceFamily": "m8i", "AvailabilityZone": AZ, "Quantity": "1"}
            p.update(extra)
            p = {k: v for k, v in p.items() if v is not None}
            r = call(self.url, "AllocateHosts", p)
            self.assertEqual((r.status, r.code), (400, code), (extra, r.body))
        self.assertEqual(self.sim.hosts(), [])

    def test_host_calls_have_no_dry_run(self):
        for action in ("AllocateHosts", "DescribeHosts", "ModifyHosts", "ReleaseHosts"):
            r = call(self.url, action, {"DryRun": "true"})
            self.assertEqual((r.status, r.code), (400, "UnknownParameter"), action)


class TestCapacity(HostCase):
    def test_a_full_host_refuses_and_min_count_decides(self):
        (h,) = self.allocate()
        self.launch("m8i.48xlarge", count=2, host=h)   # 2 x 96 cores: full
        r = self.launch("m8i.large", host=h, expect=400)
        self.assertEqual(r.code, "InsufficientCapacityOnHost")
        (h2,) = self.allocate()
        self.launch("m8i.48xlarge", host=h2)
        # 96 cores left: MaxCount 20 x 8 = 160, MinCount 3: launches 12
        got = self.launch(count=20, lo=3, host=h2)
        self.assertEqual(len(got), 12)
        r = self.launch(count=2, lo=1, host=h2, expect=400)
        self.assertEqual(r.code, "InsufficientCapacityOnHost")

    def test_other_family_zone_and_unknown_hosts_are_refused(self):
        (h,) = self.allocate()
        r = self.launch("c8i.large", host=h, expect=400)
        self.assertEqual(r.code, "IncompatibleHostRequirements")
        r = self.launch(host=h, expect=400, **{"Placement.AvailabilityZone": "us-east-1b"})
        self.assertEqual(r.code, "ZonesMismatched")
        r = self.launch(host="h-0123456789abcdef0", expect=400)
        self.assertEqual(r.code, "InvalidHostID.NotFound")
        self.sim.set_host(h, state="under-assessment")
        r = self.launch(host=h, expect=400)
        self.assertEqual(r.code, "InvalidHostState")

    def test_start_needs_capacity_again(self):
        (h,) = self.allocate()
        first = self.launch("m8i.48xlarge", count=2, host=h, **{"Placement.Affinity": "host"})
        self.wait_state(first[0], "running")
        call(self.url, "StopInstances", {"InstanceId.1": first[0]})
        self.wait_state(first[0], "stopped")
        # a stopped instance holds nothing: the freed cores take another
        self.assertEqual(self.describe(h)[h].find(".//{*}availableVCpus").text, "192")
        self.launch("m8i.48xlarge", host=h)
        r = call(self.url, "StartInstances", {"InstanceId.1": first[0]})
        self.assertEqual((r.status, r.code), (400, "InsufficientCapacityOnHost"), r.body)
        self.assertEqual(self.sim.instances()[0]["state"], "stopped")


class TestAutoPlacement(HostCase):
    def test_untargeted_launches_go_to_auto_placement_hosts_only(self):
        r = self.launch(expect=400)
        self.assertEqual(r.code, "InsufficientHostCapacity")
        self.assertIn("You do not have a host with a matching configuration", r.text("Message"))
        (off,) = self.allocate(AutoPlacement="off")
        r = self.launch(expect=400)
        self.assertEqual(r.code, "InsufficientHostCapacity")
        (on,) = self.allocate(AutoPlacement="on")
        iid = self.launch()[0]
        self.assertEqual(self.sim.instances()[0]["host_id"], on)
        self.assertEqual(child(self.describe(on)[on], "instanceId"), iid)
        # the auto host fills up (24 m8i.4xlarge), then nothing takes more
        self.assertEqual(len(self.launch(count=23)), 23)
        r = self.launch(expect=400)
        self.assertEqual(r.code, "InsufficientHostCapacity")
        r = call(self.url, "ModifyHosts", {"HostId.1": off, "AutoPlacement": "on"})
        self.assertEqual(self.batch(r), ([off], {}))
        self.launch()
        self.assertEqual(len(self.describe(off)[off].findall(".//{*}instances/{*}item")), 1)

    def test_a_stopped_default_affinity_instance_starts_on_any_auto_host(self):
        (a,) = self.allocate(AutoPlacement="on")
        iid = self.launch(host=a, **{"Placement.Affinity": "default"})[0]
        self.wait_state(iid, "running")
        call(self.url, "StopInstances", {"InstanceId.1": iid})
        self.wait_state(iid, "stopped")
        self.assertEqual(self.batch(call(self.url, "ReleaseHosts", {"HostId.1": a})), ([a], {}))
        r = call(self.url, "StartInstances", {"InstanceId.1": iid})
        self.assertEqual(r.code, "InsufficientHostCapacity")
        (b,) = self.allocate(AutoPlacement="on")
        r = call(self.url, "StartInstances", {"InstanceId.1": iid})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.sim.instances()[0]["host_id"], b)


class TestRelease(HostCase):
    def test_refused_while_instances_are_on_it_then_released_after_terminate(self):
        h, other = self.allocate(2)
        iid = self.launch(host=h)[0]
        r = call(self.url, "ReleaseHosts", {"HostId.1": h, "HostId.2": other})
        self.assertEqual(r.status, 200)
        ok, bad = self.batch(r)
        self.assertEqual((ok, bad), ([other], {h: "Client.InvalidHost.Occupied"}))
        self.assertIn("cannot be released as it is occupied", r.text("message"))
        call(self.url, "TerminateInstances", {"InstanceId.1": iid})
        # shutting-down still occupies the host
        ok, bad = self.batch(call(self.url, "ReleaseHosts", {"HostId.1": h}))
        self.assertEqual(bad, {h: "Client.InvalidHost.Occupied"})
        self.wait_state(iid, "terminated")
        self.assertEqual(self.batch(call(self.url, "ReleaseHosts", {"HostId.1": h})), ([h], {}))
        ok, bad = self.batch(call(self.url, "ReleaseHosts", {"HostId.1": h}))
        self.assertEqual(bad, {h: "Client.InvalidHostID.NotFound"})

    def test_stopped_instances_do_not_hold_a_release(self):
        # "You must stop or terminate all instances on a host before it can be released"
        (h,) = self.allocate()
        iid = self.launch(host=h, **{"Placement.Affinity": "host"})[0]
        self.wait_state(iid, "running")
        call(self.url, "StopInstances", {"InstanceId.1": iid})
        ok, bad = self.batch(call(self.url, "ReleaseHosts", {"HostId.1": h}))
        self.assertEqual(bad, {h: "Client.InvalidHost.Occupied"})   # still stopping
        self.wait_state(iid, "stopped")
        self.assertEqual(self.batch(call(self.url, "ReleaseHosts", {"HostId.1": h})), ([h], {}))
        r = call(self.url, "StartInstances", {"InstanceId.1": iid})
        self.assertEqual((r.status, r.code), (400, "IncompatibleHostRequirements"))

    def test_released_hosts_stay_listed_for_a_while_then_go(self):
        self.sim.faults(released_host_ttl_s=0.4)
        h, kept = self.allocate(2)
        call(self.url, "ReleaseHosts", {"HostId.1": h})
        item = self.describe(h)[h]
        self.assertEqual(child(item, "state"), "released")
        self.assertIsNotNone(child(item, "releaseTime"))
        self.assertEqual(list(self.describe(**{"Filter.1.Name": "state",
                                                "Filter.1.Value.1": "released"})), [h])
        r = self.launch(host=h, expect=400)
        self.assertEqual(r.code, "InvalidHostID.NotFound")
        r = call(self.url, "CreateTags", {"ResourceId.1": h, "Tag.1.Key": "a"})
        self.assertEqual(r.code, "InvalidHostID.NotFound")
        time.sleep(0.5)
        self.assertEqual(list(self.describe()), [kept])
        r = call(self.url, "DescribeHosts", {"HostId.1": h})
        self.assertEqual((r.status, r.code), (400, "InvalidHostID.NotFound"))
        self.assertEqual([x["state"] for x in self.sim.hosts()], ["released", "available"])


class TestModify(HostCase):
    def test_per_host_failures_are_unsuccessful_inside_a_200(self):
        fam, single = self.allocate(2)
        call(self.url, "ModifyHosts", {"HostId.1": single, "InstanceType": "m8i.4xlarge"})
        self.launch(host=single)
        self.launch("m8i.large", host=fam)
        r = call(self.url, "ModifyHosts", {"HostId.1": fam, "HostId.2": "h-0123456789abcdef0",
                                           "HostRecovery": "on"})
        self.assertEqual(r.status, 200)
        self.assertEqual(self.batch(r), ([fam], {"h-0123456789abcdef0":
                                                 "Client.InvalidHostID.NotFound"}))
        self.assertEqual(child(self.describe(fam)[fam], "hostRecovery"), "on")
        # one type only while other types run: refused; the family cannot change
        r = call(self.url, "ModifyHosts", {"HostId.1": fam, "InstanceType": "m8i.xlarge"})
        self.assertEqual(self.batch(r), ([], {fam: "Client.InvalidHost.Occupied"}))
        r = call(self.url, "ModifyHosts", {"HostId.1": fam, "InstanceFamily": "c8i"})
        self.assertEqual(self.batch(r), ([], {fam: "Client.InvalidInstanceFamily"}))
        r = call(self.url, "ModifyHosts", {"HostId.1": fam, "InstanceType": "c8i.large"})
        self.assertEqual(self.batch(r), ([], {fam: "Client.InvalidHostConfiguration"}))
        # back to the whole family only when nothing runs on it
        r = call(self.url, "ModifyHosts", {"HostId.1": single, "InstanceFamily": "m8i"})
        self.assertEqual(self.batch(r), ([], {single: "Client.InvalidHost.Occupied"}))
        (empty,) = self.allocate(InstanceType="m8i.4xlarge")
        r = call(self.url, "ModifyHosts", {"HostId.1": empty, "InstanceFamily": "m8i"})
        self.assertEqual(self.batch(r), ([empty], {}))
        self.assertIn("m8i.large", self.capacity(self.describe(empty)[empty]))
        for params, code in (({"HostId.1": fam}, "MissingParameter"),
                             ({"HostId.1": fam, "InstanceType": "m8i.large",
                               "InstanceFamily": "m8i"}, "InvalidParameterCombination"),
                             ({"HostId.1": fam, "AutoPlacement": "maybe"}, "InvalidAutoPlacement"),
                             ({"AutoPlacement": "on"}, "MissingParameter")):
            r = call(self.url, "ModifyHosts", params)
            self.assertEqual((r.status, r.code), (400, code), params)


class TestClientTokenAndTags(HostCase):
    def test_same_token_same_hosts_other_parameters_mismatch(self):
        first = self.allocate(2, ClientToken="kvm-hosts-1")
        self.assertEqual(self.allocate(2, ClientToken="kvm-hosts-1"), first)
        self.assertEqual(len(self.sim.hosts()), 2)
        r = call(self.url, "AllocateHosts", {"InstanceFamily": "m8i", "AvailabilityZone": AZ,
                                             "Quantity": "3", "ClientToken": "kvm-hosts-1"})
        self.assertEqual((r.status, r.code), (400, "IdempotentParameterMismatch"))
        item = self.describe(**{"Filter.1.Name": "client-token",
                                "Filter.1.Value.1": "kvm-hosts-?"})
        self.assertEqual(sorted(item), sorted(first))
        self.sim.account("210987654321")
        self.assertNotEqual(self.allocate(2, ClientToken="kvm-hosts-1"), first)
        self.assertEqual(sorted(self.describe()), sorted(h["host_id"] for h in self.sim.hosts()
                                                         if h["account_id"] == "210987654321"))

    def test_tags_on_hosts(self):
        a, b = self.allocate(2)
        r = call(self.url, "CreateTags", {"ResourceId.1": a, "Tag.1.Key": "team",
                                          "Tag.1.Value": "ci"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(list(self.describe(**{"Filter.1.Name": "tag:team",
                                                "Filter.1.Value.1": "c*"})), [a])
        self.assertEqual(list(self.describe(**{"Filter.1.Name": "tag-key",
                                                "Filter.1.Value.1": "team"})), [a])
        call(self.url, "DeleteTags", {"ResourceId.1": a, "Tag.1.Key": "team"})
        self.assertEqual(list(self.describe(**{"Filter.1.Name": "tag-key",
                                                "Filter.1.Value.1": "team"})), [])
        r = call(self.url, "DescribeHosts", {"Filter.1.Name": "host-id", "Filter.1.Value.1": a})
        self.assertEqual(r.code, "InvalidParameterValue")


class TestDescribePaging(HostCase):
    def test_pages_are_bound_to_their_request(self):
        made = self.allocate(12)
        seen, token, pages = [], None, 0
        while True:
            p = {"MaxResults": "5", "Filter.1.Name": "state", "Filter.1.Value.1": "available"}
            if token:
                p["NextToken"] = token
            r = call(self.url, "DescribeHosts", p)
            self.assertEqual(r.status, 200, r.body)
            seen += [child(e, "hostId") for e in items_under(r, "hostSet")]
            pages += 1
            token = r.text("nextToken")
            if not token:
                break
            bad = call(self.url, "DescribeHosts", {"MaxResults": "6", "NextToken": token})
            self.assertEqual(bad.code, "InvalidParameterValue")
        self.assertEqual((seen, pages), (made, 3))
        for p, code in (({"MaxResults": "501"}, "InvalidParameterValue"),
                        ({"MaxResults": "5", "HostId.1": made[0]}, "InvalidParameterCombination"),
                        ({"HostId.1": "h-zz"}, "InvalidHostId.Malformed")):
            r = call(self.url, "DescribeHosts", p)
            self.assertEqual((r.status, r.code), (400, code), p)


class TestImplicitMode(HostCase):
    """--host-placement implicit (the default is strict): host tenancy without
    an allocated host still launches, onto a host outside the model."""
    options = {"host_placement": "implicit"}

    def test_without_hosts_a_host_id_is_invented_and_modelled_hosts_are_checked(self):
        iid = self.launch()[0]
        self.assertTrue(self.sim.instances()[0]["host_id"].startswith("h-"))
        self.launch(host="h-0123456789abcdef0")
        (h,) = self.allocate(AutoPlacement="on")
        self.launch()
        self.assertEqual(self.sim.instances()[2]["host_id"], h)
        r = self.launch("c8i.large", host=h, expect=400)
        self.assertEqual(r.code, "IncompatibleHostRequirements")
        self.assertTrue(iid)


@unittest.skipUnless(boto3, "boto3 is not installed")
class TestWithBoto3(HostCase):
    def client(self):
        env = self.sim.env()
        return boto3.client("ec2", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                            config=botocore.config.Config(retries={"max_attempts": 1}))

    def test_boto3_reads_every_field(self):
        ec2 = self.client()
        ids = ec2.allocate_hosts(InstanceFamily="m8i", AvailabilityZone=AZ, Quantity=2,
                                 AutoPlacement="on", HostRecovery="on", ClientToken="t1",
                                 TagSpecifications=[{"ResourceType": "dedicated-host",
                                                     "Tags": [{"Key": "team", "Value": "ci"}]}]
                                 )["HostIds"]
        run = ec2.run_instances(ImageId=AMI, InstanceType="m8i.4xlarge", MinCount=1, MaxCount=1,
                                Placement={"Tenancy": "host", "HostId": ids[0]})
        iid = run["Instances"][0]["InstanceId"]
        self.assertEqual(run["Instances"][0]["Placement"]["HostId"], ids[0])
        hosts = ec2.describe_hosts(HostIds=ids)["Hosts"]
        h = [x for x in hosts if x["HostId"] == ids[0]][0]
        self.assertEqual(h["HostProperties"], {"Cores": 192, "InstanceFamily": "m8i",
                                               "Sockets": 2, "TotalVCpus": 384})
        self.assertEqual(h["AvailableCapacity"]["AvailableVCpus"], 368)
        cap = {c["InstanceType"]: c for c in h["AvailableCapacity"]["AvailableInstanceCapacity"]}
        self.assertEqual((cap["m8i.4xlarge"]["AvailableCapacity"],
                          cap["m8i.4xlarge"]["TotalCapacity"]), (23, 24))
        self.assertEqual(h["Instances"], [{"InstanceId": iid, "InstanceType": "m8i.4xlarge",
                                           "OwnerId": "123456789012"}])
        self.assertEqual((h["AutoPlacement"], h["HostRecovery"], h["State"], h["ClientToken"],
                          h["AllowsMultipleInstanceTypes"]), ("on", "on", "available", "t1", "on"))
        self.assertEqual(h["Tags"], [{"Key": "team", "Value": "ci"}])
        self.assertIn("AllocationTime", h)
        desc = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        self.assertEqual((desc["Placement"]["Tenancy"], desc["Placement"]["HostId"],
                          desc["Placement"]["AvailabilityZone"]), ("host", ids[0], AZ))
        out = ec2.release_hosts(HostIds=ids)
        self.assertEqual(out["Successful"], [ids[1]])
        self.assertEqual(out["Unsuccessful"][0]["ResourceId"], ids[0])
        self.assertEqual(out["Unsuccessful"][0]["Error"]["Code"], "Client.InvalidHost.Occupied")
        mod = ec2.modify_hosts(HostIds=[ids[0], ids[1]], AutoPlacement="off")
        self.assertEqual(mod["Successful"], [ids[0]])
        self.assertEqual(mod["Unsuccessful"][0]["Error"]["Code"], "Client.InvalidHostID.NotFound")
        pages = list(ec2.get_paginator("describe_hosts").paginate(
            PaginationConfig={"PageSize": 5}))
        self.assertEqual(sum(len(p["Hosts"]) for p in pages), 2)
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            ec2.run_instances(ImageId=AMI, InstanceType="m8i.96xlarge", MinCount=1, MaxCount=1,
                              Placement={"Tenancy": "host", "HostId": ids[0]})
        self.assertEqual(e.exception.response["Error"]["Code"], "InsufficientCapacityOnHost")


if __name__ == "__main__":
    unittest.main()
