"""Checks EC2 Query requests against botocore's EC2 model (service-2.json).

botocore is optional: skip_reason() says why the check cannot run here.
check_request() returns a list of problems (empty when the request is one
that botocore's own EC2 serializer could have produced):

- Action is an operation of the model, Version is the model's apiVersion;
- every parameter name maps onto the input shape with the EC2 protocol's
  naming (botocore.serialize.EC2Serializer): a member's queryName, else its
  locationName with the first letter upper-cased, else the member name;
  lists as Name.1, Name.2, ... (1-based, no gaps; the list's own element
  name is not used on input); structures as Name.Member;
- every value has the leaf's type: integer/long decimal within the model's
  min/max, boolean 'true'/'false', string within min/max length and in the
  enum when the model has one, timestamps ISO 8601, blobs (and UserData,
  which the model types as a string documented as base64) base64;
- every member the model marks required is present, in the request and in
  each structure the request sends;
- a parameter is sent once; the body is form-urlencoded.
"""
import base64
import binascii
import re
import urllib.parse

API_VERSION = "2016-11-15"
_ISO8601 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?")
_INT = re.compile(r"-?[0-9]+")
_model = None


def skip_reason():
    """None when botocore with an EC2 model that knows NestedVirtualization is
    importable, else why not."""
    try:
        import botocore
        import botocore.session
    except ImportError as e:
        return "botocore is not installed (%s)" % e
    try:
        model = load()
    except Exception as e:  # a broken install: no model, unreadable data
        return "botocore %s has no usable EC2 model (%s)" % (botocore.__version__, e)
    if "NestedVirtualization" not in model.shape_for("CpuOptionsRequest").members:
        return ("botocore %s's EC2 model predates CpuOptionsRequest.NestedVirtualization "
                "(Debian 12's python3-botocore does): it cannot judge nestplan's requests"
                % botocore.__version__)
    return None


def load():
    global _model
    if _model is None:
        import botocore.session
        _model = botocore.session.get_session().get_service_model("ec2")
    return _model


def wire_name(member_shape, member_name):
    """The name botocore's EC2Serializer gives a member on input."""
    s = member_shape.serialization
    if "queryName" in s:
        return s["queryName"]
    if "name" in s:
        return s["name"][0].upper() + s["name"][1:]
    return member_name


_wire_maps = {}


def wire_members(shape):
    """{wire name: (member name, member shape)} of a structure shape."""
    m = _wire_maps.get(shape.name)
    if m is None:
        m = {wire_name(ms, name): (name, ms) for name, ms in shape.members.items()}
        _wire_maps[shape.name] = m
    return m


def legal_names(shape, prefix="", depth=0, seen=()):
    """Every flattened parameter name the shape allows, list indexes as N
    (for messages: which names would have been legal)."""
    if shape.type_name == "structure":
        if shape.name in seen or depth > 6:
            return [prefix + ".…"]
        out = []
        for wire, (_, ms) in wire_members(shape).items():
            out += legal_names(ms, prefix + "." + wire if prefix else wire, depth + 1,
                               seen + (shape.name,))
        return out
    if shape.type_name == "list":
        return legal_names(shape.member, prefix + ".N", depth + 1, seen)
    return [prefix]


def _leaf_problems(name, member_name, shape, value):
    t = shape.type_name
    meta = shape.metadata
    if t in ("integer", "long"):
        if not _INT.fullmatch(value):
            return ["%s=%r: %s wants an integer" % (name, value, shape.name)]
        n = int(value)
        if "min" in meta and n < meta["min"] or "max" in meta and n > meta["max"]:
            return ["%s=%s: outside %s's range %s..%s" % (name, value, shape.name,
                                                          meta.get("min"), meta.get("max"))]
    elif t == "boolean":
        if value not in ("true", "false"):
            return ["%s=%r: a boolean is 'true' or 'false'" % (name, value)]
    elif t in ("float", "double"):
        try:
            float(value)
        except ValueError:
            return ["%s=%r: %s wants a number" % (name, value, shape.name)]
    elif t == "timestamp":
        if not _ISO8601.fullmatch(value):
            return ["%s=%r: a timestamp is ISO 8601" % (name, value)]
    elif t == "blob":
        return _base64_problems(name, value)
    elif t == "string":
        out = []
        if shape.enum and value not in shape.enum:
            out.append("%s=%r: not one of %s's values %s" % (
                name, value, shape.name, shape.enum if len(shape.enum) <= 12
                else "(%d values)" % len(shape.enum)))
        if "min" in meta and len(value) < meta["min"] or "max" in meta and len(value) > meta["max"]:
            out.append("%s: length %d outside %s's %s..%s" % (
                name, len(value), shape.name, meta.get("min"), meta.get("max")))
        if member_name == "UserData":
            out += _base64_problems(name, value)
        return out
    else:
        return ["%s: a %s value cannot be a leaf" % (name, t)]
    return []


