"""Refresh of Dedicated Hosts (issue 18, hec2): DescribeHosts is asked only
when the file, the state or an instance has hosts; the recorded hosts the
lineage listing lacks are asked by id, and an id EC2 no longer knows (a host
released long ago: InvalidHostID.NotFound for the whole call) is just absent,
not a failed plan."""
import json
import os
import sqlite3
import unittest

from tests.integration.common import SimTestCase
from client import call  # noqa: E402  (tests/ec2sim/client.py)

CONFIG = """\
version: 1
instances:
  box:
    image_id: ami-0abcdef1234567890
    instance_type: m8i.large
"""


class TestHostRefresh(SimTestCase):
    # A released host is forgotten at once: by id it is NotFound.
    sim_args = {"transition_seconds": 0.05, "released_host_ttl": 0}

    def state_db(self):
        return sqlite3.connect(os.path.join(self.dir, "nestplan.db"))

    def lineage(self):
        with self.state_db() as db:
            return db.execute("SELECT value FROM meta WHERE key = 'lineage'").fetchone()[0]

    def record_host(self, address, host_id):
        row = {"address": address, "host_id": host_id, "instance_family": "m8i",
               "availability_zone": "us-east-1a", "auto_placement": False,
               "host_recovery": False, "state": "available", "tags": {}}
        with self.state_db() as db:
            db.execute("INSERT INTO hosts(address, host_id, data) VALUES (?, ?, ?)",
                       (address, host_id, json.dumps(row)))

    def allocate(self, **tags):
        p = {"InstanceFamily": "m8i", "AvailabilityZone": "us-east-1a", "Quantity": "1"}
        for i, (k, v) in enumerate(tags.items(), 1):
            p["TagSpecification.1.ResourceType"] = "dedicated-host"
            p["TagSpecification.1.Tag.%d.Key" % i] = k
            p["TagSpecification.1.Tag.%d.Value" % i] = v
        r = call(self.sim.url, "AllocateHosts", p)
        self.assertEqual(r.status, 200, r.body)
        return r.text("item")

    def describe_hosts(self):
        return [r["params"] for r in self.sim.requests() if r["action"] == "DescribeHosts"]

    def test_no_hosts_anywhere_makes_no_describe_hosts_call(self):
        self.write_config(CONFIG)
        self.ok("apply", "-auto-approve")
        self.ok("plan", "-detailed-exitcode", rc=0)
        self.assertEqual(self.describe_hosts(), [])

    def test_recorded_hosts_are_listed_by_lineage_then_by_id(self):
        self.write_config(CONFIG)
        self.ok("init")
        lineage = self.lineage()
        tagged = self.allocate(**{"nestplan:lineage": lineage, "nestplan:address": "kvm[0]"})
        untagged = self.allocate()  # its tags were removed outside nestplan
        gone = self.allocate()
        r = call(self.sim.url, "ReleaseHosts", {"HostId.1": gone})
        self.assertEqual(r.status, 200, r.body)
        self.record_host("kvm[0]", tagged)
        self.record_host("kvm[1]", untagged)
        self.record_host("kvm[2]", gone)
        # The unknown id must not fail the plan (before: InvalidHostID.NotFound).
        self.ok("plan", "-json", rc=0)
        calls = self.describe_hosts()
        self.assertEqual(calls[0].get("Filter.1.Name"), "tag:nestplan:lineage")
        self.assertEqual(calls[0].get("Filter.1.Value.1"), lineage)
        self.assertEqual(calls[0].get("MaxResults"), "500")
        by_id = [sorted(v for k, v in p.items() if k.startswith("HostId.")) for p in calls[1:]]
        # The listing had the tagged host: only the other two are asked for,
        # first together, then (one unknown) halved until each stands alone.
        self.assertEqual(by_id[0], sorted([untagged, gone]))
        self.assertIn([untagged], by_id)
        self.assertIn([gone], by_id)
        self.assertNotIn(tagged, sum(by_id, []))
        self.assertFalse([p for p in calls[1:] if "MaxResults" in p])

    def test_a_file_with_tenancy_host_asks_for_hosts(self):
        self.write_config(CONFIG + "    placement: { tenancy: host }\n")
        self.ok("plan")
        self.assertEqual(len(self.describe_hosts()), 1)


if __name__ == "__main__":
    unittest.main()
