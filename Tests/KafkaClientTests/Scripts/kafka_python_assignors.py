#!/usr/bin/env python3
"""Runs kafka-python's range and roundrobin assignors on scenarios read from stdin; used by AssignorTests.

Input (JSON on stdin):
    {"scenarios": [{"members": [{"memberId": "m1", "groupInstanceId": null, "topics": ["t0"]}, ...],
                    "partitionCounts": {"t0": 3, ...}}, ...]}
Output (JSON on stdout), one entry per scenario:
    {"kafkaPython": "<version>",
     "results": [{"range": {"m1": [["t0", 0], ...], ...}, "roundrobin": {...}}, ...]}

A subscribed topic missing from "partitionCounts" is unknown to the cluster (kafka-python skips it).

kafka-python (as of 3.0.x) splits members into static and dynamic ones with itertools.groupby, which only groups
neighbours: when static and dynamic members alternate in its input, some of them are lost. The Java client sorts
the whole list, so the input order does not matter there. To compare with the Java behaviour, members are handed
to kafka-python with the static ones first (each group otherwise in the scenario's order); kafka-python sorts
within each group itself.

kafka-python's roundrobin (as of 3.0.x) also crashes whenever it has to skip a member not subscribed to a topic:
inside its skipping loop it takes the whole (group_instance_id, member_id) pair from its member cycle as the member
id. The script hands that module a cycle whose pairs also look up as their member id (see _MemberKey), which lets
its loop run as written; the order, the cycle and the skipping stay kafka-python's own.

With "--check" the script only verifies that kafka-python can be imported.
"""

import itertools
import json
import logging
import sys
import types
from collections import namedtuple

try:
    import kafka
    import kafka.coordinator.assignors.roundrobin as roundrobin_module
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
except ImportError as error:  # pragma: no cover - reported to the Swift test
    print("kafka-python is not importable: %s" % error, file=sys.stderr)
    sys.exit(3)


class _MemberKey(tuple):
    """A (group_instance_id, member_id) pair that also hashes and compares equal to its member_id."""

    def __hash__(self):
        return hash(self[1])

    def __eq__(self, other):
        if isinstance(other, tuple):
            return tuple.__eq__(self, other)
        return self[1] == other

    def __ne__(self, other):
        return not self.__eq__(other)


def _cycle_of_member_keys(pairs):
    return itertools.cycle([_MemberKey(pair) for pair in pairs])


roundrobin_module.itertools = types.SimpleNamespace(groupby=itertools.groupby, cycle=_cycle_of_member_keys)

# kafka-python logs a warning for every topic without metadata; those are expected here.
logging.getLogger("kafka").setLevel(logging.ERROR)

Subscription = namedtuple("Subscription", ["topics"])
Member = namedtuple("Member", ["member_id", "group_instance_id", "metadata"])


class Cluster:
    """The one ClusterMetadata method the two assignors call."""

    def __init__(self, partition_counts):
        self._counts = partition_counts

    def partitions_for_topic(self, topic):
        if topic not in self._counts:
            return None
        return set(range(self._counts[topic]))


def flatten(assignment):
    return [[topic, partition] for topic, partitions in assignment.assigned_partitions for partition in partitions]


def run(scenario):
    members = [
        Member(m["memberId"], m.get("groupInstanceId"), Subscription(list(m["topics"])))
        for m in scenario["members"]
    ]
    members = [m for m in members if m.group_instance_id is not None] + \
              [m for m in members if m.group_instance_id is None]
    cluster = Cluster(scenario["partitionCounts"])
    result = {}
    for name, assignor in (("range", RangePartitionAssignor), ("roundrobin", RoundRobinPartitionAssignor)):
        assignments = assignor.assign(cluster, members)
        result[name] = {member_id: flatten(assignment) for member_id, assignment in assignments.items()}
    return result


def main():
    if "--check" in sys.argv[1:]:
        print(json.dumps({"kafkaPython": kafka.__version__}))
        return
    request = json.load(sys.stdin)
    results = [run(scenario) for scenario in request["scenarios"]]
    json.dump({"kafkaPython": kafka.__version__, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
