#!/usr/bin/env python3
"""Generate the cross-implementation fixtures for KafkaProtocolTests.

The reference implementation is kafka-python (PyPI `kafka-python`, 3.0.x), used
here as a library: it encodes every message from its own copy of Apache Kafka's
JSON message schemas, builds and reads record batches, and carries Java-compatible
murmur2 and CRC-32C code. Our Swift code is checked against what it produces.

Run from anywhere:  python3 generate_fixtures.py
Writes, next to this file:
  messages.json        message bodies, headers, consumer-protocol data, frames
  record_batches.json  record batches (magic 2) for every codec
  murmur2.json         murmur2 hashes and keyed partitions
  crc32c.json          CRC-32C vectors
and prints a report of where kafka-python's schemas differ from ours
(Sources/KafkaProtocol/Schema/*.schema) for the versions we support.

Output is deterministic: every random choice comes from a random.Random seeded
with a fixed string, and gzip's header timestamp is pinned to 0.

messages.json entries
  name, kind ("request" | "response" | "header" | "data" | "frame"), apiKey
  (null for header/data), version, case (see CASES), hex, fields.
  hex is the body only (no size, no header) except for kind "frame", which is
  int32 size + header + body and also carries headerVersion, correlationId,
  clientId (requests), headerHex and bodyHex. Kind "data" (consumer protocol)
  bodies have no int16 version prefix ("versionPrefix": false). Kind "header"
  holds RequestHeader v0-2 / ResponseHeader v0-1 on their own.
  fields: snake_case of Kafka's JSON field names (kafka-python's attribute
  names, except MetadataResponse's cluster/topic_authorized_operations, which
  kafka-python renames to authorized_operations in code); only fields present
  at that version; tagged fields only when set. bytes/records are
  {"$bytes": hex}, uuids {"$uuid": 32 hex digits}; authorized-operations
  bitfields are plain int32. "schemaDiff" lists wire-level differences between
  our schema and kafka-python's for that version, if any.

record_batches.json entries
  kind "batch": name, codec, hex (whole batch), batch (header as kafka-python's
  DefaultRecordBatch reads it), records, and "patched" when bytes were set after
  kafka-python's builder ran (things only a broker sets: base offset, leader
  epoch, LogAppendTime, the control flag; the CRC is recomputed when needed).
  kind "concatenated": hex holds several batches, maybe a truncated tail
  ("truncatedTail", "trailingBytes"), and "batches": [{batch, records}].
"""

import gzip
import json
import random
import re
import struct
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
SCHEMA_DIR = REPO / "Sources" / "KafkaProtocol" / "Schema"
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True  # keep the fixtures folder free of __pycache__

from decode_batch import decode_all, describe_batch  # noqa: E402

import kafka  # noqa: E402
import kafka.protocol.admin  # noqa: E402,F401
import kafka.protocol.consumer  # noqa: E402,F401
import kafka.protocol.metadata  # noqa: E402,F401
import kafka.protocol.producer  # noqa: E402,F401
import kafka.protocol.sasl  # noqa: E402,F401
from kafka.partitioner.default import DefaultPartitioner, murmur2  # noqa: E402
from kafka.protocol.api_data import ApiData  # noqa: E402
from kafka.protocol.api_header import RequestHeader, ResponseHeader  # noqa: E402
from kafka.protocol.api_message import ApiMessage  # noqa: E402
from kafka.protocol.schemas import BaseField, load_json  # noqa: E402
from kafka.record import _crc32c  # noqa: E402
from kafka.record.default_records import (  # noqa: E402
    DefaultRecordBatch, DefaultRecordBatchBuilder,
)
from kafka.record.util import calc_crc32c  # noqa: E402

MAXV = 32767
ZERO_UUID_HEX = "0" * 32
INT_RANGES = {
    "int8": (-(1 << 7), (1 << 7) - 1),
    "int16": (-(1 << 15), (1 << 15) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1),
    "int64": (-(1 << 63), (1 << 63) - 1),
    "uint16": (0, (1 << 16) - 1),
    "uint32": (0, (1 << 32) - 1),
}
INT32_MIN = INT_RANGES["int32"][0]


def snake(name):
    """kafka-python's field naming: CamelCase -> camel_case."""
    return BaseField.underscore_name(name)


def in_range(version, versions):
    return versions is not None and versions[0] <= version <= versions[1]


def range_text(lo, hi):
    if hi >= MAXV:
        return "%d+" % lo
    return "%d" % lo if lo == hi else "%d-%d" % (lo, hi)


def compress_versions(versions):
    """[1,2,3,5] -> '1-3,5'."""
    versions = sorted(versions)
    parts = []
    start = prev = versions[0]
    for v in versions[1:]:
        if v == prev + 1:
            prev = v
            continue
        parts.append(range_text(start, prev))
        start = prev = v
    parts.append(range_text(start, prev))
    return ",".join(parts)


# ---------------------------------------------------------------------------
# Our schema language (Sources/KafkaProtocol/Schema/*.schema)
# ---------------------------------------------------------------------------

VERSION_TOKEN = re.compile(r"^(\d+)(\+|-(\d+))?$")


def parse_range(text):
    if text is None or text.strip() == "":
        return None
    text = text.strip()
    if text == "none":
        return None
    match = VERSION_TOKEN.match(text)
    if not match:
        raise ValueError("bad version range %r" % text)
    lo = int(match.group(1))
    if match.group(2) == "+":
        return (lo, MAXV)
    if match.group(3) is not None:
        return (lo, int(match.group(3)))
    return (lo, lo)


class OurField:
    def __init__(self, name, type_, where):
        self.name = name
        self.type = type_
        self.where = where
        self.versions = (0, MAXV)
        self.nullable = None
        self.tag = None
        self.tagged = None
        self.default = None
        self.ignorable = False
        self.flexible_none = False
        self.children = []


class OurMessage:
    def __init__(self, kind, name, attrs, where):
        self.kind = kind
        self.name = name
        self.where = where
        self.api_key = int(attrs["apiKey"]) if "apiKey" in attrs else None
        self.versions = parse_range(attrs["versions"])
        self.flexible = parse_range(attrs.get("flexible", "none"))
        self.fields = []
        self.structs = {}


