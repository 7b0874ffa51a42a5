#!/usr/bin/env python3
"""Generate the schema tables the guard walks: src/protocol/schemas.rs (requests)
and src/protocol/response_schemas.rs (responses).

Reads Kafka's own JSON message schemas (as shipped in the kafka-python 3.0.12
wheel) and writes a compact Rust table of the REQUEST schemas of the APIs pipit
serves or, with --responses, of the RESPONSE schemas of the APIs pipit's client
sends. Python 3 standard library only.

Usage:
    python3 tools/gen-request-schemas.py [SCHEMA_DIR] > src/protocol/schemas.rs
    python3 tools/gen-request-schemas.py --responses [SCHEMA_DIR] \
        > src/protocol/response_schemas.rs

SCHEMA_DIR defaults to
.venv/lib/python3.11/site-packages/kafka/protocol/schemas/resources
(run tools/test-deps.sh if it is missing). To serve another API, add its
request name to APIS below and regenerate; for the client to send a new API,
add it to CLIENT_APIS (it must match `our_max` in src/client/conn.rs).
"""
import json
import os
import re
import sys

# Request schemas to emit, in output order. Groups APIs come later: add
# e.g. "FindCoordinator", "JoinGroup" here.
APIS = [
    "Produce", "Fetch", "ListOffsets", "Metadata", "ApiVersions", "CreateTopics",
    "DeleteTopics", "CreatePartitions", "DescribeConfigs", "AlterConfigs",
    "IncrementalAlterConfigs", "DescribeCluster", "InitProducerId", "FindCoordinator",
]

# Response schemas to emit: every API the client sends (`our_max` in
# src/client/conn.rs, CLIENT_APIS in fuzz/targets.rs), in API-key order.
CLIENT_APIS = [
    "Produce", "Fetch", "ListOffsets", "Metadata", "ApiVersions", "CreateTopics",
    "DeleteTopics", "InitProducerId", "DescribeConfigs", "CreatePartitions",
    "IncrementalAlterConfigs",
]

PRIMS = {
    "bool": "Bool", "int8": "Int8", "int16": "Int16", "uint16": "Uint16",
    "int32": "Int32", "uint32": "Uint32", "int64": "Int64", "float64": "Float64",
    "uuid": "Uuid", "string": "Str", "bytes": "Bytes", "records": "Records",
}
MAXV = 32767


def load(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # Kafka's schema files carry // comments (never inside strings).
    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)
    return json.loads(text)


def vrange(spec):
    """Kafka version spec -> (lo, hi); "none" -> empty (1, 0)."""
    if spec is None or spec == "none":
        return (1, 0)
    spec = spec.strip()
    if spec.endswith("+"):
        return (int(spec[:-1]), MAXV)
    if "-" in spec:
        lo, hi = spec.split("-")
        return (int(lo), int(hi))
    return (int(spec), int(spec))


def vexpr(r):
    lo, hi = r
    if (lo, hi) == (1, 0):
        return "NO"
    if hi == MAXV:
        return f"V({lo}, MAX)"
    return f"V({lo}, {hi})"


