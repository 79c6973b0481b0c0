#!/usr/bin/env python3
"""Writes the golden interop fixtures for KafkaCompressionTests.

Every compressed file here is made by an implementation independent of ours: kafka-python's
`kafka.codec` encoders (what kafka-python's producer sends), and python-lz4 / zstandard / python-snappy
directly for variants other clients write. The Swift tests decompress each `<name>.<variant>` file and
compare it with `<name>.raw`.

Needs: kafka-python (3.x), lz4, zstandard, python-snappy. Re-run from anywhere:

    python3 Tests/KafkaCompressionTests/Fixtures/make_fixtures.py

The output is deterministic except for gzip's header timestamp, which is pinned to 0 below.
"""

import gzip
import io
import os
import random
import sys
import zlib

import lz4.frame
import snappy
import zstandard
from kafka import codec

HERE = os.path.dirname(os.path.abspath(__file__))


def records_payload():
    """About 66 KB of record-like text: compressible, and longer than one 64 KiB LZ4 block and two
    32 KiB xerial chunks, so multi-block paths are exercised."""
    rng = random.Random(20240611)
    events = ["page_view", "add_to_cart", "checkout", "login", "logout", "search"]
    lines = []
    size = 0
    i = 0
    while size < 66_000:
        line = '{"offset":%d,"key":"user-%d","event":"%s"}\n' % (i, rng.randrange(20), rng.choice(events))
        lines.append(line)
        size += len(line)
        i += 1
    return "".join(lines).encode()


def gzip_pinned(data):
    """gzip with mtime 0 so the fixture does not change on every run."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    records = records_payload()
    short = b"hello, kafka!"
    part1 = records[:5000]
    part2 = records[5000:9000]
    concat = part1 + part2

    write("records.raw", records)
    write("short.raw", short)
    write("concat.raw", concat)

    for name, data in (("records", records), ("short", short)):
        # kafka-python's producer encoders.
        write(name + ".gzip", gzip_pinned(data))  # same format as codec.gzip_encode, minus the clock
        write(name + ".snappy-xerial", codec.snappy_encode(data, xerial_compatible=True))
        write(name + ".snappy-raw", codec.snappy_encode(data, xerial_compatible=False))
        write(name + ".lz4", codec.lz4_encode(data))  # independent blocks, content size stored
        write(name + ".zstd", codec.zstd_encode(data))  # content size in the frame header

        # Other shapes real producers send.
        write(name + ".lz4-checksums", lz4.frame.compress(
            data, content_checksum=True, block_checksum=True, store_size=True, block_linked=False))
        write(name + ".lz4-linked", lz4.frame.compress(data, block_linked=True, store_size=False))
        write(name + ".lz4-java", lz4.frame.compress(  # the exact shape Java's Lz4BlockOutputStream writes
            data, block_size=lz4.frame.BLOCKSIZE_MAX64KB, block_linked=False,
            content_checksum=False, block_checksum=False, store_size=False))
        streaming = zstandard.ZstdCompressor(write_content_size=False).compressobj()
        write(name + ".zstd-nosize", streaming.compress(data) + streaming.flush())

    # zlib wrapper instead of gzip: our gzip reader auto-detects it (kept small: it is the same deflate data).
    write("short.zlib", zlib.compress(short))

    # Concatenations: several gzip members, zstd frames, lz4 frames, xerial streams.
    write("concat.gzip", gzip_pinned(part1) + gzip_pinned(part2))
    write("concat.zstd", codec.zstd_encode(part1) + codec.zstd_encode(part2))
    write("concat.lz4", codec.lz4_encode(part1) + codec.lz4_encode(part2))
    write("concat.snappy-xerial",
          codec.snappy_encode(part1, xerial_compatible=True) + codec.snappy_encode(part2, xerial_compatible=True))

    # Sanity: every fixture decodes back with the independent decoders.
    assert codec.gzip_decode(open(os.path.join(HERE, "records.gzip"), "rb").read()) == records
    assert snappy.decompress(open(os.path.join(HERE, "records.snappy-raw"), "rb").read()) == records
    total = sum(os.path.getsize(os.path.join(HERE, f)) for f in os.listdir(HERE) if not f.endswith(".py"))
    print("fixtures written, %d bytes" % total, file=sys.stderr)


if __name__ == "__main__":
    main()