def _parse_field_line(tokens, where):
    field = OurField(tokens[0], tokens[1], where)
    for token in tokens[2:]:
        if VERSION_TOKEN.match(token):
            field.versions = parse_range(token)
        elif token == "nullable":
            field.nullable = (0, MAXV)
        elif token.startswith("nullable="):
            field.nullable = parse_range(token.split("=", 1)[1])
        elif token.startswith("tag="):
            tag, _, tagged = token.split("=", 1)[1].partition("@")
            field.tag = int(tag)
            field.tagged = parse_range(tagged) if tagged else "field"
        elif token.startswith("default="):
            field.default = token.split("=", 1)[1]
        elif token == "ignorable":
            field.ignorable = True
        elif token == "flexible=none":
            field.flexible_none = True
        else:
            raise ValueError("%s: unknown token %r" % (where, token))
    if field.tagged == "field":  # "tag=N" without "@versions": tagged wherever present
        field.tagged = field.versions
    return field


def _is_struct_type(type_, has_children):
    inner = type_[2:] if type_.startswith("[]") else type_
    return has_children or (inner[:1].isupper())


def _resolve_structs(fields, structs):
    for field in fields:
        inner = field.type[2:] if field.type.startswith("[]") else field.type
        if not field.children and inner in structs:
            field.children = structs[inner].children
        _resolve_structs(field.children, structs)


def parse_our_schemas():
    messages = []
    for path in sorted(SCHEMA_DIR.glob("*.schema")):
        current = None
        stack = []
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.lstrip().startswith(("#", "//")):
                continue
            where = "%s:%d" % (path.name, lineno)
            indent = len(line) - len(line.lstrip(" "))
            tokens = line.split()
            if indent == 0:
                attrs = dict(t.split("=", 1) for t in tokens[2:])
                current = OurMessage(tokens[0], tokens[1], attrs, where)
                current.file = path.name
                messages.append(current)
                stack = []
                continue
            while stack and stack[-1][0] >= indent:
                stack.pop()
            if tokens[0] == "struct" and len(tokens) == 2:
                node = OurField(tokens[1], tokens[1], where)
                current.structs[tokens[1]] = node
                stack.append((indent, node))
                continue
            field = _parse_field_line(tokens, where)
            (stack[-1][1].children if stack else current.fields).append(field)
            stack.append((indent, field))
        # `struct X` blocks name common structs; a message's own come first,
        # then those of the other blocks in the same file.
        in_file = [m for m in messages if m.file == path.name]
        for message in in_file:
            structs = {}
            for other in in_file:
                structs.update(other.structs)
            structs.update(message.structs)
            _resolve_structs(message.fields, structs)
    return messages


# ---------------------------------------------------------------------------
# Effective field trees at one version, for both schema sources
# ---------------------------------------------------------------------------

def _base_type(type_):
    return type_[2:] if type_.startswith("[]") else type_


def normalize_default(type_, is_struct, default):
    """Bring a default to a comparable value; absent means the type's zero."""
    if default is not None and not isinstance(default, str):
        default = str(default)
    if type_.startswith("[]"):
        return None if default == "null" else "[]"
    if is_struct:
        return None if default == "null" else "(struct)"
    if type_ in INT_RANGES:
        if not default:
            return 0
        return int(default, 16) if default.lower().startswith("0x") else int(default)
    if type_ == "bool":
        return bool(default) and default.lower() == "true"
    if type_ == "float64":
        return float(default) if default else 0.0
    if type_ == "uuid":
        return default or "AAAAAAAAAAAAAAAAAAAAAA"
    if type_ in ("bytes", "records"):
        return None if default == "null" else ""
    if type_ == "string":
        return None if default == "null" else (default or "")
    raise ValueError("unknown type %s" % type_)


def _eff(name, type_, children, nullable, tag, default, ignorable, flexible_none, version):
    is_struct = _is_struct_type(type_, bool(children))
    return {
        "name": name,
        "snake": snake(name),
        "type": ("[]struct" if type_.startswith("[]") else "struct") if is_struct else type_,
        "typeName": _base_type(type_) if is_struct else None,
        "nullable": in_range(version, nullable),
        "tag": tag,
        "default": normalize_default(type_, is_struct, default),
        "ignorable": bool(ignorable),
        "flexibleNone": bool(flexible_none),
        "children": children,
    }


def ours_at(fields, version):
    out = []
    for f in fields:
        if not in_range(version, f.versions):
            continue
        tag = f.tag if in_range(version, f.tagged) else None
        out.append(_eff(f.name, f.type, ours_at(f.children, version), f.nullable, tag,
                        f.default, f.ignorable, f.flexible_none, version))
    return out


def theirs_at(fields, version):
    out = []
    for f in fields:
        if not in_range(version, parse_range(f.get("versions"))):
            continue
        tag = f.get("tag") if in_range(version, parse_range(f.get("taggedVersions"))) else None
        flexible_none = f.get("flexibleVersions") == "none"
        out.append(_eff(f["name"], f["type"], theirs_at(f.get("fields", []), version),
                        parse_range(f.get("nullableVersions")), tag, f.get("default"),
                        f.get("ignorable"), flexible_none, version))
    return out


def diff_trees(ours, theirs, path, out):
    """Append (path, attribute, ours, theirs) for every difference."""
    ours_by = {f["snake"]: f for f in ours}
    theirs_by = {f["snake"]: f for f in theirs}
    for f in ours:
        if f["snake"] not in theirs_by:
            out.append((path + f["name"], "presence", "present", "absent"))
    for f in theirs:
        if f["snake"] not in ours_by:
            out.append((path + f["name"], "presence", "absent", "present (type %s)" % f["type"]))
    common_ours = [f["snake"] for f in ours if f["snake"] in theirs_by and f["tag"] is None]
    common_theirs = [f["snake"] for f in theirs if f["snake"] in ours_by and f["tag"] is None]
    if common_ours != common_theirs:
        out.append((path.rstrip("."), "field order", " ".join(common_ours), " ".join(common_theirs)))
    for f in ours:
        g = theirs_by.get(f["snake"])
        if g is None:
            continue
        here = path + f["name"]
        if f["name"] != g["name"]:
            out.append((here, "name spelling", f["name"], g["name"]))
        for key in ("type", "nullable", "tag", "default", "flexibleNone", "ignorable", "typeName"):
            if f[key] != g[key]:
                out.append((here, key, f[key], g[key]))
        diff_trees(f["children"], g["children"], here + ".", out)


WIRE_ATTRIBUTES = {"presence", "field order", "type", "nullable", "tag", "flexibleNone"}


# ---------------------------------------------------------------------------
# kafka-python classes
# ---------------------------------------------------------------------------

