import Foundation
import KafkaProtocol
import NIOConcurrencyHelpers

/// What the whole cluster agrees on, apart from any one broker's own state (its logs, connections, groups): the
/// brokers and which of them is controller, every topic's partition assignment, and each partition's leader,
/// leader epoch and in-sync replicas. In Kafka the controller keeps this in the metadata log and brokers learn it
/// from there; here every broker of a process shares one `ClusterMetadata`, and a change reaches the brokers it
/// concerns at once (``ClusterMetadata/Member/apply(_:)``).
///
/// A lone ``MockBroker`` has a cluster of one: itself as the only broker, controller, leader and replica.
///
/// Thread-safe: one lock guards the state; members are called outside it.
final class ClusterMetadata: Sendable {
    /// A broker as the cluster sees it.
    struct BrokerRecord: Sendable, Hashable {
        var id: Int32
        var host: String
        var port: Int32
        /// Serving (its process part is up and listening).
        var running: Bool
        /// Registered with the controller: false once it stopped, or once its session expired after a kill or
        /// while it is cut off; such a broker leads nothing and is in no ISR.
        var registered: Bool
        /// Cut off from clients and from the other brokers.
        var isolated: Bool = false
    }

    /// A partition's replicas and leadership.
    struct PartitionRecord: Sendable, Hashable {
        var replicas: [Int32]
        /// -1: no leader (every ISR member is down and unclean election is off).
        var leader: Int32
        var leaderEpoch: Int32
        var isr: [Int32]
    }

    /// A partition and the state it should take on one broker.
    struct RoleChange: Sendable {
        var topic: String
        var partition: Int32
        var record: PartitionRecord
    }

    /// A topic's identity and settings, as every broker must create it.
    struct TopicRecord: Sendable, Hashable {
        var id: KafkaUUID
        var configs: [String: String]
    }

    private struct State {
        var brokers: [Int32: BrokerRecord] = [:]
        var topics: [String: TopicRecord] = [:]
        var partitions: [String: [PartitionRecord]] = [:]
        /// The broker that acted as controller last; a new one is chosen when it goes.
        var controllerId: Int32 = -1
        /// Ids of topics deleted, so that a broker that was down then drops its copy instead of adopting it.
        var deletedTopicIds: Set<KafkaUUID> = []
    }

    let settings: ReplicationSettings
    /// True for the cluster of one a lone ``MockBroker`` makes for itself: topics it finds in its data directory
    /// are its own, with itself as their only replica.
    let isLoneBroker: Bool
    private let state = NIOLockedValueBox(State())
    /// Where the topics, assignments, epochs and ISRs are kept (`cluster.json` in a ``MockCluster``'s data
    /// directory), so that a cluster started again on the same directory finds them; nil for a lone broker.
    let persistencePath: String?
    /// Serialises writes of the persisted state (each writes the latest snapshot).
    private let saving = NIOLock()
    /// The running brokers' own states, by id: where changes are applied.
    let members = NIOLockedValueBox<[Int32: BrokerState]>([:])

    init(settings: ReplicationSettings, isLoneBroker: Bool, persistencePath: String? = nil) {
        self.settings = settings
        self.isLoneBroker = isLoneBroker
        self.persistencePath = persistencePath
        if let persistencePath { load(persistencePath) }
    }

    // MARK: - Persistence

    private struct Stored: Codable {
        struct Topic: Codable {
            var name: String
            var id: String
            var configs: [String: String]
            var partitions: [Partition]
        }

        struct Partition: Codable {
            var replicas: [Int32]
            var isr: [Int32]
            var leaderEpoch: Int32
        }

        var topics: [Topic]
        var deletedTopicIds: [String]
    }

    /// Reads `cluster.json`: every partition comes back without a leader (no broker is registered yet) and with
    /// its last ISR, so that each gets its leader from the ISR as brokers register, in a new epoch.
    private func load(_ path: String) {
        guard let text = try? readSmallFile(path),
              let stored = try? JSONDecoder().decode(Stored.self, from: Data(text.utf8)) else { return }
        state.withLockedValue { state in
            for topic in stored.topics {
                guard let id = KafkaUUID(topic.id) else { continue }
                state.topics[topic.name] = TopicRecord(id: id, configs: topic.configs)
                state.partitions[topic.name] = topic.partitions.map {
                    PartitionRecord(replicas: $0.replicas, leader: -1, leaderEpoch: $0.leaderEpoch, isr: $0.isr)
                }
            }
            state.deletedTopicIds = Set(stored.deletedTopicIds.compactMap(KafkaUUID.init))
        }
    }

