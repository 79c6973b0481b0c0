import KafkaProtocol

/// Topic changes, made on every running broker at once with the same topic id, and the leadership they imply.
extension ClusterMetadata {
    var runningMembers: [BrokerState] {
        members.withLockedValue { $0.values.sorted { $0.nodeId < $1.nodeId } }
    }

    /// Creates a topic on every running broker (a broker that is down gets it when it starts) and elects each
    /// partition's first live replica leader. `replicationFactor` -1 means `default.replication.factor`.
    @discardableResult
    func createTopic(name: String, partitions: Int32, replicationFactor: Int16, configs: [String: String],
                     assignment manual: [[Int32]]? = nil, validateOnly: Bool = false, now: Int64) throws(TopicRegistry.TopicError) -> TopicRegistry.Topic {
        try TopicRegistry.validate(name: name)
        guard partitions > 0 else { throw .invalidPartitions("Number of partitions must be larger than 0.") }
        let factor = replicationFactor == -1 ? settings.defaultReplicationFactor : replicationFactor
        guard factor > 0 else { throw .invalidReplicationFactor("Replication factor must be larger than 0.") }
        guard let assignment = manual ?? assignReplicas(first: 0, count: partitions, replicationFactor: Int(factor)) else {
            let registered = registeredBrokerCount
            throw .invalidReplicationFactor(
                "Unable to replicate the partition \(factor) time(s): The target replication factor of \(factor) cannot be reached because only \(registered) broker(s) are registered.")
        }
        let hosts = runningMembers
        guard let first = hosts.first else { throw .storage("no broker is running") }
        let created = try first.topics.create(name: name, partitions: partitions, configs: configs,
                                              validateOnly: validateOnly, now: now)
        if validateOnly { return created }
        for other in hosts.dropFirst() {
            do throws(TopicRegistry.TopicError) {
                try other.topics.create(name: name, id: created.id, partitions: partitions, configs: configs, now: now)
            } catch .alreadyExists {
                // Made by a concurrent request on that broker first; it has the same partitions.
            }
        }
        let live = Set(liveBrokers.map(\.id))
        let records = assignment.map { replicas in
            let isr = replicas.filter { live.contains($0) }
            return PartitionRecord(replicas: replicas, leader: isr.first ?? -1, leaderEpoch: 0, isr: isr)
        }
        setTopic(name, TopicRecord(id: created.id, configs: configs))
        setPartitions(name, records)
        publish(topic: name, records: records, first: 0)
        return created
    }

    /// Deletes a topic from every running broker (a broker that is down drops it when it starts).
    @discardableResult
    func deleteTopic(name: String) throws(TopicRegistry.TopicError) -> TopicRegistry.Topic {
        var deleted: TopicRegistry.Topic?
        var firstError: TopicRegistry.TopicError?
        for member in runningMembers {
            do throws(TopicRegistry.TopicError) {
                deleted = try member.topics.delete(name: name)
            } catch {
                firstError = firstError ?? error
            }
        }
        guard let deleted else { throw firstError ?? .unknownTopic }
        removeTopic(name)
        return deleted
    }

    /// Grows a topic to `count` partitions on every running broker, spreading the new partitions' replicas as
    /// the first ones were.
    func addPartitions(name: String, count: Int32, validateOnly: Bool, now: Int64) throws(TopicRegistry.TopicError) {
        let hosts = runningMembers
        guard let first = hosts.first else { throw .storage("no broker is running") }
        let current = Int32(partitions(of: name)?.count ?? 0)
        let factor = partitions(of: name)?.first?.replicas.count ?? 1
        try first.topics.addPartitions(name: name, count: count, validateOnly: validateOnly, now: now)
        if validateOnly { return }
        for other in hosts.dropFirst() {
            try? other.topics.addPartitions(name: name, count: count, validateOnly: false, now: now)
        }
        guard let assignment = assignReplicas(first: current, count: count - current, replicationFactor: factor) else { return }
        let live = Set(liveBrokers.map(\.id))
        let added = assignment.map { replicas in
            let isr = replicas.filter { live.contains($0) }
            return PartitionRecord(replicas: replicas, leader: isr.first ?? -1, leaderEpoch: 0, isr: isr)
        }
        setPartitions(name, (partitions(of: name) ?? []) + added)
        publish(topic: name, records: added, first: current)
    }

    /// Brings a broker that is starting in line with the cluster: creates the topics it lacks (with their ids),
    /// deletes those the cluster deleted while it was down, adopts the topics it found on disk that the cluster
    /// does not know (a lone broker's, or a cluster member's whose metadata was lost), and applies every
    /// partition's state to it.
    func join(_ member: BrokerState, now: Int64) {
        for name in topicNames where member.topics.topic(named: name) == nil {
            guard let record = topic(name), let count = partitions(of: name)?.count else { continue }
            do {
                try member.topics.create(name: name, id: record.id, partitions: Int32(count), configs: record.configs, now: now)
            } catch {
                member.logger.error("could not create topic \(name) on broker \(member.nodeId): \(error)")
            }
        }
        for local in member.topics.allTopics where topic(local.name) == nil {
            // A lone broker's topics are its own; a cluster member adopts a topic the cluster does not know (its
            // metadata was lost) as its own, and drops one the cluster deleted while it was down.
            if isLoneBroker || !wasDeleted(local.id) {
                setTopic(local.name, TopicRecord(id: local.id, configs: local.overrides))
                setPartitions(local.name, local.partitions.map { log in
                    PartitionRecord(replicas: [member.nodeId], leader: member.nodeId, leaderEpoch: log.currentLeaderEpoch,
                                    isr: [member.nodeId])
                })
            } else {
                _ = try? member.topics.delete(name: local.name)
            }
        }
        var changes: [RoleChange] = []
        for (name, records) in allPartitions {
            for (index, record) in records.enumerated() {
                changes.append(RoleChange(topic: name, partition: Int32(index), record: record))
            }
        }
        member.apply(changes)
    }

    /// Tells the running brokers the new state of partitions `first...` of `topic`.
    func publish(topic: String, records: [PartitionRecord], first: Int32) {
        publish(records.enumerated().map { RoleChange(topic: topic, partition: first + Int32($0.offset), record: $0.element) })
    }
}