def kp_class(name):
    if name == "RequestHeader":
        return RequestHeader
    if name == "ResponseHeader":
        return ResponseHeader
    for module in (kafka.protocol.metadata, kafka.protocol.admin, kafka.protocol.consumer,
                   kafka.protocol.producer, kafka.protocol.sasl):
        cls = getattr(module, name, None)
        if isinstance(cls, type) and issubclass(cls, (ApiMessage, ApiData)):
            return cls
    raise KeyError("kafka-python has no class %s" % name)


def kp_valid_versions(name):
    return parse_range(load_json(name)["validVersions"])


def schema_report(messages):
    """Compare our schemas with kafka-python's raw JSON; return report lines
    and the set of (message name, version) whose wire layout differs."""
    lines = []
    wire_affected = {}
    for message in messages:
        raw = load_json(message.name)
        head = []
        if message.api_key != raw.get("apiKey"):
            head.append("apiKey: ours %s, kafka-python %s" % (message.api_key, raw.get("apiKey")))
        kp_flex = parse_range(raw.get("flexibleVersions"))
        lo, hi = message.versions
        for v in range(lo, hi + 1):
            if in_range(v, message.flexible) != in_range(v, kp_flex):
                head.append("flexible at v%d: ours %s, kafka-python %s"
                            % (v, in_range(v, message.flexible), in_range(v, kp_flex)))
        kp_valid = parse_range(raw["validVersions"])
        missing = [v for v in range(lo, hi + 1) if not in_range(v, kp_valid)]
        if missing:
            head.append("versions ours %s; kafka-python validVersions %s (lacks v%s)"
                        % (range_text(lo, hi), raw["validVersions"], compress_versions(missing)))
        grouped = {}
        for v in range(lo, hi + 1):
            if not in_range(v, kp_valid):
                continue
            found = []
            diff_trees(ours_at(message.fields, v), theirs_at(raw["fields"], v), "", found)
            for item in found:
                key = tuple(repr(x) if not isinstance(x, str) else x for x in item)
                grouped.setdefault(key, []).append(v)
                if item[1] in WIRE_ATTRIBUTES:
                    wire_affected.setdefault((message.name, v), []).append(
                        "%s %s" % (item[0], item[1]))
        if head or grouped:
            lines.append("%s (%s, ours v%s, kafka-python validVersions %s):"
                         % (message.name, message.file, range_text(lo, hi), raw["validVersions"]))
            for h in head:
                lines.append("  " + h)
            for (path_, attribute, ours_val, theirs_val), versions in grouped.items():
                lines.append("  v%s %s [%s]: ours=%s kafka-python=%s"
                             % (compress_versions(versions), path_, attribute, ours_val, theirs_val))
        # kafka-python patches some schemas in code (json_patch); report the
        # ones that rename or retype a field, since they change its API.
        patched = kp_class(message.name)
        patched_json = patched.json if hasattr(patched, "json") else None
        if patched_json is not None:
            notes = []
            _patch_notes(raw["fields"], patched_json["fields"], "", notes)
            if notes:
                if not (head or grouped):
                    lines.append("%s (%s):" % (message.name, message.file))
                for n in notes:
                    lines.append("  kafka-python code patch: " + n)
    return lines, wire_affected


def _patch_notes(raw_fields, patched_fields, path, notes):
    for a, b in zip(raw_fields, patched_fields):
        here = path + a["name"]
        for key in ("name", "type", "default"):
            if a.get(key) != b.get(key):
                notes.append("%s %s %r -> %r" % (here, key, a.get(key), b.get(key)))
        _patch_notes(a.get("fields", []), b.get("fields", []), here + ".", notes)


# ---------------------------------------------------------------------------
# Value generation
# ---------------------------------------------------------------------------

ASCII_WORDS = ["orders", "payments", "clicks", "alpha", "beta", "gamma", "group", "member",
               "consumer", "range", "sticky", "rack-a", "broker", "leader", "fixture"]
UTF8_WORDS = ["żółw", "Grüße", "日本語", "кафка", "naïve café", "Ελληνικά", "🦀 crab", "ü"]
RECORDS_BLOB = None  # filled by build_records_blob()


class Gen:
    """Deterministic value source for one fixture (message, version, case)."""

    def __init__(self, seed, case):
        self.rng = random.Random(seed)
        self.case = case  # one of CASES

    def set_tag(self, shields_nullables=False):
        if self.case == "rich":
            return True
        if self.case == "nulls":
            # set only the tagged structs whose own fields can then be null
            return shields_nullables
        if self.case == "minimal":
            return False
        return self.rng.random() < 0.5

    def null(self, nullable, default, tagged, shields_nullables=False):
        if not nullable or tagged:
            return False
        if self.case == "minimal":
            return default is None
        if self.case == "nulls":
            # A null array would hide the nullable fields inside it; those
            # arrays stay present so their own nullable fields can be null.
            return not shields_nullables
        if self.case == "random":
            return self.rng.random() < 0.35
        return False

    def count(self, depth, tagged):
        if self.case == "minimal":
            return 1 if tagged else 0
        if self.case == "nulls":
            return self.rng.randint(1, 2)
        hi = 3 if depth < 2 else 2
        lo = 1 if (self.case == "rich" or tagged) else 0
        return self.rng.randint(lo, hi)

    def integer(self, type_, default, force):
        lo, hi = INT_RANGES[type_]
        if self.case == "minimal" and not force:
            return default
        while True:
            roll = self.rng.random()
            if self.case == "random" and roll < 0.3:
                value = self.rng.choice([lo, hi, 0, 1, -1 if lo < 0 else 2])
            elif roll < 0.6:
                value = self.rng.randint(max(lo, -1000), min(hi, 100000))
            else:
                value = self.rng.randint(lo, hi)
            if value != default or (self.case == "random" and not force):
                return value

    def string(self, default, force):
        if self.case == "minimal" and not force:
            return default if default is not None else ""
        while True:
            roll = self.rng.random()
            if self.case == "random" and roll < 0.1:
                value = ""
            elif roll < (0.3 if self.case == "random" else 0.15):
                value = self.rng.choice(UTF8_WORDS)
            elif self.case == "random" and roll < 0.5:
                value = "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz0123456789._-")
                                for _ in range(self.rng.randint(1, 24)))
            else:
                value = "%s-%d" % (self.rng.choice(ASCII_WORDS), self.rng.randint(0, 999))
            if value != default or (self.case == "random" and not force):
                return value

    def blob(self, type_, force):
        if self.case == "minimal" and not force:
            return b""
        if type_ == "records" and self.case == "rich":
            return RECORDS_BLOB
        lo = 1 if (self.case == "rich" or force) else 0
        return self.rng.randbytes(self.rng.randint(lo, 16))

    def uuid_value(self, force):
        if self.case == "minimal" and not force:
            return None
        if self.case == "random" and not force and self.rng.random() < 0.2:
            return None
        while True:
            value = uuid.UUID(bytes=self.rng.randbytes(16))
            if value.int:
                return value

    def bitfield(self, force):
        if self.case == "minimal" and not force:
            return None
        if self.case == "random" and not force and self.rng.random() < 0.25:
            return None
        bits = set(self.rng.sample(range(2, 15), self.rng.randint(1, 6)))
        if self.case == "random" and self.rng.random() < 0.2:
            bits.add(31)
        return bits


