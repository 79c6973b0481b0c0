"""librdkafka's view of a cluster through confluent-kafka's AdminClient, as one JSON document on stdout.

Usage: confluent_admin_view.py BOOTSTRAP TOPIC GROUP

Prints the cluster (id, controller, brokers), the topic's partitions (leader, replicas, ISR) and configs, the
groups listed, the group described (state, assignor, members with their partitions), its committed offsets and the
topic's end offsets: what kafka-admin's JSON is compared with.
"""
import json
import sys

from confluent_kafka import ConsumerGroupTopicPartitions, TopicCollection, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, OffsetSpec, ResourceType

bootstrap, topic, group = sys.argv[1:4]
admin = AdminClient({"bootstrap.servers": bootstrap, "client.id": "confluent-admin-view"})
timeout = 20

cluster = admin.describe_cluster(request_timeout=timeout).result()
described = admin.describe_topics(TopicCollection([topic]), request_timeout=timeout)[topic].result()
configs = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)], request_timeout=timeout)
config_entries = list(configs.values())[0].result()
listed = admin.list_consumer_groups(request_timeout=timeout).result()
group_description = admin.describe_consumer_groups([group], request_timeout=timeout)[group].result()
offsets = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=timeout)[group].result()
ends = admin.list_offsets({TopicPartition(topic, p.id): OffsetSpec.latest() for p in described.partitions},
                          request_timeout=timeout)

print(json.dumps({
    "cluster": {
        "clusterId": cluster.cluster_id,
        "controller": cluster.controller.id if cluster.controller else None,
        "brokers": [{"id": n.id, "host": n.host, "port": n.port} for n in sorted(cluster.nodes, key=lambda n: n.id)],
    },
    "topic": {
        "name": described.name,
        "partitions": [{"partition": p.id, "leader": p.leader.id if p.leader else None,
                        "replicas": [r.id for r in p.replicas], "isr": [r.id for r in p.isr]}
                       for p in sorted(described.partitions, key=lambda p: p.id)],
        "configs": {name: entry.value for name, entry in config_entries.items()},
    },
    "groups": sorted(g.group_id for g in listed.valid),
    "group": {
        "state": str(group_description.state.name),
        "assignor": group_description.partition_assignor,
        "members": [{"clientId": m.client_id,
                     "partitions": sorted([tp.topic, tp.partition] for tp in m.assignment.topic_partitions)}
                    for m in group_description.members],
        "offsets": sorted([tp.topic, tp.partition, tp.offset] for tp in offsets.topic_partitions),
    },
    "endOffsets": sorted([tp.topic, tp.partition, future.result().offset] for tp, future in ends.items()),
}, sort_keys=True))
