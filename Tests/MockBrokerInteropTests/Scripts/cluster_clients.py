#!/usr/bin/env python3
"""Real clients against a mock-broker cluster, driven by ClusterInteropTests.

librdkafka (through confluent-kafka) and kafka-python, each as an idempotent acks=all producer and as a member of a
consumer group. Every command prints one JSON document on stdout and exits 0; failures go to stderr with a
non-zero exit status. Every wait is bounded.

  produce --client C --topic T --prefix P --count N [--pause-ms M]
      sends P-0 .. P-(N-1) (key P-i mod 7), pausing M ms every 50 records so that the run spans failovers
      stdout: {"acks": {"P-i": [partition, offset], ...}, "errors": ["..."]}
  consume-group --client C --topic T --group G --expect N
      consumes in group G until N distinct values were seen (at most 60 s), commits, leaves
      stdout: {"records": [[value, partition, offset], ...]}
"""

import argparse
import json
import sys
import time

DEADLINE_SECONDS = 60


def produce_confluent(args):
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": args.bootstrap, "enable.idempotence": True, "acks": "all",
                         "linger.ms": 5, "message.timeout.ms": 50000, "client.id": "cluster-interop-confluent",
                         "retry.backoff.ms": 50})
    acks, errors = {}, []

    def delivered(error, message):
        value = message.value().decode("utf-8")
        if error is not None:
            errors.append("%s: %s" % (value, error))
        else:
            acks[value] = [message.partition(), message.offset()]

    for i in range(args.count):
        value = "%s-%d" % (args.prefix, i)
        while True:
            try:
                producer.produce(args.topic, key="%s-%d" % (args.prefix, i % 7), value=value, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
        if args.pause_ms and i % 50 == 49:
            time.sleep(args.pause_ms / 1000)
    remaining = producer.flush(DEADLINE_SECONDS)
    if remaining:
        errors.append("%d message(s) not delivered within %d s" % (remaining, DEADLINE_SECONDS))
    return {"acks": acks, "errors": errors}


def produce_kafka_python(args):
    from kafka import KafkaProducer
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, enable_idempotence=True, acks="all", linger_ms=5,
                             client_id="cluster-interop-kafka-python", request_timeout_ms=10000,
                             delivery_timeout_ms=50000, retry_backoff_ms=50, max_block_ms=30000)
    acks, errors, futures = {}, [], []
    try:
        for i in range(args.count):
            value = "%s-%d" % (args.prefix, i)
            futures.append((value, producer.send(args.topic, key=("%s-%d" % (args.prefix, i % 7)).encode(),
                                                 value=value.encode())))
            if args.pause_ms and i % 50 == 49:
                time.sleep(args.pause_ms / 1000)
        producer.flush(timeout=DEADLINE_SECONDS)
        for value, future in futures:
            try:
                metadata = future.get(timeout=DEADLINE_SECONDS)
                acks[value] = [metadata.partition, metadata.offset]
            except Exception as error:  # noqa: BLE001 - every failure is reported
                errors.append("%s: %r" % (value, error))
    finally:
        producer.close(timeout=5)
    return {"acks": acks, "errors": errors}


def consume_confluent(args):
    from confluent_kafka import Consumer
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "session.timeout.ms": 10000, "heartbeat.interval.ms": 500,
                         "client.id": "cluster-interop-confluent"})
    records, seen = [], set()
    try:
        consumer.subscribe([args.topic])
        deadline = time.monotonic() + DEADLINE_SECONDS
        while len(seen) < args.expect and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            value = message.value().decode("utf-8")
            seen.add(value)
            records.append([value, message.partition(), message.offset()])
        for _ in range(50):
            try:
                consumer.commit(asynchronous=False)
                break
            except Exception:  # noqa: BLE001 - a coordinator may be moving: retry
                time.sleep(0.1)
    finally:
        consumer.close()
    return {"records": records}


def consume_kafka_python(args):
    from kafka import KafkaConsumer
    consumer = KafkaConsumer(args.topic, bootstrap_servers=args.bootstrap, group_id=args.group,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             session_timeout_ms=10000, heartbeat_interval_ms=500,
                             client_id="cluster-interop-kafka-python", request_timeout_ms=15000)
    records, seen = [], set()
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while len(seen) < args.expect and time.monotonic() < deadline:
            for messages in consumer.poll(timeout_ms=200).values():
                for message in messages:
                    value = message.value.decode("utf-8")
                    seen.add(value)
                    records.append([value, message.partition, message.offset])
        for _ in range(50):
            try:
                consumer.commit()
                break
            except Exception:  # noqa: BLE001 - a coordinator may be moving: retry
                time.sleep(0.1)
    finally:
        consumer.close()
    return {"records": records}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["produce", "consume-group"])
    parser.add_argument("--client", choices=["confluent", "kafka-python"], required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--prefix", default="r")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--pause-ms", type=int, default=0)
    parser.add_argument("--group")
    parser.add_argument("--expect", type=int, default=0)
    args = parser.parse_args()
    handlers = {("produce", "confluent"): produce_confluent, ("produce", "kafka-python"): produce_kafka_python,
                ("consume-group", "confluent"): consume_confluent,
                ("consume-group", "kafka-python"): consume_kafka_python}
    json.dump(handlers[(args.command, args.client)](args), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