def bitfield_to_int32(bits):
    if bits is None:
        return INT32_MIN
    value = 0
    for bit in bits:
        value |= 1 << bit
    return value - (1 << 32) if value >= (1 << 31) else value


def simple_to_json(type_, value):
    if type_ in ("bytes", "records"):
        return None if value is None else {"$bytes": bytes(value).hex()}
    if type_ == "uuid":
        return {"$uuid": ZERO_UUID_HEX if value is None else uuid.UUID(str(value)).hex}
    if type_ == "bitfield":
        return bitfield_to_int32(value)
    return value


def gen_simple(type_, pf, nullable, gen, tagged):
    """Return a kafka-python value for a simple field (not yet JSON)."""
    default = pf.default
    force = tagged  # a set tagged field must differ from its default to be written
    if type_ in INT_RANGES:
        return gen.integer(type_, default, force)
    if type_ == "bool":
        if gen.case == "minimal" and not force:
            return default
        if gen.case == "random" and not force:
            return gen.rng.random() < 0.5
        return not default
    if type_ == "float64":
        if gen.case == "minimal" and not force:
            return default
        return round(gen.rng.uniform(-1e6, 1e6), 3)
    if type_ == "string":
        value = gen.string(default, force)
        return "" if value is None and not nullable else value
    if type_ in ("bytes", "records"):
        return gen.blob(type_, force)
    if type_ == "uuid":
        return gen.uuid_value(force)
    if type_ == "bitfield":
        return gen.bitfield(force)
    raise ValueError("unsupported type %s" % type_)


def build_struct(struct, raw_fields, version, gen, depth, factory):
    """Walk kafka-python's parsed struct at `version` and make a value for it.

    Returns (kafka-python object, JSON fields). `raw_fields` is the unpatched
    JSON for the same struct; its names key the JSON output."""
    kwargs = {}
    fields = {}
    for pf, rj in zip(struct._fields, raw_fields):
        if not pf.for_version_q(version):
            continue
        tagged = pf.tagged_field_q(version)
        if tagged and not gen.set_tag(_inner_nullable(pf, version)):
            continue
        kp_value, json_value = build_value(pf, rj, version, gen, depth, tagged)
        if tagged and _tagged_value_is_default(pf, kp_value, version):
            # Kafka (and our encoder) omit a tagged field equal to its default; kafka-python would still
            # write it. Leave it unset so that both sides agree on the bytes.
            continue
        kwargs[pf.name] = kp_value
        fields[snake(rj["name"])] = json_value
    return factory(version, kwargs), fields


def _tagged_value_is_default(pf, value, version):
    if value is None:
        return True
    if pf.is_struct():
        return value.to_dict() == pf.data_class(version=version).to_dict()
    if pf.is_array():
        return len(value) == 0 and pf.default == []
    return value == pf.default


def _nested_factory(data_class):
    return lambda version, kwargs: data_class(version=version, **kwargs)


def build_value(pf, rj, version, gen, depth, tagged):
    nullable = pf.nullable_for_version_q(version)
    if pf.is_struct_array():
        if gen.null(nullable, pf.default, tagged, has_nullable_fields(pf.array_of, version)):
            return None, None
        items = [build_struct(pf.array_of, rj["fields"], version, gen, depth + 1,
                              _nested_factory(pf.data_class))
                 for _ in range(gen.count(depth, tagged))]
        return [o for o, _ in items], [j for _, j in items]
    if pf.is_array():
        if gen.null(nullable, pf.default, tagged):
            return None, None
        inner = pf.array_of._type_str
        values = [gen_simple(inner, pf.array_of, False, gen, True if gen.case == "rich" else False)
                  for _ in range(gen.count(depth, tagged))]
        return values, [simple_to_json(inner, x) for x in values]
    if pf.is_struct():
        if gen.null(nullable, None, tagged, has_nullable_fields(pf, version)):
            return None, None
        return build_struct(pf, rj["fields"], version, gen, depth + 1, _nested_factory(pf.data_class))
    value = None if gen.null(nullable, pf.default, tagged) else gen_simple(
        pf._type_str, pf, nullable, gen, tagged)
    if value is None and not nullable and pf._type_str not in ("uuid", "bitfield"):
        raise AssertionError("null for non-nullable %s" % pf.name)
    return value, simple_to_json(pf._type_str, value)


def _inner_nullable(pf, version):
    inner = pf.array_of if pf.is_struct_array() else pf if pf.is_struct() else None
    return inner is not None and has_nullable_fields(inner, version)


def has_nullable_fields(struct, version):
    """Whether any untagged field below `struct` is nullable at `version`."""
    for f in struct._fields:
        if not f.for_version_q(version) or f.tagged_field_q(version):
            continue
        if f.nullable_for_version_q(version):
            return True
        inner = f.array_of if f.is_struct_array() else f if f.is_struct() else None
        if inner is not None and has_nullable_fields(inner, version):
            return True
    return False


def struct_to_json(struct, raw_fields, obj, version):
    """JSON fields of a decoded kafka-python object (tagged fields only when set)."""
    out = {}
    for pf, rj in zip(struct._fields, raw_fields):
        if not pf.for_version_q(version):
            continue
        value = getattr(obj, pf.name)
        if pf.tagged_field_q(version):
            default = pf.default
            if value is None and default is None:
                continue
            if not pf.is_struct() and value == default:
                continue
        out[snake(rj["name"])] = value_to_json(pf, rj, value, version)
    return out


def value_to_json(pf, rj, value, version):
    if pf.is_struct_array():
        return None if value is None else [struct_to_json(pf.array_of, rj["fields"], x, version)
                                           for x in value]
    if pf.is_array():
        return None if value is None else [simple_to_json(pf.array_of._type_str, x) for x in value]
    if pf.is_struct():
        return None if value is None else struct_to_json(pf, rj["fields"], value, version)
    return simple_to_json(pf._type_str, value)


