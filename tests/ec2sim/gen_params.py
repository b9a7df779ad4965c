#!/usr/bin/env python3
"""Writes ec2_params.json: for each EC2 action the simulator knows, the Query
parameter names its botocore input shape accepts, flattened as botocore's EC2
serializer puts them on the wire (queryName, else locationName with its first
letter upper-cased, else the member name; lists as Name.N; structures joined
with dots). A list index is written N.

Run it where botocore is installed (the simulator itself needs no botocore):
    python3 tests/ec2sim/gen_params.py
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "ec2_params.json")

# The actions the simulator implements, and the ones round 2 (DESIGN.md) adds,
# so the table does not need regenerating for each new call.
ACTIONS = sorted({
    "RunInstances", "DescribeInstances", "StopInstances", "StartInstances",
    "TerminateInstances", "ModifyInstanceCpuOptions", "ModifyInstanceAttribute",
    "ModifyInstancePlacement", "CreateTags", "DeleteTags", "DescribeInstanceTypes",
    "DescribeInstanceStatus", "DescribeInstanceAttribute", "DescribeTags",
    "ModifyInstanceMetadataOptions", "MonitorInstances", "UnmonitorInstances",
    "AssociateIamInstanceProfile", "ReplaceIamInstanceProfileAssociation",
    "DisassociateIamInstanceProfile", "DescribeIamInstanceProfileAssociations",
    "ModifyVolume", "DescribeVolumes", "DescribeVolumesModifications",
    "AllocateHosts", "ModifyHosts", "ReleaseHosts", "DescribeHosts",
    "DescribeImages", "DescribeSubnets", "DescribeSecurityGroups", "DescribeKeyPairs",
    "DescribeAvailabilityZones", "DescribeRegions", "DescribeAccountAttributes",
    "CreatePlacementGroup", "DescribePlacementGroups", "DeletePlacementGroup",
})
MAX_DEPTH = 8


def wire_name(name, member):
    if member.get("queryName"):
        return member["queryName"]
    loc = member.get("locationName")
    if loc:
        return loc[0].upper() + loc[1:]
    return name


def flatten(shapes, shape_name, prefix, out, path):
    shape = shapes[shape_name]
    kind = shape["type"]
    if kind == "structure":
        if shape_name in path or len(path) >= MAX_DEPTH:
            return  # a recursive shape: EC2 has none on these inputs past this depth
        for name, member in shape.get("members", {}).items():
            key = wire_name(name, member)
            flatten(shapes, member["shape"], prefix + [key], out, path + [shape_name])
    elif kind == "list":
        # EC2 ignores the list's own element name on input: Name.N.
        flatten(shapes, shape["member"]["shape"], prefix + ["N"], out, path)
    elif kind == "map":
        flatten(shapes, shape["key"]["shape"], prefix + ["N", "Key"], out, path)
        flatten(shapes, shape["value"]["shape"], prefix + ["N", "Value"], out, path)
    else:
        out.add(".".join(prefix))


def main():
    import botocore
    import botocore.loaders
    model = botocore.loaders.Loader().load_service_model("ec2", "service-2")
    shapes = model["shapes"]
    table = {}
    for action in ACTIONS:
        op = model["operations"][action]
        names = set()
        if "input" in op:
            flatten(shapes, op["input"]["shape"], [], names, [])
        table[action] = sorted(names)
    doc = {"source": "botocore %s data/ec2/2016-11-15/service-2.json" % botocore.__version__,
           "generated_by": "tests/ec2sim/gen_params.py", "actions": table}
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=0, sort_keys=True)
        f.write("\n")
    print("%s: %d actions, %d names" % (OUT, len(table), sum(len(v) for v in table.values())),
          file=sys.stderr)


if __name__ == "__main__":
    main()