def _base64_problems(name, value):
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return ["%s: not base64" % name]
    return []


class _Leaf:
    def __init__(self, name, value):
        self.name, self.value = name, value


def _tree(params):
    """Parameter names split on '.' into nested dicts; leaves are _Leaf."""
    root, problems = {}, []
    for name, value in params:
        node, segs = root, name.split(".")
        for i, seg in enumerate(segs):
            last = i == len(segs) - 1
            cur = node.get(seg)
            if isinstance(cur, _Leaf) or (last and cur is not None):
                problems.append("%s: sent twice, or both as a value and as a prefix" % name)
                break
            if last:
                node[seg] = _Leaf(name, value)
            else:
                node = node.setdefault(seg, {})
    return root, problems


def _walk(node, shape, member_name, path, out):
    t = shape.type_name
    if isinstance(node, _Leaf):
        if t in ("structure", "list", "map"):
            out.append("%s: %s is a %s, not a value" % (node.name, shape.name, t))
        else:
            out += _leaf_problems(node.name, member_name, shape, node.value)
        return
    if t == "structure":
        members = wire_members(shape)
        for seg, sub in node.items():
            if seg not in members:
                where = "%s.%s" % (path, seg) if path else seg
                out.append("%s: %s has no member '%s' (it has: %s)" % (
                    where, shape.name, seg, ", ".join(sorted(members)) or "none"))
                continue
            mname, ms = members[seg]
            _walk(sub, ms, mname, "%s.%s" % (path, seg) if path else seg, out)
        present = {members[s][0] for s in node if s in members}
        for req in shape.required_members:
            if req not in present:
                out.append("%s: required member %s (%s) is missing" % (
                    path or "request", req, wire_name(shape.members[req], req)))
    elif t == "list":
        idx = []
        for seg in node:
            if not seg.isdigit() or seg.startswith("0"):
                out.append("%s.%s: a list %s is indexed 1, 2, ..." % (path, seg, shape.name))
            else:
                idx.append(int(seg))
        if idx and sorted(idx) != list(range(1, len(idx) + 1)):
            out.append("%s: list indexes %s are not 1..%d" % (path, sorted(idx), len(idx)))
        for seg, sub in node.items():
            if seg.isdigit() and not seg.startswith("0"):
                _walk(sub, shape.member, member_name, "%s.%s" % (path, seg), out)
    else:
        out.append("%s: %s is a %s and takes no sub-parameters (%s)" % (
            path, shape.name, t, ", ".join(sorted(node))))


def check_params(params):
    """params: [(name, value)] of one request, Action and Version included."""
    model = load()
    out = []
    d = {}
    for k, v in params:
        d.setdefault(k, v)
    action, version = d.get("Action"), d.get("Version")
    if action is None:
        return ["no Action parameter"]
    if action not in model.operation_names:
        return ["Action=%s is not an operation of the EC2 model" % action]
    if version != model.metadata["apiVersion"]:
        out.append("%s: Version=%r, the model's is %s" % (action, version,
                                                           model.metadata["apiVersion"]))
    rest = [(k, v) for k, v in params if k not in ("Action", "Version")]
    if len([k for k, _ in params if k in ("Action", "Version")]) != 2:
        out.append("%s: Action or Version sent more than once" % action)
    shape = model.operation_model(action).input_shape
    if shape is None:
        if rest:
            out.append("%s takes no parameters, got %s" % (action, [k for k, _ in rest]))
        return out
    tree, problems = _tree(rest)
    _walk(tree, shape, None, "", problems)
    return out + ["%s: %s" % (action, p) for p in problems]


def check_request(method, path, headers, body):
    """headers: [(name, value)]. Returns the problems of one HTTP request."""
    out = []
    split = urllib.parse.urlsplit(path)
    ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
    if method == "POST":
        if not ctype.lower().startswith("application/x-www-form-urlencoded"):
            out.append("Content-Type %r is not application/x-www-form-urlencoded" % ctype)
        form = body.decode("utf-8")
        if split.query:
            out.append("POST with a query string %r as well as a body" % split.query)
    else:
        form = split.query
    try:
        params = urllib.parse.parse_qsl(form, keep_blank_values=True, strict_parsing=True)
    except ValueError as e:
        return out + ["the form does not parse: %s" % e]
    return out + check_params(params)