def canonical(value):
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def check_tag_order(struct, version, where):
    tags = [f.tag for f in struct._fields if f.for_version_q(version) and f.tagged_field_q(version)]
    if tags != sorted(tags):
        raise AssertionError("%s v%d: tagged fields not in ascending tag order: %s" % (where, version, tags))
    for f in struct._fields:
        if f.is_struct_array():
            check_tag_order(f.array_of, version, where + "." + f.name)
        elif f.is_struct():
            check_tag_order(f, version, where + "." + f.name)


# ---------------------------------------------------------------------------
# messages.json
# ---------------------------------------------------------------------------

# rich:    every field of the version, non-default values, arrays of 1-3, all
#          tagged fields set, nothing null
# minimal: schema defaults, empty arrays, no tagged fields
# nulls:   like rich in shape (arrays of 1-2), but every nullable field null;
#          tagged fields only where they hold nullable fields
# random:  random presence of tagged fields, random nulls, edge values
CASES = ("rich", "minimal", "nulls", "random")


def kp_decode_message(cls, body, version):
    # ApiVersionsResponse.decode falls back to v0 when the error code is set;
    # fixtures pin the body at its stated version, so use the generic decoder.
    return ApiMessage.decode.__func__(cls, bytes(body), version=version)


def message_fixture(message, version, case):
    cls = kp_class(message.name)
    raw = load_json(message.name)
    struct = cls._struct
    gen = Gen("%s/v%d/%s" % (message.name, version, case), case)
    check_tag_order(struct, version, message.name)
    entry = {"name": message.name, "kind": message.kind, "apiKey": message.api_key,
             "version": version, "case": case}

    if message.kind in ("request", "response"):
        obj, fields = build_struct(struct, raw["fields"], version, gen, 0,
                                   lambda v, kw: cls(version=v, **kw))
        body = bytes(obj.encode(version=version))
        decoded = kp_decode_message(cls, body, version)
        # A body decoded without a header leaves the header slot unset, which
        # encode(version=...) touches: give requests one; responses re-encode
        # at the version the decoder stamped on them.
        if cls.is_request():
            decoded.with_header()
            again = bytes(decoded.encode(version=version))
        else:
            again = bytes(decoded.encode())
    elif message.kind == "data":
        obj, fields = build_struct(struct, raw["fields"], version, gen, 0,
                                   lambda v, kw: cls(version=v, **kw))
        body = bytes(obj.encode(version=version, header=False))
        prefixed = bytes(obj.encode(version=version))
        if prefixed != struct_pack_int16(version) + body:
            raise AssertionError("%s v%d: version prefix mismatch" % (message.name, version))
        decoded = cls.decode(body, version=version, header=False)
        again = bytes(decoded.encode(version=version, header=False))
        entry["versionPrefix"] = False
    elif message.kind == "header":
        obj, fields = build_struct(struct, raw["fields"], version, gen, 0,
                                   lambda v, kw: cls(**kw))
        body, decoded, again = header_roundtrip(cls, obj, version)
    else:
        raise ValueError(message.kind)

    got = struct_to_json(struct, raw["fields"], decoded, version)
    if canonical(got) != canonical(fields):
        raise AssertionError("%s v%d %s: decoded fields differ\n built: %s\n  read: %s"
                             % (message.name, version, case, canonical(fields), canonical(got)))
    if again != body:
        raise AssertionError("%s v%d %s: re-encoding differs" % (message.name, version, case))
    entry["hex"] = body.hex()
    entry["fields"] = fields
    return entry


def struct_pack_int16(value):
    return struct.pack(">h", value)


def header_roundtrip(cls, obj, version):
    """Encode a request/response header at `version` with kafka-python's header
    class; decode it back with the same schema."""
    flexible_from = cls._flexible_versions[0]
    flexible = version >= flexible_from
    generic = bytes(cls._struct.encode(obj, version=version, compact=False, tagged=flexible))
    if version in (cls._valid_versions[0], flexible_from):
        body = bytes(obj.encode(flexible=flexible))  # the class's own entry point
        if body != generic:
            raise AssertionError("%s v%d: header encodings disagree" % (cls.__name__, version))
    else:
        # RequestHeader v0 (no ClientId) is below kafka-python's validVersions
        # (1-2); its fields still carry versions "0+", so the schema-driven
        # struct encoder writes it.
        body = generic
    decode = cls._struct.compiled_decode_from(version, compact=False, tagged=flexible, data_class=cls)
    decoded, end = decode(memoryview(body), 0)
    if end != len(body):
        raise AssertionError("%s v%d: header decode stopped at %d of %d"
                             % (cls.__name__, version, end, len(body)))
    again = bytes(cls._struct.encode(decoded, version=version, compact=False, tagged=flexible))
    return body, decoded, again


