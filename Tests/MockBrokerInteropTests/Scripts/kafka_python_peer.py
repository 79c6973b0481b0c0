#!/usr/bin/env python3
"""kafka-python as a peer of the mock broker, driven by MockBrokerInteropTests.

Each command talks to the broker at --bootstrap with kafka-python's own clients (version negotiation left to
kafka-python), prints one JSON document on stdout and exits 0; any failure is printed on stderr with a
non-zero exit status.

Keys, values and header values travel as UTF-8 strings; JSON null stands for a null key or value (kafka-python
does not send null header values).

  produce        stdin: [{"key", "value", "headers": [[name, value]], "partition"?, "timestamp"?}, ...]
                 stdout: {"acks": [{"partition", "offset", "timestamp"}, ...] in input order, "brokerVersion"}
  consume        reads every partition of the topic from its beginning up to its end offset
                 stdout: {"records": [{"partition", "offset", "timestamp", "key", "value", "headers"}, ...],
                          "endOffsets": {"partition": int}, "brokerVersion": [major, minor]}
  offsets        looks up --times in --partition (after deleting the records before --delete-before, if given)
                 stdout: {"beginning": int, "end": int, "times": [{"target", "offset", "timestamp"}, ...]}
  create-topics  stdin: {"name": {"num_partitions"?: int, "configs"?: {...}}, ...}
                 creates the topics in one request, then asks again for the first one listed
                 stdout: {"created": {"name": {"error", "num_partitions"}, ...},
                          "again": "<class of the error raised, or none>"}
"""

import argparse
import json
import sys
import time

import kafka.errors
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

# Safety bounds: every wait below ends, whatever the broker does.
REQUEST_TIMEOUT_MS = 15000
CONSUME_DEADLINE_SECONDS = 30
MAX_POLLS = 2000


def encode(text):
    return None if text is None else text.encode("utf-8")


def decode(data):
    return None if data is None else data.decode("utf-8")


def common(args):
    return {
        "bootstrap_servers": args.bootstrap,
        "client_id": "mock-broker-interop",
        "request_timeout_ms": REQUEST_TIMEOUT_MS,
    }


def produce(args):
    records = json.load(sys.stdin)
    codec = None if args.codec == "none" else args.codec
    producer = KafkaProducer(acks="all", compression_type=codec, linger_ms=args.linger_ms,
                             max_block_ms=REQUEST_TIMEOUT_MS, **common(args))
    try:
        futures = [
            producer.send(
                args.topic,
                key=encode(record.get("key")),
                value=encode(record.get("value")),
                headers=[(name, encode(value)) for name, value in record.get("headers", [])],
                partition=record.get("partition"),
                timestamp_ms=record.get("timestamp"),
            )
            for record in records
        ]
        producer.flush(timeout=REQUEST_TIMEOUT_MS / 1000)
        acks = []
        for future in futures:
            metadata = future.get(timeout=REQUEST_TIMEOUT_MS / 1000)
            acks.append({"partition": metadata.partition, "offset": metadata.offset,
                         "timestamp": metadata.timestamp})
    finally:
        producer.close(timeout=5)
    return {"acks": acks, "brokerVersion": broker_version(producer)}


def broker_version(client):
    """The broker version kafka-python inferred from ApiVersions (no api_version is configured)."""
    return list(client.config["api_version"])


def consumer_for(args):
    return KafkaConsumer(group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
                         **common(args))


def topic_partitions(consumer, topic):
    partitions = None
    deadline = time.monotonic() + CONSUME_DEADLINE_SECONDS
    while not partitions and time.monotonic() < deadline:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            time.sleep(0.05)
    if not partitions:
        raise RuntimeError("no partitions known for topic %r" % topic)
    return [TopicPartition(topic, p) for p in sorted(partitions)]


def consume(args):
    consumer = consumer_for(args)
    try:
        partitions = topic_partitions(consumer, args.topic)
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions, timeout_ms=REQUEST_TIMEOUT_MS)
        records = []
        deadline = time.monotonic() + CONSUME_DEADLINE_SECONDS
        for _ in range(MAX_POLLS):
            if all(consumer.position(tp) >= ends[tp] for tp in partitions):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("timed out; positions %s, end offsets %s"
                                   % ({str(tp): consumer.position(tp) for tp in partitions}, ends))
            batches = consumer.poll(timeout_ms=200)
            for messages in batches.values():
                for message in messages:
                    records.append({
                        "partition": message.partition,
                        "offset": message.offset,
                        "timestamp": message.timestamp,
                        "key": decode(message.key),
                        "value": decode(message.value),
                        "headers": [[name, decode(value)] for name, value in message.headers],
                    })
        records.sort(key=lambda r: (r["partition"], r["offset"]))
        return {"records": records, "endOffsets": {str(tp.partition): ends[tp] for tp in partitions},
                "brokerVersion": broker_version(consumer)}
    finally:
        consumer.close()


def offsets(args):
    consumer = consumer_for(args)
    try:
        tp = TopicPartition(args.topic, args.partition)
        if args.delete_before is not None:
            admin = KafkaAdminClient(**common(args))
            try:
                admin.delete_records({tp: args.delete_before}, timeout_ms=REQUEST_TIMEOUT_MS)
            finally:
                admin.close()
        beginning = consumer.beginning_offsets([tp], timeout_ms=REQUEST_TIMEOUT_MS)[tp]
        end = consumer.end_offsets([tp], timeout_ms=REQUEST_TIMEOUT_MS)[tp]
        times = []
        for target in args.times:
            found = consumer.offsets_for_times({tp: target}, timeout_ms=REQUEST_TIMEOUT_MS)[tp]
            times.append({"target": target,
                          "offset": None if found is None else found.offset,
                          "timestamp": None if found is None else found.timestamp})
        return {"beginning": beginning, "end": end, "times": times}
    finally:
        consumer.close()


def create_topics(args):
    spec = json.load(sys.stdin)
    admin = KafkaAdminClient(**common(args))
    try:
        topics = {name: dict(options, replication_factor=1) for name, options in spec.items()}
        response = admin.create_topics(topics, timeout_ms=REQUEST_TIMEOUT_MS, wait_for_metadata=True)
        created = {topic["name"]: {"error": kafka.errors.for_code(topic["error_code"]).__name__,
                                   "num_partitions": topic.get("num_partitions")}
                   for topic in response["topics"]}
        first = next(iter(spec))
        again = "none"
        try:
            admin.create_topics({first: topics[first]}, timeout_ms=REQUEST_TIMEOUT_MS)
        except kafka.errors.KafkaError as error:
            again = type(error).__name__
        return {"created": created, "again": again}
    finally:
        admin.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["produce", "consume", "offsets", "create-topics"])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic")
    parser.add_argument("--codec", default="none", choices=["none", "gzip", "snappy", "lz4", "zstd"])
    parser.add_argument("--linger-ms", type=int, default=0)
    parser.add_argument("--partition", type=int, default=0)
    parser.add_argument("--times", type=int, nargs="*", default=[])
    parser.add_argument("--delete-before", type=int, default=None)
    args = parser.parse_args()
    result = {"produce": produce, "consume": consume, "offsets": offsets,
              "create-topics": create_topics}[args.command](args)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