    /// Writes the topics, assignments, epochs and ISRs to `cluster.json` (when the cluster has a directory).
    private func save() {
        guard let persistencePath else { return }
        saving.withLock {
            let stored: Stored = state.withLockedValue { state in
                Stored(topics: state.topics.keys.sorted().map { name in
                    Stored.Topic(name: name, id: state.topics[name]!.id.description, configs: state.topics[name]!.configs,
                                 partitions: (state.partitions[name] ?? []).map {
                                     Stored.Partition(replicas: $0.replicas, isr: $0.isr, leaderEpoch: $0.leaderEpoch)
                                 })
                }, deletedTopicIds: state.deletedTopicIds.map(\.description).sorted())
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            guard let data = try? encoder.encode(stored) else { return }
            try? writeSmallFile(persistencePath, contents: String(decoding: data, as: UTF8.self))
        }
    }

    /// Whether `id` names a topic the cluster deleted.
    func wasDeleted(_ id: KafkaUUID) -> Bool {
        state.withLockedValue { $0.deletedTopicIds.contains(id) }
    }

    // MARK: - Brokers

    var brokers: [BrokerRecord] {
        state.withLockedValue { $0.brokers.values.sorted { $0.id < $1.id } }
    }

    func broker(_ id: Int32) -> BrokerRecord? {
        state.withLockedValue { $0.brokers[id] }
    }

    /// Brokers clients may be told about: registered and reachable.
    var liveBrokers: [BrokerRecord] {
        brokers.filter { $0.registered && !$0.isolated }
    }

    /// The controller: the broker that was controller while it stays registered, else the registered broker with
    /// the lowest id (-1 when none is).
    var controllerId: Int32 {
        state.withLockedValue { $0.controllerId }
    }

    /// Adds or updates a broker's record; chooses a controller if there is none.
    func upsertBroker(_ record: BrokerRecord) {
        state.withLockedValue { state in
            state.brokers[record.id] = record
            Self.electController(&state)
        }
    }

    func updateBroker(_ id: Int32, _ change: (inout BrokerRecord) -> Void) {
        state.withLockedValue { state in
            guard var record = state.brokers[id] else { return }
            change(&record)
            state.brokers[id] = record
            Self.electController(&state)
        }
    }

    private static func electController(_ state: inout State) {
        if let current = state.brokers[state.controllerId], current.registered, !current.isolated { return }
        state.controllerId = state.brokers.values.filter { $0.registered && !$0.isolated }.map(\.id).min() ?? -1
    }

    // MARK: - Partitions

    func partition(_ topic: String, _ partition: Int32) -> PartitionRecord? {
        state.withLockedValue { state in
            guard let records = state.partitions[topic], partition >= 0, Int(partition) < records.count else { return nil }
            return records[Int(partition)]
        }
    }

    func partitions(of topic: String) -> [PartitionRecord]? {
        state.withLockedValue { $0.partitions[topic] }
    }

    var allPartitions: [String: [PartitionRecord]] {
        state.withLockedValue { $0.partitions }
    }

    /// Registers a topic's partitions (or more partitions of it), or replaces their records.
    func setPartitions(_ topic: String, _ records: [PartitionRecord]) {
        state.withLockedValue { $0.partitions[topic] = records }
        save()
    }

    func topic(_ name: String) -> TopicRecord? {
        state.withLockedValue { $0.topics[name] }
    }

    var topicNames: [String] {
        state.withLockedValue { $0.topics.keys.sorted() }
    }

    func setTopic(_ name: String, _ record: TopicRecord) {
        state.withLockedValue { $0.topics[name] = record }
        save()
    }

    func removeTopic(_ topic: String) {
        state.withLockedValue {
            _ = $0.partitions.removeValue(forKey: topic)
            if let removed = $0.topics.removeValue(forKey: topic) { $0.deletedTopicIds.insert(removed.id) }
        }
        save()
    }

    /// Changes one partition's record under the lock; returns the new record (nil for an unknown partition).
    @discardableResult
    func updatePartition(_ topic: String, _ partition: Int32, _ change: (inout PartitionRecord) -> Void) -> PartitionRecord? {
        let updated: (PartitionRecord, changed: Bool)? = state.withLockedValue { state in
            guard var records = state.partitions[topic], partition >= 0, Int(partition) < records.count else { return nil }
            let before = records[Int(partition)]
            change(&records[Int(partition)])
            state.partitions[topic] = records
            return (records[Int(partition)], records[Int(partition)] != before)
        }
        if updated?.changed == true { save() }
        return updated?.0
    }

    /// Replicas for `count` new partitions starting at `first`, spread round robin over the registered brokers
    /// as Kafka's assignment does (partition p starts at the (p mod n)-th broker); nil when fewer than
    /// `replicationFactor` brokers are registered.
    func assignReplicas(first: Int32, count: Int32, replicationFactor: Int) -> [[Int32]]? {
        let ids = brokers.filter(\.registered).map(\.id)
        guard replicationFactor >= 1, replicationFactor <= ids.count else { return nil }
        return (first..<(first + count)).map { partition in
            (0..<replicationFactor).map { ids[(Int(partition) + $0) % ids.count] }
        }
    }

    /// How many brokers are registered (what a replication factor is checked against).
    var registeredBrokerCount: Int { brokers.filter(\.registered).count }
}