def frame_fixtures():
    """Whole frames: int32 size + header + body."""
    out = []

    def add(message_cls, version, case, kwargs, correlation_id, client_id=None, extra=None):
        obj = message_cls(version=version, **kwargs)
        if message_cls.is_request():
            obj.with_header(correlation_id=correlation_id, client_id=client_id)
        else:
            obj.with_header(correlation_id=correlation_id)
        # The object already carries its version; passing version= again would
        # make kafka-python write it into the header, which fails for responses.
        frame = bytes(obj.encode(header=True, framed=True))
        body = bytes(obj.encode())
        header = frame[4:len(frame) - len(body)]
        if struct.unpack(">i", frame[:4])[0] != len(frame) - 4 or frame[4 + len(header):] != body:
            raise AssertionError("frame layout")
        flexible = message_cls.flexible_version_q(version)
        if message_cls.is_request():
            header_version = 2 if flexible else 1
        else:
            header_version = 1 if flexible else 0
            if message_cls.name == "ApiVersionsResponse":
                header_version = 0  # always v0, even for flexible bodies
        if message_cls.is_request():  # key, version, correlation id, int16-length client id
            expected_length = 10 + len(client_id.encode()) + (1 if header_version == 2 else 0)
        else:  # correlation id, then the tagged-field byte in v1 only
            expected_length = 4 + (1 if header_version == 1 else 0)
        if len(header) != expected_length:
            raise AssertionError("%s: header v%d is %d bytes, expected %d"
                                 % (message_cls.name, header_version, len(header), expected_length))
        if message_cls.is_request():
            standalone = RequestHeader(request_api_key=message_cls.API_KEY, request_api_version=version,
                                       correlation_id=correlation_id, client_id=client_id)
        else:
            standalone = ResponseHeader(correlation_id=correlation_id)
        standalone_flexible = header_version == (2 if message_cls.is_request() else 1)
        if bytes(standalone.encode(flexible=standalone_flexible)) != header:
            raise AssertionError("frame header differs from the standalone header encoding")
        decoded = message_cls.decode(frame, version=version, header=True, framed=True)
        if decoded.header.correlation_id != correlation_id:
            raise AssertionError("frame correlation id")
        raw = load_json(message_cls.name)
        fields = struct_to_json(message_cls._struct, raw["fields"], obj, version)
        got = struct_to_json(message_cls._struct, raw["fields"], decoded, version)
        if canonical(got) != canonical(fields):
            raise AssertionError("frame %s: decoded fields differ" % message_cls.name)
        entry = {"name": message_cls.name, "kind": "frame", "apiKey": message_cls.API_KEY,
                 "version": version, "case": case, "hex": frame.hex(),
                 "headerVersion": header_version, "correlationId": correlation_id}
        if message_cls.is_request():
            entry["clientId"] = client_id
        entry["headerHex"] = header.hex()
        entry["bodyHex"] = body.hex()
        if extra:
            entry.update(extra)
        entry["fields"] = fields
        out.append(entry)

    api_versions = kp_class("ApiVersionsResponse")
    api_keys = [(0, 3, 11), (1, 4, 17), (3, 0, 12), (18, 0, 4), (36, 0, 2)]
    for version in (3, 4):
        add(api_versions, version, "frame-header-v0", dict(
            error_code=0,
            api_keys=[api_versions.ApiVersion(version=version, api_key=k, min_version=a, max_version=b)
                      for k, a, b in api_keys],
            throttle_time_ms=0,
            supported_features=[api_versions.SupportedFeatureKey(
                version=version, name="metadata.version", min_version=1, max_version=21)],
            finalized_features_epoch=42,
            finalized_features=[api_versions.FinalizedFeatureKey(
                version=version, name="metadata.version", max_version_level=21, min_version_level=21)],
        ), correlation_id=42)
    # KIP-511: a broker that does not know the requested ApiVersions version
    # answers UNSUPPORTED_VERSION (35) with a v0 body and header v0.
    add(api_versions, 0, "unsupported-version-fallback", dict(
        error_code=35,
        api_keys=[api_versions.ApiVersion(version=0, api_key=18, min_version=0, max_version=4)],
    ), correlation_id=43, extra={"requestedVersion": 5})

    api_versions_request = kp_class("ApiVersionsRequest")
    add(api_versions_request, 3, "frame-header-v2", dict(
        client_software_name="swift-kafka", client_software_version="0.1.0"),
        correlation_id=1, client_id="fixture-client")

    metadata_request = kp_class("MetadataRequest")
    add(metadata_request, 12, "frame-header-v2", dict(
        topics=[metadata_request.MetadataRequestTopic(
            version=12, topic_id=uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8"), name="orders")],
        allow_auto_topic_creation=False,
        include_topic_authorized_operations=True,
    ), correlation_id=7, client_id="fixture-client")
    add(metadata_request, 4, "frame-header-v1", dict(
        topics=[metadata_request.MetadataRequestTopic(version=4, name="orders")],
        allow_auto_topic_creation=True,
    ), correlation_id=7, client_id="fixture-client")

    metadata_response = kp_class("MetadataResponse")
    add(metadata_response, 12, "frame-header-v1", dict(
        throttle_time_ms=0,
        brokers=[metadata_response.MetadataResponseBroker(
            version=12, node_id=1, host="localhost", port=9092, rack=None)],
        cluster_id="fixture-cluster",
        controller_id=1,
        topics=[metadata_response.MetadataResponseTopic(
            version=12, error_code=0, name="orders",
            topic_id=uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8"), is_internal=False,
            partitions=[metadata_response.MetadataResponseTopic.MetadataResponsePartition(
                version=12, error_code=0, partition_index=0, leader_id=1, leader_epoch=0,
                replica_nodes=[1], isr_nodes=[1], offline_replicas=[])],
            authorized_operations=None)],
    ), correlation_id=7)
    return out


def message_fixtures(messages, wire_affected):
    entries = []
    for message in messages:
        kp_valid = kp_valid_versions(message.name)
        lo, hi = message.versions
        for version in range(lo, hi + 1):
            if message.kind != "header" and not in_range(version, kp_valid):
                continue
            for case in CASES:
                entry = message_fixture(message, version, case)
                notes = wire_affected.get((message.name, version))
                if notes:
                    entry["schemaDiff"] = sorted(set(notes))
                entries.append(entry)
    entries.extend(frame_fixtures())
    return entries


# ---------------------------------------------------------------------------
# record_batches.json
# ---------------------------------------------------------------------------

CODECS = (("none", 0), ("gzip", 1), ("snappy", 2), ("lz4", 3), ("zstd", 4))
T0 = 1700000000000
ATTRIBUTES_AT = DefaultRecordBatch.ATTRIBUTES_OFFSET
CRC_AT = DefaultRecordBatch.CRC_OFFSET
MAX_TIMESTAMP_AT = struct.calcsize(">qiibIhiq")


@contextmanager
def pinned_gzip_mtime():
    """gzip writes the current time into its header; pin it to 0."""
    with mock.patch.object(gzip, "time", SimpleNamespace(time=lambda: 0)):
        yield


def text(n, seed):
    rng = random.Random(seed)
    words = ["kafka", "record", "batch", "swift", "offset", "partition", "value", "event"]
    out = []
    size = 0
    while size < n:
        word = rng.choice(words)
        out.append(word)
        size += len(word) + 1
    return " ".join(out).encode()[:n]


def mixed_records():
    return [
        (0, T0, b"user-1", b'{"event":"click","page":"/home","n":1}' + text(120, 1),
         [("trace-id", b"4bf92f3577b34da6"), ("source", b"web")]),
        (1, T0 + 5, None, b'{"event":"view","page":"/cart","n":2}' + text(90, 2), []),
        (2, T0 - 3, b"user-2", None, [("h-null", None)]),
        (3, T0 + 100000, b"", b"", [("", b""), ("ключ", "значение".encode()), ("empty", b"")]),
        (4, T0 + 1, bytes(range(40)), text(400, 3),
         [("a", b"1"), ("b", None), ("c", bytes(range(200, 256)))]),
    ]


def build_batch(codec, records, producer=(-1, -1, -1), transactional=False,
                base_offset=0, leader_epoch=0, control=False, log_append_time=None):
    """Build a batch with kafka-python's builder; then set what only a broker
    sets (base offset, leader epoch, LogAppendTime, control flag)."""
    pid, epoch, sequence = producer
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=codec, is_transactional=transactional,
        producer_id=pid, producer_epoch=epoch, base_sequence=sequence, batch_size=1 << 22)
    for offset_delta, timestamp, key, value, headers in records:
        if builder.append(offset_delta, timestamp=timestamp, key=key, value=value,
                          headers=headers) is None:
            raise AssertionError("builder refused a record")
    with pinned_gzip_mtime():
        data = bytearray(builder.build())
    patched = []
    if (struct.unpack_from(">h", data, ATTRIBUTES_AT)[0] & 7) != codec:
        raise AssertionError("codec %d not applied (payload did not compress)" % codec)
    if control or log_append_time is not None:
        (attributes,) = struct.unpack_from(">h", data, ATTRIBUTES_AT)
        if control:
            attributes |= 0x20
            patched.append("attributes: control bit (builder never sets it)")
        if log_append_time is not None:
            attributes |= 0x08
            struct.pack_into(">q", data, MAX_TIMESTAMP_AT, log_append_time)
            patched.append("attributes: timestamp type LogAppendTime; maxTimestamp")
        struct.pack_into(">h", data, ATTRIBUTES_AT, attributes)
        struct.pack_into(">I", data, CRC_AT, calc_crc32c(memoryview(data)[ATTRIBUTES_AT:]))
        patched.append("crc recomputed with kafka-python's calc_crc32c")
    if base_offset or leader_epoch:
        struct.pack_into(">q", data, 0, base_offset)
        struct.pack_into(">i", data, 12, leader_epoch)
        patched.append("baseOffset/partitionLeaderEpoch (outside the CRC)")
    return bytes(data), patched


def check_batch(data, codec, records, base_offset, log_append_time, producer, transactional, control):
    batch = DefaultRecordBatch(data)
    if not batch.validate_crc():
        raise AssertionError("CRC invalid")
    header, decoded = describe_batch(batch)
    expect = {
        "baseOffset": base_offset, "magic": 2, "attributes": header["attributes"],
        "producerId": producer[0], "producerEpoch": producer[1], "baseSequence": producer[2],
        "isTransactional": transactional, "isControl": control,
        "timestampType": 1 if log_append_time is not None else 0,
        "recordCount": len(records),
        "lastOffsetDelta": records[-1][0] if records else 0,
    }
    for key, value in expect.items():
        if header[key] != value:
            raise AssertionError("batch %s: %r != %r" % (key, header[key], value))
    if header["attributes"] & 7 != codec:
        raise AssertionError("codec bits")
    if records:
        timestamps = [r[1] for r in records]
        if header["baseTimestamp"] != timestamps[0]:
            raise AssertionError("baseTimestamp")
        if log_append_time is None and header["maxTimestamp"] != max(timestamps):
            raise AssertionError("maxTimestamp")
    for built, got in zip(records, decoded):
        offset_delta, timestamp, key, value, headers = built
        want = {
            "offset": base_offset + offset_delta,
            "timestamp": log_append_time if log_append_time is not None else timestamp,
            "key": None if key is None else key.hex(),
            "value": None if value is None else value.hex(),
            "headers": [[k, None if v is None else v.hex()] for k, v in headers],
        }
        if canonical(want) != canonical(got):
            raise AssertionError("record differs: %s vs %s" % (want, got))
    return header, decoded


def batch_entry(name, codec_name, codec, records, **options):
    data, patched = build_batch(codec, records, **options)
    header, decoded = check_batch(
        data, codec, records, options.get("base_offset", 0), options.get("log_append_time"),
        options.get("producer", (-1, -1, -1)), options.get("transactional", False),
        options.get("control", False))
    entry = {"name": name, "kind": "batch", "codec": codec_name, "hex": data.hex(),
             "batch": header, "records": decoded}
    if patched:
        entry["patched"] = patched
    return entry, data


def control_records(kind):
    # Control record: key = version int16 (0) + type int16 (0 abort, 1 commit);
    # value = version int16 (0) + coordinator epoch int32.
    key = struct.pack(">hh", 0, 1 if kind == "commit" else 0)
    value = struct.pack(">hi", 0, 17)
    return [(0, T0 + 500, key, value, [])]


def record_batch_fixtures():
    entries = []
    raw = {}
    for codec_name, codec in CODECS:
        def add(name, records, **options):
            entry, data = batch_entry(name, codec_name, codec, records, **options)
            entries.append(entry)
            raw[(name, codec_name)] = data

        add("mixed", mixed_records(), base_offset=1234567, leader_epoch=7)
        add("idempotent", [(i, T0 + 10 * i, b"k%d" % i, text(150, 10 + i), [("seq", b"%d" % i)])
                           for i in range(4)],
            producer=(9876543210, 3, 41), base_offset=100)
        add("transactional", [(i, T0 + i, b"tx-%d" % i, text(120, 20 + i), [])
                              for i in range(3)],
            producer=(555, 1, 0), transactional=True, base_offset=2000, leader_epoch=2)
        add("large-record", [(0, T0, b"big", text(10000, 30), [("kind", b"large")])])
        if codec_name in ("none", "gzip"):
            add("log-append-time", [(i, T0 + i, b"k", text(100, 40 + i), []) for i in range(3)],
                base_offset=50, log_append_time=T0 + 9999)
        if codec_name == "none":
            add("control-commit", control_records("commit"), producer=(555, 1, -1),
                transactional=True, control=True, base_offset=2003, leader_epoch=2)
            add("control-abort", control_records("abort"), producer=(777, 4, -1),
                transactional=True, control=True, base_offset=88)
            add("compacted-gaps", [(0, T0, b"a", b"1", []), (2, T0 + 2, b"b", b"2", []),
                                   (5, T0 + 1, b"c", None, [])], base_offset=10)
            add("empty", [])
            add("single", [(0, -1, b"k", b"v", [])])

    def concatenated(name, parts, tail=b"", truncated=False):
        data = b"".join(raw[p] for p in parts) + tail
        decoded = decode_all(data)
        if decoded["trailingBytes"] != len(tail) or len(decoded["batches"]) != len(parts):
            raise AssertionError("concatenated %s decoded wrongly" % name)
        batches = []
        for item in decoded["batches"]:
            if not item.pop("crcValid"):
                raise AssertionError("CRC")
            records = item.pop("records")
            batches.append({"batch": item, "records": records})
        for (part, codec_name), got in zip(parts, batches):
            single = next(e for e in entries if e["name"] == part and e["codec"] == codec_name)
            if canonical(single["batch"]) != canonical(got["batch"]) or \
                    canonical(single["records"]) != canonical(got["records"]):
                raise AssertionError("concatenated %s: batch differs from single" % name)
        entry = {"name": name, "kind": "concatenated", "codec": "mixed", "hex": data.hex(),
                 "truncatedTail": truncated, "batches": batches}
        if truncated:
            entry["trailingBytes"] = len(tail)
        entries.append(entry)

    concatenated("two-batches", [("mixed", "none"), ("idempotent", "zstd")])
    transactional_lz4 = raw[("transactional", "lz4")]
    concatenated("truncated-mid-header", [("mixed", "gzip"), ("control-commit", "none")],
                 tail=transactional_lz4[:40], truncated=True)
    concatenated("truncated-mid-records", [("idempotent", "snappy"), ("mixed", "lz4")],
                 tail=transactional_lz4[:-1], truncated=True)
    concatenated("truncated-short-tail", [("transactional", "none")],
                 tail=raw[("mixed", "none")][:7], truncated=True)
    return entries


def build_records_blob():
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=0, is_transactional=False,
        producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    builder.append(0, timestamp=T0, key=b"key", value=b"value", headers=[("h", b"v")])
    builder.append(1, timestamp=T0 + 1, key=None, value=b"second", headers=[])
    return bytes(builder.build())


# ---------------------------------------------------------------------------
# murmur2.json and crc32c.json
# ---------------------------------------------------------------------------

PUBLISHED_MURMUR2 = [
    ("21", -973932308),
    ("foobar", -790332482),
    ("a-little-bit-long-string", -985981536),
    ("a-little-bit-longer-string", -1486304829),
    ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    ("abc", 479470107),
]
PARTITION_COUNTS = (1, 3, 7, 12, 100)


class _Cluster:
    """Just enough of kafka-python's ClusterMetadata for DefaultPartitioner."""

    def __init__(self, partitions):
        self._partitions = set(range(partitions))

    def topics(self):
        return {"t"}

    def partitions_for_topic(self, topic):
        return self._partitions

    def available_partitions_for_topic(self, topic):
        return self._partitions


def java_murmur2(data):
    value = murmur2(data)
    return value - (1 << 32) if value >= (1 << 31) else value


def murmur2_fixtures(report):
    rng = random.Random("murmur2-keys")
    keys = [(s.encode(), s, expected) for s, expected in PUBLISHED_MURMUR2]
    utf8_pool = "aé€😀żółw日本語кафка"
    for i in range(3000):
        length = i % 65
        kind = (i // 65) % 3
        if kind == 0:
            data = rng.randbytes(length)
        elif kind == 1:
            data = "".join(chr(rng.randint(32, 126)) for _ in range(length)).encode()
        else:
            data = b""
            while len(data) < length:
                char = rng.choice(utf8_pool).encode()
                if len(data) + len(char) > length:
                    char = b"a"  # pad with ASCII so the key has exactly `length` bytes
                data += char
        keys.append((data, None, None))
    partitioner = DefaultPartitioner()
    clusters = {n: _Cluster(n) for n in PARTITION_COUNTS}
    out = []
    for data, label, expected in keys:
        value = java_murmur2(data)
        if expected is not None and value != expected:
            report.append("murmur2(%r): kafka-python %d, published %d" % (label, value, expected))
        partitions = {}
        for n in PARTITION_COUNTS:
            p = (value & 0x7FFFFFFF) % n
            q = partitioner.partition("t", None, data, None, None, clusters[n])
            if p != q:
                raise AssertionError("DefaultPartitioner disagrees for %s" % data.hex())
            partitions[str(n)] = p
        entry = {"key": data.hex(), "hash": value, "partitions": partitions}
        if label is not None:
            entry["text"] = label
        out.append(entry)
    return out


PUBLISHED_CRC32C = [
    ("empty", b"", 0x00000000),
    ("123456789", b"123456789", 0xE3069283),
    ("32 zero bytes", bytes(32), 0x8A9136AA),
    ("32 0xff bytes", b"\xff" * 32, 0x62A8AB43),
    ("ascending 0..31", bytes(range(32)), 0x46DD794E),
    ("descending 31..0", bytes(range(31, -1, -1)), 0x113FDB5C),
]


def crc32c_fixtures():
    out = []
    for name, data, expected in PUBLISHED_CRC32C:
        value = _crc32c.crc(data)
        if value != expected:
            raise AssertionError("crc32c(%s) = %08x, expected %08x" % (name, value, expected))
        out.append({"name": name, "hex": data.hex(), "crc": value})
    rng = random.Random("crc32c-buffers")
    lengths = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 127, 255, 1023, 4095, 4097, 5000]
    while len(lengths) < 50:
        lengths.append(rng.randint(1, 5000))
    for length in lengths:
        data = rng.randbytes(length)
        value = _crc32c.crc(data)
        if value != calc_crc32c(memoryview(data)):
            raise AssertionError("crc32c implementations disagree")
        out.append({"hex": data.hex(), "crc": value})
    return out


# ---------------------------------------------------------------------------

def write_json(path, entries):
    text_out = "[\n" + ",\n".join(json.dumps(e, ensure_ascii=False, separators=(",", ":"))
                                  for e in entries) + "\n]\n"
    path.write_text(text_out, encoding="utf-8")
    json.loads(path.read_text(encoding="utf-8"))  # must load back
    return path.stat().st_size


def main():
    global RECORDS_BLOB
    RECORDS_BLOB = build_records_blob()
    messages = parse_our_schemas()
    report, wire_affected = schema_report(messages)
    notes = []
    outputs = {
        "messages.json": message_fixtures(messages, wire_affected),
        "record_batches.json": record_batch_fixtures(),
        "murmur2.json": murmur2_fixtures(notes),
        "crc32c.json": crc32c_fixtures(),
    }
    for name, entries in outputs.items():
        size = write_json(HERE / name, entries)
        print("%-20s %5d entries %9d bytes" % (name, len(entries), size))
    print("kafka-python %s" % kafka.__version__)
    for note in notes:
        print("NOTE: " + note)
    print("\nSchema differences, kafka-python vs ours (versions in our range):")
    print("\n".join(report) if report else "  none")


if __name__ == "__main__":
    main()