class Gen:
    def __init__(self):
        self.structs = []  # (name, [field exprs])
        self.seen = {}  # struct name -> index, per message

    def add_struct(self, name, fields, registry):
        idx = len(self.structs)
        self.structs.append((name, None))
        exprs = [self.field(f, registry) for f in fields]
        self.structs[idx] = (name, exprs)
        return idx

    def field(self, f, registry):
        ty = f["type"]
        array = ty.startswith("[]")
        base = ty[2:] if array else ty
        if base in PRIMS:
            t = f"T::{PRIMS[base]}"
        else:
            sub = f.get("fields")
            if sub is None and base in self.seen:
                sub = None
                t = f"T::Struct({self.seen[base]})"
            elif sub is None:
                sub = registry.get(base)
                if sub is None:
                    raise SystemExit(f"unknown struct type {base!r}")
            else:
                registry.setdefault(base, sub)
            if sub is not None:
                self.seen[base] = self.add_struct(base, sub, registry)
                t = f"T::Struct({self.seen[base]})"
        tag = f.get("tag")
        tagged = vrange(f.get("taggedVersions")) if tag is not None else (1, 0)
        return (
            f"f({t}, {'true' if array else 'false'}, {vexpr(vrange(f['versions']))}, "
            f"{vexpr(vrange(f.get('nullableVersions')))}, {vexpr(tagged)}, "
            f"{tag if tag is not None else 0}), // {f['name']}"
        )


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(
        here, "..", ".venv", "lib", "python3.11", "site-packages", "kafka", "protocol",
        "schemas", "resources")
    args = sys.argv[1:]
    responses = "--responses" in args
    args = [a for a in args if a != "--responses"]
    src = args[0] if args else default
    kind, apis = ("Response", CLIENT_APIS) if responses else ("Request", APIS)
    gen = Gen()
    messages = []
    for api in apis:
        d = load(os.path.join(src, api + kind + ".json"))
        gen.seen = {}
        registry = {c["name"]: c["fields"] for c in d.get("commonStructs", [])}
        root = gen.add_struct(d["name"], d["fields"], registry)
        messages.append((d["apiKey"], d["name"], vrange(d["validVersions"]),
                         vrange(d.get("flexibleVersions")), root))
    out = []
    w = out.append
    if responses:
        w("//! Response schemas for the client's response guard (`guard::check_response`), one")
        w("//! entry per field; the types are in `schema_model.rs`.")
        w("//!")
        w("//! GENERATED FILE, do not edit. Generated by tools/gen-request-schemas.py from")
        w("//! Kafka's JSON response schemas shipped in the kafka-python 3.0.12 wheel")
        w("//! (kafka/protocol/schemas/resources/*Response.json). Regenerate with:")
        w("//!     python3 tools/gen-request-schemas.py --responses \\")
        w("//!         > src/protocol/response_schemas.rs")
    else:
        w("//! Request schemas for the guard (`guard.rs`), one entry per field; the types are in")
        w("//! `schema_model.rs`.")
        w("//!")
        w("//! GENERATED FILE, do not edit. Generated by tools/gen-request-schemas.py from")
        w("//! Kafka's JSON request schemas shipped in the kafka-python 3.0.12 wheel")
        w("//! (kafka/protocol/schemas/resources/*Request.json). Regenerate with:")
        w("//!     python3 tools/gen-request-schemas.py > src/protocol/schemas.rs")
    w("//! Being generated, it is exempt from the file-length norm; the encoding is")
    w("//! compact: one line per field, structs referenced by index into STRUCTS.")
    w("")
    w("use super::schema_model::{FieldSchema, MAX, MessageSchema, NO, T, V, f};")
    w("")
    if responses:
        w("/// The response messages pipit's client reads, by API key.")
    else:
        w("/// The request messages pipit serves, by API key.")
    w("#[rustfmt::skip]")
    w(f"pub static MESSAGES: [MessageSchema; {len(messages)}] = [")
    for key, name, valid, flex, root in messages:
        w(f"    MessageSchema {{ api_key: {key}, name: \"{name}\", valid: {vexpr(valid)}, "
          f"flexible: {vexpr(flex)}, root: {root} }},")
    w("];")
    w("")
    w("/// Every struct (message bodies first-class too), indexed by `T::Struct(i)`.")
    w("#[rustfmt::skip]")
    w(f"pub static STRUCTS: [(&str, &[FieldSchema]); {len(gen.structs)}] = [")
    for i, (name, exprs) in enumerate(gen.structs):
        w(f"    // {i}")
        w(f"    (\"{name}\", &[")
        for e in exprs:
            w(f"        {e}")
        w("    ]),")
    w("];")
    print("\n".join(out))


if __name__ == "__main__":
    main()
