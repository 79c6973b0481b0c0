#!/usr/bin/env python3
"""kafka-python reading back what this package's producer wrote, driven by KafkaClientTests.

  consume  --bootstrap HOST:PORT --topic NAME
      Assigns every partition of the topic (no consumer group), reads each from its earliest offset up to the end
      offset it had when reading started, and prints one JSON document:
        {"partitionCount": n, "endOffsets": {"partition": int},
         "records": [{"partition", "offset", "timestamp", "timestampType",
                      "key", "value", "headers": [[name, value]],
                      "keyPartition"}, ...]}
      Keys, values and header values are base64 (JSON null for null), so that bytes are compared exactly.
      keyPartition is where kafka-python's own Java-compatible murmur2 puts the key among n partitions:
      toPositive(murmur2(key)) % n; null for a null key.

Exits 0 after printing, or non-zero with the reason on stderr. Every wait is bounded.
"""

import argparse
import base64
import json
import sys
import time

from kafka import KafkaConsumer, TopicPartition
from kafka.partitioner.default import murmur2

REQUEST_TIMEOUT_MS = 15000
DEADLINE_SECONDS = 30
MAX_POLLS = 2000


def b64(data):
    return None if data is None else base64.b64encode(data).decode("ascii")


def key_partition(key, count):
    if key is None:
        return None
    return (murmur2(key) & 0x7FFFFFFF) % count


def consume(args):
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap, client_id="swift-kafka-producer-interop",
                             group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
                             request_timeout_ms=REQUEST_TIMEOUT_MS)
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        known = None
        while not known and time.monotonic() < deadline:
            known = consumer.partitions_for_topic(args.topic)
            if not known:
                time.sleep(0.05)
        if not known:
            raise RuntimeError("no partitions known for topic %r" % args.topic)
        partitions = [TopicPartition(args.topic, p) for p in sorted(known)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions, timeout_ms=REQUEST_TIMEOUT_MS)
        records = []
        for _ in range(MAX_POLLS):
            if all(consumer.position(tp) >= ends[tp] for tp in partitions):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("timed out; positions %s, end offsets %s"
                                   % ({str(tp): consumer.position(tp) for tp in partitions}, ends))
            for messages in consumer.poll(timeout_ms=200).values():
                for message in messages:
                    records.append({
                        "partition": message.partition,
                        "offset": message.offset,
                        "timestamp": message.timestamp,
                        "timestampType": message.timestamp_type,
                        "key": b64(message.key),
                        "value": b64(message.value),
                        "headers": [[name, b64(value)] for name, value in message.headers],
                        "keyPartition": key_partition(message.key, len(partitions)),
                    })
        records.sort(key=lambda r: (r["partition"], r["offset"]))
        return {"partitionCount": len(partitions), "records": records,
                "endOffsets": {str(tp.partition): ends[tp] for tp in partitions}}
    finally:
        consumer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["consume"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    args = parser.parse_args()
    json.dump(consume(args), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
