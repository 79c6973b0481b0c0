#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from the golden fixtures.

    Fuzz/seed-corpora.py OUTPUT_DIR

creates OUTPUT_DIR/<target>/ for each target, one file per seed, in the input format the target's harness
documents (Fuzz/Sources/<target>/*.swift). Run by scripts/fuzz.sh before each fuzzing run, so that the seeds
follow the fixtures and nothing generated is committed.
"""

import hashlib
import json
import os
import re
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTOCOL_FIXTURES = os.path.join(ROOT, "Tests", "KafkaProtocolTests", "Fixtures")
COMPRESSION_FIXTURES = os.path.join(ROOT, "Tests", "KafkaCompressionTests", "Fixtures")
SCHEMA = os.path.join(ROOT, "Sources", "KafkaProtocol", "Schema")

# The codec numbers of a record batch's attributes, by the compression fixtures' file extensions.
CODECS = {"raw": 0, "gzip": 1, "zlib": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def read_schemas():
    """Message name -> (kind, api key or None, first flexible version or None), from the schema files."""
    header = re.compile(r"^(request|response|data|header) (\w+)(?: apiKey=(\d+))? versions=\d+(?:-\d+)? flexible=(\S+)")
    messages = {}
    for name in sorted(os.listdir(SCHEMA)):
        if not name.endswith(".schema"):
            continue
        with open(os.path.join(SCHEMA, name)) as schema:
            for line in schema:
                match = header.match(line)
                if match:
                    kind, message, api_key, flexible = match.groups()
                    first_flexible = None if flexible == "none" else int(flexible.rstrip("+"))
                    messages[message] = (kind, int(api_key) if api_key else None, first_flexible)
    return messages


def load_json(name):
    with open(os.path.join(PROTOCOL_FIXTURES, name)) as fixture:
        return json.load(fixture)


class Corpus:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        os.makedirs(directory, exist_ok=True)

    def add(self, data):
        # Named by content, as libFuzzer names its own corpus entries: duplicates collapse.
        path = os.path.join(self.directory, hashlib.sha1(data).hexdigest())
        if not os.path.exists(path):
            with open(path, "wb") as seed:
                seed.write(data)
            self.count += 1


# Request encodings, for the few requests the broker seeds build around fixtures (non-flexible versions only).

def string(value):
    encoded = value.encode()
    return struct.pack(">h", len(encoded)) + encoded


def array(items):
    return struct.pack(">i", len(items)) + b"".join(items)


def request_frame(api_key, version, body, flexible):
    """Request header v1 (v2 for flexible versions, with an empty tagged-field section), then the body."""
    header = struct.pack(">hhi", api_key, version, 1) + string("fuzz")
    return header + (b"\x00" if flexible else b"") + body


def metadata_v4(topic):
    return request_frame(3, 4, array([string(topic)]) + b"\x01", False)


def produce_v3(topic, records):
    partition = struct.pack(">ii", 0, len(records)) + records
    body = struct.pack(">hhi", -1, 1, 1000) + array([string(topic) + array([partition])])
    return request_frame(0, 3, body, False)


def create_topics_v2(topic, partitions):
    creatable = string(topic) + struct.pack(">ih", partitions, 1) + array([]) + array([])
    return request_frame(19, 2, array([creatable]) + struct.pack(">i", 30000) + b"\x00", False)


def create_partitions_v0(topic, count):
    return request_frame(37, 0, array([string(topic) + struct.pack(">i", count) + struct.pack(">i", -1)])
                         + struct.pack(">i", 30000) + b"\x00", False)


def fetch_v4(topic):
    partition = struct.pack(">iqi", 0, 0, 1 << 20)
    body = struct.pack(">iiiib", -1, 0, 1, 1 << 20, 0) + array([string(topic) + array([partition])])
    return request_frame(1, 4, body, False)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    output = sys.argv[1]
    schemas = read_schemas()
    # fuzz-protocol-messages numbers types by name, as KafkaMessageTypes.all sorted by messageName.
    type_index = {name: index for index, name in enumerate(sorted(schemas))}
    frame_selector = len(type_index)

    messages = Corpus(os.path.join(output, "fuzz-protocol-messages"))
    broker = Corpus(os.path.join(output, "fuzz-broker-requests"))
    batches = Corpus(os.path.join(output, "fuzz-record-batches"))

    for fixture in load_json("messages.json"):
        data = bytes.fromhex(fixture["hex"])
        name = fixture["name"]
        if fixture["kind"] == "frame":
            if name.endswith("Request"):
                frame = data[4:]  # without the size prefix
                messages.add(bytes([frame_selector, 0]) + frame)
                broker.add(frame)
            continue
        messages.add(bytes([type_index[name], fixture["version"]]) + data)
        if fixture["kind"] == "request":
            _, api_key, first_flexible = schemas[name]
            flexible = first_flexible is not None and fixture["version"] >= first_flexible
            frame = request_frame(api_key, fixture["version"], data, flexible)
            messages.add(bytes([frame_selector, 0]) + frame)
            broker.add(frame)

    # The broker gets topics (requests that pass validation, unlike most fixtures'), batches with each codec
    # produced to one, and a fetch of them.
    broker.add(metadata_v4("fuzz"))
    broker.add(create_topics_v2("fuzz-created", 2))
    broker.add(create_partitions_v0("fuzz", 2))
    broker.add(fetch_v4("fuzz"))
    for fixture in load_json("record_batches.json"):
        data = bytes.fromhex(fixture["hex"])
        batches.add(b"\x00" + data)
        broker.add(produce_v3("fuzz", data))
        if fixture["kind"] != "batch":
            continue
        (attributes,) = struct.unpack_from(">h", data, 21)
        (count,) = struct.unpack_from(">i", data, 57)
        section = data[61:]
        if count <= 0xFFFF:
            batches.add(bytes([1, attributes & 0xFF, count >> 8, count & 0xFF]) + section)
        batches.add(bytes([2, attributes & 0x07]) + section)

    for name in sorted(os.listdir(COMPRESSION_FIXTURES)):
        extension = name.rsplit(".", 1)[-1].split("-")[0]
        if extension in CODECS:
            with open(os.path.join(COMPRESSION_FIXTURES, name), "rb") as fixture:
                batches.add(bytes([2, CODECS[extension]]) + fixture.read())

    for corpus in (messages, batches, broker):
        print(f"{corpus.count:5} seeds in {corpus.directory}")


if __name__ == "__main__":
    main()
