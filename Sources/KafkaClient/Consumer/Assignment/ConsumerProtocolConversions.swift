import KafkaProtocol
import NIOCore

/// Groups partitions by topic, topics in Java's string order and partition numbers ascending, without repeats.
private func groupedByTopic(_ partitions: [TopicPartition]) -> [(topic: String, partitions: [Int32])] {
    var byTopic: [String: Set<Int32>] = [:]
    for partition in partitions {
        byTopic[partition.topic, default: []].insert(partition.partition)
    }
    return byTopic.keys.sorted(by: javaStringLess).map { ($0, byTopic[$0]!.sorted()) }
}

extension ConsumerProtocolAssignment {
    /// An assignment of `partitions`, grouped by topic (topics sorted, partitions ascending, repeats dropped), as
    /// the leader sends it to a member in SyncGroup.
    public init(assignedTopicPartitions partitions: [KafkaClient.TopicPartition], userData: ByteBuffer? = nil) {
        self.init(
            assignedPartitions: groupedByTopic(partitions).map { .init(topic: $0.topic, partitions: $0.partitions) },
            userData: userData
        )
    }

    /// The assigned partitions, one ``KafkaClient/TopicPartition`` per partition, in the order the assignment
    /// lists them.
    public var assignedTopicPartitions: [KafkaClient.TopicPartition] {
        assignedPartitions.flatMap { entry in
            entry.partitions.map { KafkaClient.TopicPartition(topic: entry.topic, partition: $0) }
        }
    }
}

extension ConsumerProtocolSubscription {
    /// A subscription to `topics` (sorted) that reports `ownedPartitions` (grouped by topic, sorted, repeats
    /// dropped), as a member sends it in JoinGroup.
    public init(
        subscribedTopics topics: some Sequence<String>,
        ownedTopicPartitions: [KafkaClient.TopicPartition] = [],
        generationId: Int32 = -1,
        rackId: String? = nil,
        userData: ByteBuffer? = nil
    ) {
        self.init(
            topics: Set(topics).sorted(by: javaStringLess),
            userData: userData,
            ownedPartitions: groupedByTopic(ownedTopicPartitions).map { .init(topic: $0.topic, partitions: $0.partitions) },
            generationId: generationId,
            rackId: rackId
        )
    }

    /// The owned partitions, one ``KafkaClient/TopicPartition`` per partition, in the order the subscription lists
    /// them.
    public var ownedTopicPartitions: [KafkaClient.TopicPartition] {
        ownedPartitions.flatMap { entry in
            entry.partitions.map { KafkaClient.TopicPartition(topic: entry.topic, partition: $0) }
        }
    }
}
