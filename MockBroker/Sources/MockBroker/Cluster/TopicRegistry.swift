import Foundation
import KafkaProtocol
import NIOConcurrencyHelpers

/// The broker's topics: names, ids, configs and partition logs. Topic metadata is kept in
/// `<data directory>/topics.json` (and each partition directory holds Kafka's `partition.metadata`), so a
/// restarted broker finds its topics again.
///
/// `@unchecked Sendable`: `topics` and `namesById` are read and written under `lock` only; the other stored
/// properties are constants, and each `PartitionLog` is thread-safe itself.
final class TopicRegistry: @unchecked Sendable {
    struct Topic: Sendable {
        let name: String
        let id: KafkaUUID
        /// Settings set on the topic (the rest come from the broker's defaults).
        var overrides: [String: String]
        var config: LogConfig
        var partitions: [PartitionLog]
    }

    enum TopicError: Error, Equatable {
        case alreadyExists
        case invalidName(String)
        case invalidPartitions(String)
        case invalidReplicationFactor(String)
        case invalidConfig(String)
        case unknownTopic
        case storage(String)

        var code: KafkaErrorCode {
            switch self {
            case .alreadyExists: .topicAlreadyExists
            case .invalidName: .invalidTopicException
            case .invalidPartitions: .invalidPartitions
            case .invalidReplicationFactor: .invalidReplicationFactor
            case .invalidConfig: .invalidConfig
            case .unknownTopic: .unknownTopicOrPartition
            case .storage: .kafkaStorageError
            }
        }

        var message: String? {
            switch self {
            case .alreadyExists: "Topic already exists."
            case .invalidName(let message), .invalidPartitions(let message), .invalidReplicationFactor(let message),
                 .invalidConfig(let message), .storage(let message): message
            case .unknownTopic: "This server does not host this topic."
            }
        }
    }

    let dataDirectory: String
    private let defaults: LogConfig
    /// Partitions over all topics (``MockBrokerConfiguration/maxPartitions``).
    private let maxPartitions: Int
    private let lock = NIOLock()
    private var topics: [String: Topic] = [:]
    private var namesById: [KafkaUUID: String] = [:]

    /// Whether partitions open as leaders (a lone broker) or offline until the cluster assigns their role.
    private let partitionsLead: Bool

    init(dataDirectory: String, defaults: LogConfig, maxPartitions: Int = .max, partitionsLead: Bool = true) {
        self.dataDirectory = dataDirectory
        self.partitionsLead = partitionsLead
        self.defaults = defaults
        self.maxPartitions = maxPartitions
    }

    // MARK: - Persistence

    private struct StoredTopic: Codable {
        var name: String
        var id: String
        var partitions: Int32
        var configs: [String: String]
    }

    private var metadataPath: String { "\(dataDirectory)/topics.json" }

    /// What opening the data directory found: damage recovery cut away, and entries of `topics.json` it skipped.
    struct LoadReport {
        var recoveries: [LogRecovery] = []
        var skipped: [String] = []
    }

    /// Opens every topic recorded in the data directory, recovering their logs. Entries with an invalid name or id
    /// are skipped (a name is a path inside the data directory: only a valid one is used as one).
    func load(now: Int64) throws -> LoadReport {
        var report = LoadReport()
        guard FileManager.default.fileExists(atPath: metadataPath) else { return report }
        let stored = try JSONDecoder().decode([StoredTopic].self, from: Data(readSmallFile(metadataPath).utf8))
        try lock.withLock {
            for entry in stored {
                guard let id = KafkaUUID(entry.id), (try? Self.validate(name: entry.name)) != nil, entry.partitions >= 0,
                      topics[entry.name] == nil
                else {
                    report.skipped.append("topics.json entry \(entry.name) (id \(entry.id), \(entry.partitions) partitions) is not valid")
                    continue
                }
                var config = defaults
                for (name, value) in entry.configs { _ = config.set(name, to: value) }
                let partitions = try (0..<entry.partitions).map {
                    try openPartition(topic: entry.name, id: id, partition: $0, config: config, now: now)
                }
                report.recoveries += partitions.flatMap(\.recoveries)
                topics[entry.name] = Topic(name: entry.name, id: id, overrides: entry.configs, config: config,
                                           partitions: partitions)
                namesById[id] = entry.name
            }
        }
        return report
    }

