import ArgumentParser
import Foundation
import KafkaClient
import KafkaProtocol

/// `kafka-admin topics ...`
struct TopicsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topics",
        abstract: "Create, list, describe, alter and delete topics.",
        subcommands: [Create.self, List.self, Describe.self, Delete.self, CreatePartitions.self, AlterConfig.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a topic.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic's name.") var name: String
        @Option(help: "Number of partitions.") var partitions: Int32
        @Option(name: .customLong("replication-factor"), help: "Replicas per partition (default: the broker's).")
        var replicationFactor: Int16?
        @Option(name: .customLong("config"), help: "A topic config KEY=VALUE (repeatable).") var configs: [String] = []

        func validate() throws {
            guard partitions >= 1 else { throw ValidationError("--partitions must be at least 1") }
            if let replicationFactor, replicationFactor < 1 { throw ValidationError("--replication-factor must be at least 1") }
            _ = try parseConfigs(configs)
        }

        func run() async throws {
            let configs = Dictionary(try parseConfigs(self.configs), uniquingKeysWith: { _, last in last })
            try await options.withAdmin { admin in
                let created = try await admin.createTopic(name, partitions: partitions, replicationFactor: replicationFactor,
                                                          configs: configs)
                options.emit(
                    json: ["name": created.name, "id": created.id.description, "partitions": created.partitions,
                           "replicationFactor": created.replicationFactor, "configs": configs],
                    text: "Created topic \(created.name) with \(created.partitions) partition(s), replication factor \(created.replicationFactor) (id \(created.id))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List topics with their partition counts.")
        @OptionGroup var options: AdminOptions
        @Flag(name: .customLong("include-internal"), help: "Include Kafka's internal topics.") var includeInternal = false

        func run() async throws {
            try await options.withAdmin { admin in
                let listed = try await admin.listTopics(includeInternal: includeInternal)
                let described = listed.isEmpty ? [] : try await admin.describeTopics(listed.map(\.name))
                var table = Table("TOPIC", "PARTITIONS", "REPLICATION-FACTOR", "ID")
                for topic in described {
                    table.add([topic.name, String(topic.partitions.count), String(topic.replicationFactor), topic.id.description])
                }
                options.emit(
                    json: ["topics": described.map { topic in
                        ["name": topic.name, "id": topic.id.description, "internal": topic.isInternal,
                         "partitions": topic.partitions.count, "replicationFactor": topic.replicationFactor] as [String: Any]
                    }],
                    text: table.rendered)
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a topic's partitions (leader, replicas, ISR) and configs.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic's name.") var name: String

        func run() async throws {
            try await options.withAdmin { admin in
                guard let topic = try await admin.describeTopics([name]).first else { fail("topic \(name) not found") }
                let configs = try await admin.describeConfigs([.topic(name)])[.topic(name)] ?? []
                var partitions = Table("PARTITION", "LEADER", "REPLICAS", "ISR", "OFFLINE")
                for partition in topic.partitions {
                    partitions.add([String(partition.partition), partition.leader.orDash, ids(partition.replicas),
                                    ids(partition.inSyncReplicas), partition.offlineReplicas.isEmpty ? "-" : ids(partition.offlineReplicas)])
                }
                var configTable = Table("CONFIG", "VALUE", "SOURCE")
                for config in configs {
                    configTable.add([config.name, config.isSensitive ? "(sensitive)" : config.value.orDash, config.source.name])
                }
                options.emit(
                    json: [
                        "name": topic.name, "id": topic.id.description, "internal": topic.isInternal,
                        "replicationFactor": topic.replicationFactor,
                        "partitions": topic.partitions.map { partition in
                            ["partition": partition.partition, "leader": jsonValue(partition.leader),
                             "leaderEpoch": partition.leaderEpoch, "replicas": partition.replicas, "isr": partition.inSyncReplicas,
                             "offlineReplicas": partition.offlineReplicas] as [String: Any]
                        },
                        "configs": configs.map { config in
                            ["name": config.name, "value": jsonValue(config.value), "source": config.source.name,
                             "readOnly": config.isReadOnly, "sensitive": config.isSensitive] as [String: Any]
                        },
                    ] as [String: Any],
                    text: """
                        Topic: \(topic.name)  ID: \(topic.id)  Partitions: \(topic.partitions.count)  Replication factor: \(topic.replicationFactor)

                        \(partitions.rendered)

                        \(configTable.rendered)
                        """)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a topic and its records.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic's name.") var name: String

        func run() async throws {
            try await options.withAdmin { admin in
                try await admin.deleteTopics([name])
                options.emit(json: ["deleted": name], text: "Deleted topic \(name)")
            }
        }
    }

    struct CreatePartitions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create-partitions",
                                                        abstract: "Grow a topic to a number of partitions.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic's name.") var name: String
        @Option(help: "The new total number of partitions.") var partitions: Int32

        func run() async throws {
            try await options.withAdmin { admin in
                try await admin.createPartitions([name: partitions])
                options.emit(json: ["name": name, "partitions": partitions], text: "Topic \(name) now has \(partitions) partitions")
            }
        }
    }

    struct AlterConfig: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "alter-config",
                                                        abstract: "Set (or delete) topic configs; others keep their values.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic's name.") var name: String
        @Option(name: .customLong("config"), help: "A config to set, KEY=VALUE (repeatable).") var configs: [String] = []
        @Option(name: .customLong("delete-config"), help: "A config to return to its default (repeatable).")
        var deleted: [String] = []

        func validate() throws {
            guard !configs.isEmpty || !deleted.isEmpty else { throw ValidationError("give at least one --config or --delete-config") }
            _ = try parseConfigs(configs)
        }

        func run() async throws {
            let operations = try parseConfigs(configs).map { AlterConfigOperation.set($0.0, to: $0.1) }
                + deleted.map { AlterConfigOperation.delete($0) }
            try await options.withAdmin { admin in
                try await admin.incrementalAlterConfigs([.topic(name): operations])
                let names = Set(operations.map(\.name))
                let now = (try await admin.describeConfigs([.topic(name)])[.topic(name)] ?? []).filter { names.contains($0.name) }
                var table = Table("CONFIG", "VALUE", "SOURCE")
                for config in now { table.add([config.name, config.value.orDash, config.source.name]) }
                options.emit(
                    json: ["name": name, "configs": now.map { ["name": $0.name, "value": jsonValue($0.value), "source": $0.source.name] as [String: Any] }],
                    text: "Altered configs of topic \(name)\n\n" + table.rendered)
            }
        }
    }
}

/// Broker ids as `1,2,3`.
func ids(_ ids: [Int32]) -> String { ids.map(String.init).joined(separator: ",") }

extension TopicDescription {
    /// Replicas of the first partition (what `kafka-topics --describe` reports as the replication factor).
    var replicationFactor: Int { partitions.first?.replicas.count ?? 0 }
}

extension ConfigEntry.Source {
    /// The name Kafka's tools print (`DYNAMIC_TOPIC_CONFIG`, `DEFAULT_CONFIG`, ...).
    var name: String {
        switch self {
        case .unknown: "UNKNOWN"
        case .topic: "DYNAMIC_TOPIC_CONFIG"
        case .dynamicBroker: "DYNAMIC_BROKER_CONFIG"
        case .dynamicDefaultBroker: "DYNAMIC_DEFAULT_BROKER_CONFIG"
        case .staticBroker: "STATIC_BROKER_CONFIG"
        case .defaultConfig: "DEFAULT_CONFIG"
        case .dynamicBrokerLogger: "DYNAMIC_BROKER_LOGGER_CONFIG"
        case .clientMetrics: "CLIENT_METRICS_CONFIG"
        case .group: "GROUP_CONFIG"
        }
    }
}
