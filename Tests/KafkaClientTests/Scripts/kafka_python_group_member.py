#!/usr/bin/env python3
"""kafka-python as a member of a consumer group, driven by ConsumerGroupInteropTests.

  member --bootstrap HOST:PORT --group ID --topic NAME --assignor range|roundrobin|cooperative-sticky
         [--client-id ID] [--max-records N] [--until-file PATH] [--session-timeout-ms MS] [--deadline-seconds S]

      Subscribes to the topic with KafkaConsumer(group_id=...) (auto-commit on, auto_offset_reset=earliest), reads
      the group's committed offsets for every partition of the topic, and polls:
        - with --max-records, never takes more than N records (each poll asks for at most what is missing, so the
          positions it commits are exactly after the records it took);
        - with --until-file, keeps polling (and taking whatever comes) until that file exists, so that it stays in
          the group while the test needs it.
      While it reads, it prints "read N" on stderr each time its count of records grows. Then it commits its
      positions synchronously, reads the committed offsets back, closes (leaving the group) and prints one JSON
      document:
        {"committedBefore": {"partition": offset or null}, "committedAfter": {...},
         "assignments": [[partition, ...], ...],   # every distinct assignment it saw, in order
         "records": [{"partition", "offset", "key", "value"}, ...],   # in the order polled
         "kafkaPython": "<version>"}

Exits 0 after printing. If the deadline passes first, it prints what it has on stderr and exits 2; any other
failure exits non-zero with a traceback. Every wait is bounded.
"""

import argparse
import json
import os
import sys
import time

import kafka
import kafka.errors
from kafka import KafkaConsumer, TopicPartition
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

ASSIGNORS = {
    "range": RangePartitionAssignor,
    "roundrobin": RoundRobinPartitionAssignor,
    "cooperative-sticky": CooperativeStickyAssignor,
}
REQUEST_TIMEOUT_MS = 15000
POLL_TIMEOUT_MS = 100


def decode(data):
    return None if data is None else data.decode("utf-8")


def committed_offsets(consumer, partitions):
    return {str(tp.partition): consumer.committed(tp, timeout_ms=REQUEST_TIMEOUT_MS) for tp in partitions}


def topic_partitions(consumer, topic, deadline):
    known = None
    while not known and time.monotonic() < deadline:
        known = consumer.partitions_for_topic(topic)
        if not known:
            time.sleep(0.05)
    if not known:
        raise RuntimeError("no partitions known for topic %r" % topic)
    return [TopicPartition(topic, p) for p in sorted(known)]


def member(args):
    deadline = time.monotonic() + args.deadline_seconds
    # Subscribed from the start: a leader that subscribes after it already has the topic's metadata assigns from
    # an empty metadata snapshot, and rejoins (one more rebalance) as soon as the next metadata arrives.
    consumer = KafkaConsumer(
        args.topic, bootstrap_servers=args.bootstrap, client_id=args.client_id, group_id=args.group,
        partition_assignment_strategy=[ASSIGNORS[args.assignor]],
        auto_offset_reset="earliest", enable_auto_commit=True,
        session_timeout_ms=args.session_timeout_ms, heartbeat_interval_ms=100,
        request_timeout_ms=REQUEST_TIMEOUT_MS)
    result = {"kafkaPython": kafka.__version__, "assignments": [], "records": []}
    try:
        partitions = topic_partitions(consumer, args.topic, deadline)
        result["committedBefore"] = committed_offsets(consumer, partitions)

        def done():
            if args.max_records is not None and len(result["records"]) < args.max_records:
                return False
            return args.until_file is None or os.path.exists(args.until_file)

        while not done():
            if time.monotonic() > deadline:
                print("deadline passed; so far: %s" % json.dumps(result), file=sys.stderr)
                sys.exit(2)
            missing = None
            if args.max_records is not None and args.until_file is None:
                missing = args.max_records - len(result["records"])
            batches = consumer.poll(timeout_ms=POLL_TIMEOUT_MS, max_records=missing)
            for messages in batches.values():
                for message in messages:
                    result["records"].append({"partition": message.partition, "offset": message.offset,
                                              "key": decode(message.key), "value": decode(message.value)})
            if batches:
                print("read %d" % len(result["records"]), file=sys.stderr, flush=True)
            assignment = sorted(tp.partition for tp in consumer.assignment())
            if not result["assignments"] or result["assignments"][-1] != assignment:
                result["assignments"].append(assignment)

        # Another member leaving as this one finishes starts a rebalance; kafka-python then refuses the commit
        # until poll() has taken part in it (its error says so). Bounded: a few rounds.
        for attempt in range(10):
            try:
                consumer.commit()
                break
            except (kafka.errors.RebalanceInProgressError, kafka.errors.CommitFailedError):
                if attempt == 9:
                    raise
                consumer.poll(timeout_ms=500)
        result["committedAfter"] = committed_offsets(consumer, partitions)
    finally:
        consumer.close()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["member"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--assignor", choices=sorted(ASSIGNORS), required=True)
    parser.add_argument("--client-id", default="kafka-python-member")
    parser.add_argument("--max-records", type=int)
    parser.add_argument("--until-file")
    parser.add_argument("--session-timeout-ms", type=int, default=10000)
    parser.add_argument("--deadline-seconds", type=float, default=45)
    args = parser.parse_args()
    json.dump(member(args), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
