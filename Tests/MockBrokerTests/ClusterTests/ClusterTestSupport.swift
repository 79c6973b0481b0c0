import Foundation
import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

/// Checks that every running replica of a partition holds exactly the leader's segment bytes.
func expectIdenticalReplicas(_ cluster: MockCluster, topic: String, partitions: Int32,
                             sourceLocation: SourceLocation = #_sourceLocation) async throws {
    for partition in 0..<partitions {
        #expect(await cluster.awaitFullyReplicated(topic: topic, partition: partition),
                "\(topic)-\(partition) not fully replicated: \(String(describing: cluster.partition(topic: topic, partition: partition)))",
                sourceLocation: sourceLocation)
        let status = try #require(cluster.partition(topic: topic, partition: partition), sourceLocation: sourceLocation)
        let leaderFiles = try cluster.segmentFiles(topic: topic, partition: partition, broker: status.leader)
        #expect(!leaderFiles.isEmpty, sourceLocation: sourceLocation)
        for replica in status.replicas where replica != status.leader {
            let files = try cluster.segmentFiles(topic: topic, partition: partition, broker: replica)
            #expect(files == leaderFiles, "\(topic)-\(partition): broker \(replica)'s segments differ from leader \(status.leader)'s",
                    sourceLocation: sourceLocation)
        }
    }
}

/// Reads every partition of `topic` from its leader and compares the log with what the producer had
/// acknowledged: each acknowledged record exactly once, where its acknowledgement said; returns the problems.
func compareLogs(_ cluster: MockCluster, topic: String, partitions: Int32,
                 acknowledged: [String: RecordMetadata]) async throws -> [String] {
    var problems: [String] = []
    var seen: [String: Int] = [:]
    for partition in 0..<partitions {
        let leader = try #require(cluster.leader(topic: topic, partition: partition))
        let broker = try #require(cluster.broker(leader))
        for record in try await readPartition(broker, topic: topic, partition: partition) {
            let value = record.value.map { String(buffer: $0) } ?? "<null>"
            seen[value, default: 0] += 1
            if let ack = acknowledged[value], ack.partition != partition || ack.offset != record.offset {
                problems.append("\(value) is at \(partition)/\(record.offset), acknowledged at \(ack.partition)/\(ack.offset)")
            }
        }
    }
    for (value, count) in seen where count > 1 { problems.append("\(value) is in the log \(count) times") }
    let missing = Set(acknowledged.keys).subtracting(seen.keys)
    if !missing.isEmpty { problems.append("\(missing.count) acknowledged record(s) missing from the log, e.g. \(missing.sorted().prefix(5))") }
    return problems
}

/// A cluster configuration whose controller notices a killed broker only after `seconds`.
func sessionTimeout(_ seconds: Int64) -> (inout MockBrokerConfiguration) -> Void {
    { $0.replication.brokerSessionTimeout = .seconds(seconds) }
}