    private func persist() throws {
        let stored = topics.values.sorted { $0.name < $1.name }.map {
            StoredTopic(name: $0.name, id: $0.id.description, partitions: Int32($0.partitions.count), configs: $0.overrides)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeSmallFile(metadataPath, contents: String(decoding: try encoder.encode(stored), as: UTF8.self))
    }

    /// Opens `<data directory>/<topic>-<partition>`. `topic` is checked once more here, where it becomes a path:
    /// only `[a-zA-Z0-9._-]` and never `.` or `..`, so the directory is always a child of the data directory.
    private func openPartition(topic: String, id: KafkaUUID, partition: Int32, config: LogConfig, now: Int64) throws -> PartitionLog {
        try Self.validate(name: topic)
        let directory = "\(dataDirectory)/\(topic)-\(partition)"
        let log = try PartitionLog(directory: directory, topic: topic, partition: partition, config: config,
                                   leaderEpoch: 0, now: now, leads: partitionsLead)
        try writeSmallFile("\(directory)/partition.metadata", contents: "version: 0\ntopic_id: \(id)\n")
        return log
    }

    // MARK: - Queries

    func topic(named name: String) -> Topic? {
        lock.withLock { topics[name] }
    }

    func topic(id: KafkaUUID) -> Topic? {
        lock.withLock { namesById[id].flatMap { topics[$0] } }
    }

    func partition(_ topic: String, _ partition: Int32) -> PartitionLog? {
        lock.withLock {
            guard let partitions = topics[topic]?.partitions, partition >= 0, Int(partition) < partitions.count else {
                return nil
            }
            return partitions[Int(partition)]
        }
    }

    var allTopics: [Topic] {
        lock.withLock { topics.values.sorted { $0.name < $1.name } }
    }

    // MARK: - Changes

    /// Kafka's topic name rules: 1–249 characters from `[a-zA-Z0-9._-]`, not `.` or `..`.
    static func validate(name: String) throws(TopicError) {
        guard !name.isEmpty else { throw .invalidName("Topic name is illegal, it can't be empty.") }
        guard name != "." && name != ".." else { throw .invalidName("Topic name cannot be \".\" or \"..\".") }
        guard name.utf8.count <= 249 else { throw .invalidName("Topic name is longer than 249 characters.") }
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        guard allowed else {
            throw .invalidName("Topic name \(name) is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'")
        }
    }

    /// Creates a topic (or, with `validateOnly`, checks that it could be created) with all its partitions' logs,
    /// under `id` (a new random one when nil: the cluster gives the other brokers the first one's). Replication
    /// (factor, assignment, leadership) is the cluster's business: ``ClusterMetadata/createTopic(name:partitions:replicationFactor:configs:validateOnly:now:)``.
    @discardableResult
    func create(name: String, id: KafkaUUID? = nil, partitions: Int32, configs: [String: String],
                validateOnly: Bool = false, now: Int64) throws(TopicError) -> Topic {
        try Self.validate(name: name)
        guard partitions > 0 else { throw .invalidPartitions("Number of partitions must be larger than 0.") }
        var config = defaults
        for (key, value) in configs where !config.set(key, to: value) {
            throw .invalidConfig("Invalid value \(value) for configuration \(key).")
        }
        return try lock.locked { () throws(TopicError) -> Topic in
            guard topics[name] == nil else { throw .alreadyExists }
            try checkPartitionLimit(adding: Int(partitions))
            let id = id ?? KafkaUUID.random()
            if validateOnly { return Topic(name: name, id: id, overrides: configs, config: config, partitions: []) }
            var logs: [PartitionLog] = []
            do {
                for partition in 0..<partitions {
                    logs.append(try openPartition(topic: name, id: id, partition: partition, config: config, now: now))
                }
                let topic = Topic(name: name, id: id, overrides: configs, config: config, partitions: logs)
                topics[name] = topic
                namesById[id] = name
                try persist()
                return topic
            } catch {
                // Nothing half-made stays behind (open files, directories).
                if topics[name]?.id == id {
                    topics[name] = nil
                    namesById[id] = nil
                }
                for log in logs { log.delete() }
                throw .storage("\(error)")
            }
        }
    }

    /// INVALID_PARTITIONS when `count` more partitions would take the broker past `maxPartitions`.
    private func checkPartitionLimit(adding count: Int) throws(TopicError) {
        let hosted = topics.values.reduce(0) { $0 + $1.partitions.count }
        guard count <= maxPartitions - hosted else {
            throw .invalidPartitions("""
                The broker hosts \(hosted) partition(s); \(count) more would exceed its limit of \(maxPartitions) \
                (MockBrokerConfiguration.maxPartitions, --max-partitions).
                """)
        }
    }

    /// Deletes a topic and its data.
    func delete(name: String) throws(TopicError) -> Topic {
        let topic = try lock.locked { () throws(TopicError) -> Topic in
            guard let topic = topics.removeValue(forKey: name) else { throw .unknownTopic }
            namesById[topic.id] = nil
            try? persist()
            return topic
        }
        for partition in topic.partitions { partition.delete() }
        return topic
    }

    /// Grows a topic to `count` partitions.
    func addPartitions(name: String, count: Int32, validateOnly: Bool, now: Int64) throws(TopicError) {
        try lock.locked { () throws(TopicError) in
            guard var topic = topics[name] else { throw .unknownTopic }
            let current = Int32(topic.partitions.count)
            guard count > current else {
                throw .invalidPartitions(count == current
                    ? "Topic already has \(current) partitions."
                    : "Topic currently has \(current) partitions, which is higher than the requested \(count).")
            }
            try checkPartitionLimit(adding: Int(count - current))
            if validateOnly { return }
            do {
                for partition in current..<count {
                    topic.partitions.append(try openPartition(topic: name, id: topic.id, partition: partition,
                                                              config: topic.config, now: now))
                }
                topics[name] = topic
                try persist()
            } catch {
                // Back to the partitions it had; the new ones' files go.
                topics[name]?.partitions.removeSubrange(Int(current)...)
                for log in topic.partitions[Int(current)...] { log.delete() }
                throw .storage("\(error)")
            }
        }
    }

    /// One change of IncrementalAlterConfigs: set, delete (back to the broker's default), append to or subtract
    /// from a list value (`cleanup.policy` is the only list-valued config here).
    enum ConfigChange: Sendable {
        case set(String, String)
        case delete(String)
        case append(String, String)
        case subtract(String, String)
    }

    /// Applies `changes` to the topic's settings, all or none, and to its partitions' logs, and records them in
    /// `topics.json` (so a restarted broker keeps them). With `validateOnly`, only checks.
    func alterConfigs(name: String, changes: [ConfigChange], validateOnly: Bool) throws(TopicError) {
        try lock.locked { () throws(TopicError) in
            guard var topic = topics[name] else { throw .unknownTopic }
            var overrides = topic.overrides
            for change in changes {
                switch change {
                case let .set(key, value):
                    overrides[key] = value
                case let .delete(key):
                    overrides[key] = nil
                case let .append(key, value), let .subtract(key, value):
                    guard key == "cleanup.policy" else {
                        throw .invalidConfig("Config value append/subtract is not allowed for config key \(key).")
                    }
                    var list = (overrides[key] ?? topic.config.cleanupPolicy).split(separator: ",").map(String.init)
                    if case .append = change {
                        if !list.contains(value) { list.append(value) }
                    } else {
                        list.removeAll { $0 == value }
                    }
                    overrides[key] = list.isEmpty ? nil : list.joined(separator: ",")
                }
            }
            var config = defaults
            for (key, value) in overrides where !config.set(key, to: value) {
                throw .invalidConfig("Invalid value \(value) for configuration \(key).")
            }
            if validateOnly { return }
            topic.overrides = overrides
            topic.config = config
            topics[name] = topic
            for partition in topic.partitions { partition.updateConfig(config) }
            do {
                try persist()
            } catch {
                throw .storage("\(error)")
            }
        }
    }

    /// Runs retention on every partition; returns the number of segments deleted.
    @discardableResult
    func enforceRetention(now: Int64) -> Int {
        allTopics.flatMap(\.partitions).reduce(0) { $0 + $1.enforceRetention(now: now) }
    }

    func close() {
        let logs = lock.withLock { topics.values.flatMap(\.partitions) }
        for log in logs { log.close() }
    }
}
