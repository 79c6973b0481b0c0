import KafkaProtocol
import NIOCore

/// OffsetDelete, as Kafka's group coordinator handles it.
extension GroupCoordinator {
    /// Deletes the group's committed offsets of `partitions` (tombstones in the offsets log first). The group
    /// must exist (GROUP_ID_NOT_FOUND). A group with members may lose only offsets of topics its members do not
    /// subscribe to (GROUP_SUBSCRIBED_TO_TOPIC for the others; when the subscriptions are unknown, every topic
    /// counts as subscribed), and only when it uses the consumer protocol (NON_EMPTY_GROUP otherwise). Returns the
    /// group's error and each refused partition's.
    func deleteOffsets(groupId: String, partitions: [TopicPartitionKey]) -> EventLoopFuture<(KafkaErrorCode, [TopicPartitionKey: KafkaErrorCode])> {
        eventLoop.submit {
            guard !self.stopped else { return (.coordinatorNotAvailable, [:]) }
            guard let group = self.groups[groupId], group.state != .dead else { return (.groupIdNotFound, [:]) }
            var refused: [TopicPartitionKey: KafkaErrorCode] = [:]
            if group.state != .empty {
                guard group.protocolType == "consumer" else { return (.nonEmptyGroup, [:]) }
                for partition in partitions where group.subscribedTopics?.contains(partition.topic) ?? true {
                    refused[partition] = .groupSubscribedToTopic
                }
            }
            let deleted = Set(partitions).filter { refused[$0] == nil && group.offsets[$0] != nil }.sorted()
            guard !deleted.isEmpty else { return (.none, refused) }
            do throws(OffsetStore.StoreError) {
                try self.persist(deleted.map { .offset(group: groupId, key: $0, value: nil) }, now: self.now())
            } catch {
                self.logger.error("group \(groupId): writing offset tombstones failed: \(error)")
                return (Self.groupWriteError(error), [:])
            }
            for key in deleted { group.offsets[key] = nil }
            self.logger.debug("group \(groupId): deleted \(deleted.count) committed offset(s)")
            return (.none, refused)
        }
    }
}
