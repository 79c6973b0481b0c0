#!/usr/bin/env python3
"""Decompresses a file with kafka-python's decoders, the ones its consumer uses.

    decompress.py <codec> <infile> <outfile>

<codec> is gzip, snappy, lz4 or zstd. Exit status: 0 on success, 1 if decoding failed,
3 if kafka-python (or the codec's library) is not installed, 2 on bad usage.
"""

import sys


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    name, infile, outfile = argv[1:]
    try:
        from kafka import codec
    except ImportError as error:
        print("kafka-python is not installed: %s" % error, file=sys.stderr)
        return 3

    decoders = {
        "gzip": (codec.has_gzip, codec.gzip_decode),
        "snappy": (codec.has_snappy, codec.snappy_decode),
        "lz4": (codec.has_lz4, codec.lz4_decode),
        "zstd": (codec.has_zstd, codec.zstd_decode),
    }
    if name not in decoders:
        print("unknown codec %r" % name, file=sys.stderr)
        return 2
    available, decode = decoders[name]
    if not available():
        print("kafka-python has no %s support installed" % name, file=sys.stderr)
        return 3

    with open(infile, "rb") as f:
        payload = f.read()
    try:
        data = decode(payload)
    except Exception as error:  # any decoder failure is a test failure, reported by the caller
        print("%s decode failed: %r" % (name, error), file=sys.stderr)
        return 1
    with open(outfile, "wb") as f:
        f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
