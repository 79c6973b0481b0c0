import ArgumentParser
import Foundation
import KafkaClient

/// `kafka-admin cluster ...`
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Describe the cluster.",
        subcommands: [Describe.self]
    )

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the cluster id, the controller and the brokers.")
        @OptionGroup var options: AdminOptions

        func run() async throws {
            try await options.withAdmin { admin in
                let cluster = try await admin.describeCluster()
                var table = Table("ID", "HOST", "PORT", "RACK")
                for broker in cluster.brokers { table.add([String(broker.id), broker.host, String(broker.port), broker.rack.orDash]) }
                options.emit(
                    json: [
                        "clusterId": jsonValue(cluster.clusterId), "controller": jsonValue(cluster.controller),
                        "brokers": cluster.brokers.map {
                            ["id": $0.id, "host": $0.host, "port": $0.port, "rack": jsonValue($0.rack)] as [String: Any]
                        },
                    ] as [String: Any],
                    text: "Cluster ID: \(cluster.clusterId.orDash)  Controller: \(cluster.controller.orDash)\n\n" + table.rendered)
            }
        }
    }
}
