/// The controller's part: what happens to leaderships and ISRs when brokers go and come back, and moving a
/// leader on request. Every change raises the leader epoch when the leader changes and is published to the
/// running brokers that can hear it (not to a cut-off one).
extension ClusterMetadata {
    /// Whether `topic` may elect an out-of-sync replica (`unclean.leader.election.enable`, topic or cluster).
    func allowsUncleanElection(_ topic: String) -> Bool {
        if let value = self.topic(topic)?.configs["unclean.leader.election.enable"] { return value == "true" }
        return settings.uncleanLeaderElection
    }

    /// A broker left the cluster (controlled shutdown, or a session that expired after a kill or while cut off):
    /// it is fenced, leaves every ISR (the last member stays, as in Kafka, so that it alone may lead again), and
    /// its leaderships go to the first live in-sync replica; with none, to the first live replica when unclean
    /// election is allowed, else to nobody.
    func fence(_ id: Int32) {
        updateBroker(id) { $0.registered = false }
        let live = Set(brokers.filter { $0.registered && !$0.isolated }.map(\.id))
        var changes: [RoleChange] = []
        for (topic, records) in allPartitions {
            for (index, record) in records.enumerated() {
                var next = record
                if next.isr.contains(id), next.isr.count > 1 { next.isr.removeAll { $0 == id } }
                if next.leader == id {
                    if let successor = next.replicas.first(where: { $0 != id && next.isr.contains($0) && live.contains($0) }) {
                        next.leader = successor
                    } else if allowsUncleanElection(topic), let successor = next.replicas.first(where: { $0 != id && live.contains($0) }) {
                        next.leader = successor
                        next.isr = [successor]
                    } else {
                        next.leader = -1
                    }
                    next.leaderEpoch += 1
                }
                guard next != record else { continue }
                updatePartition(topic, Int32(index)) { $0 = next }
                changes.append(RoleChange(topic: topic, partition: Int32(index), record: next))
            }
        }
        publish(changes)
    }

    /// A broker is back (started again, or healed): registered again, it takes the leaderships that had nobody
    /// and for which it is the last in-sync replica (or, with unclean election, any replica).
    func register(_ id: Int32) {
        updateBroker(id) { $0.registered = true }
        var changes: [RoleChange] = []
        for (topic, records) in allPartitions {
            for (index, record) in records.enumerated() where record.leader == -1 && record.replicas.contains(id) {
                var next = record
                if next.isr.contains(id) {
                    next.leader = id
                } else if allowsUncleanElection(topic) {
                    next.leader = id
                    next.isr = [id]
                } else {
                    continue
                }
                next.leaderEpoch += 1
                updatePartition(topic, Int32(index)) { $0 = next }
                changes.append(RoleChange(topic: topic, partition: Int32(index), record: next))
            }
        }
        publish(changes)
    }

    enum MoveError: Error, CustomStringConvertible {
        case unknownPartition
        case notInSync(Int32)

        var description: String {
            switch self {
            case .unknownPartition: "no such partition"
            case .notInSync(let broker): "broker \(broker) is not a live in-sync replica of the partition"
            }
        }
    }

    /// Moves a partition's leadership to `broker`, which must be a live in-sync replica (a preferred or manual
    /// election); the epoch rises.
    func moveLeader(topic: String, partition: Int32, to broker: Int32) throws(MoveError) {
        guard let record = self.partition(topic, partition) else { throw .unknownPartition }
        let live = Set(brokers.filter { $0.registered && !$0.isolated && $0.running }.map(\.id))
        guard record.isr.contains(broker), live.contains(broker) else { throw .notInSync(broker) }
        guard record.leader != broker else { return }
        var next = record
        next.leader = broker
        next.leaderEpoch += 1
        updatePartition(topic, partition) { $0 = next }
        publish([RoleChange(topic: topic, partition: partition, record: next)])
    }

    /// Tells the running brokers that can hear (not cut off) the partitions' new states.
    func publish(_ changes: [RoleChange]) {
        guard !changes.isEmpty else { return }
        let deaf = Set(brokers.filter(\.isolated).map(\.id))
        for member in runningMembers where !deaf.contains(member.nodeId) { member.apply(changes) }
    }
}
