import Foundation
import KafkaClient
import KafkaProtocol
import MockBroker
import NIOCore

/// Starts an in-process ``MockCluster`` of `brokers` brokers on free loopback ports for the duration of `body`, and
/// always stops it. The test configuration: one event-loop thread per broker, a 1 s broker session timeout, a 2 s
/// `replica.lag.time.max.ms`, and group session timeouts from 500 ms.
public func withCluster<T>(
    brokers: Int = 3,
    _ configure: (inout MockBrokerConfiguration) -> Void = { _ in },
    _ body: (MockCluster) async throws -> T
) async throws -> T {
    var configuration = MockBrokerConfiguration(host: "127.0.0.1", port: 0)
    configuration.eventLoopThreads = 1
    configuration.groupMinSessionTimeout = .milliseconds(500)
    configuration.replication.brokerSessionTimeout = .seconds(1)
    configuration.replication.replicaLagTimeMax = .seconds(2)
    configuration.replication.offsetsTopicPartitions = 3
    configure(&configuration)
    let cluster = try await MockCluster.start(brokers: brokers, configuration: configuration, logger: testLogger)
    do {
        let result = try await body(cluster)
        try await cluster.stop()
        return result
    } catch {
        try? await cluster.stop()
        throw error
    }
}

/// Polls `condition` every 20 ms for at most `seconds` (a safety bound, never the thing tested); true once it held.
public func waitUntil(_ seconds: Double = 30, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

extension MockCluster {
    /// Waits until every replica of the partition is in the ISR and has the leader's log end offset.
    public func awaitFullyReplicated(topic: String, partition: Int32, within seconds: Double = 30) async -> Bool {
        await waitUntil(seconds) {
            guard let status = self.partition(topic: topic, partition: partition), status.leader >= 0,
                  Set(status.isr) == Set(status.replicas), status.logEndOffsets.count == status.replicas.count,
                  let end = status.logEndOffsets[String(status.leader)]
            else { return false }
            return status.logEndOffsets.values.allSatisfy { $0 == end } && status.highWatermark == end
        }
    }

    /// The bytes of each segment file (`<base offset>.log`) of a partition on a running broker, by file name.
    public func segmentFiles(topic: String, partition: Int32, broker id: Int32) throws -> [String: Data] {
        guard let directory = broker(id)?.dataDirectory else { return [:] }
        let partitionDirectory = "\(directory)/\(topic)-\(partition)"
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: partitionDirectory) where name.hasSuffix(".log") {
            files[name] = try Data(contentsOf: URL(fileURLWithPath: "\(partitionDirectory)/\(name)"))
        }
        return files
    }
}
