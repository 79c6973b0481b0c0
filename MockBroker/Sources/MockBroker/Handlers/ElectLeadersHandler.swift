import KafkaProtocol
import NIOCore

/// ElectLeaders (KIP-460), as Kafka's controller answers it: a preferred election moves a partition's leadership to
/// its first replica when that replica is a live in-sync one (PREFERRED_LEADER_NOT_AVAILABLE otherwise); an unclean
/// election gives a partition without a leader to its first live replica, in sync or not
/// (ELIGIBLE_LEADERS_NOT_AVAILABLE when none is live). A partition whose wanted leader already leads is
/// ELECTION_NOT_NEEDED (always so on a lone broker); an unknown one UNKNOWN_TOPIC_OR_PARTITION. A request for
/// every partition (null) lists only the partitions where something was tried.
struct ElectLeadersHandler: Sendable {
    let state: BrokerState

    static let preferred: Int8 = 0
    static let unclean: Int8 = 1

    func handle(_ request: ElectLeadersRequest, context: RequestContext) -> EventLoopFuture<ElectLeadersResponse?> {
        var response = ElectLeadersResponse()
        // v0 has no election type: it is always a preferred election.
        let type = context.apiVersion >= 1 ? request.electionType : Self.preferred
        guard type == Self.preferred || type == Self.unclean else {
            response.errorCode = KafkaErrorCode.invalidRequest.rawValue
            return context.eventLoop.makeSucceededFuture(response)
        }
        let cluster = state.cluster
        let wanted: [(topic: String, partitions: [Int32])] = request.topicPartitions.map { $0.map { ($0.topic, $0.partitions) } }
            ?? cluster.allPartitions.sorted { $0.key < $1.key }.map { ($0.key, $0.value.indices.map(Int32.init)) }
        response.replicaElectionResults = wanted.compactMap { topic in
            let results = topic.partitions.compactMap { partition -> ElectLeadersResponse.PartitionResult? in
                let (code, message) = elect(topic.topic, partition, type: type)
                if request.topicPartitions == nil && code == .electionNotNeeded { return nil }
                if code == .none { context.logger.info("elected a new leader of \(topic.topic)-\(partition)") }
                return .init(partitionId: partition, errorCode: code.rawValue, errorMessage: message)
            }
            return results.isEmpty && request.topicPartitions == nil ? nil : .init(topic: topic.topic, partitionResult: results)
        }
        return context.eventLoop.makeSucceededFuture(response)
    }

    /// One partition's election: its outcome and, for a failure, Kafka's message.
    private func elect(_ topic: String, _ partition: Int32, type: Int8) -> (KafkaErrorCode, String?) {
        let cluster = state.cluster
        guard let record = cluster.partition(topic, partition) else {
            return (.unknownTopicOrPartition, "The partition does not exist.")
        }
        let live = Set(cluster.brokers.filter { $0.registered && !$0.isolated && $0.running }.map(\.id))
        if type == Self.preferred {
            guard let preferred = record.replicas.first, record.leader != preferred else {
                return (.electionNotNeeded, "Leader election not needed for topic partition.")
            }
            do throws(ClusterMetadata.MoveError) {
                try cluster.moveLeader(topic: topic, partition: partition, to: preferred)
                return (.none, nil)
            } catch {
                return (.preferredLeaderNotAvailable, "Failed to elect leader for partition \(topic)-\(partition) under strategy PreferredReplicaPartitionLeaderElectionStrategy")
            }
        }
        guard record.leader < 0 || !live.contains(record.leader) else {
            return (.electionNotNeeded, "Leader election not needed for topic partition.")
        }
        guard let chosen = record.replicas.first(where: { live.contains($0) }) else {
            return (.eligibleLeadersNotAvailable, "Failed to elect leader for partition \(topic)-\(partition) under strategy UncleanLeaderElectionStrategy")
        }
        guard let next = cluster.updatePartition(topic, partition, { record in
            record.leader = chosen
            record.leaderEpoch += 1
            if !record.isr.contains(chosen) { record.isr = [chosen] }
        }) else { return (.unknownTopicOrPartition, "The partition does not exist.") }
        cluster.publish([ClusterMetadata.RoleChange(topic: topic, partition: partition, record: next)])
        return (.none, nil)
    }
}
