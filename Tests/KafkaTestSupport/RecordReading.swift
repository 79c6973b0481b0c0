import KafkaClient
import KafkaProtocol
import MockBroker
import NIOCore
import Testing

extension BrokerConnection {
    /// The id of `topic` (zero when the broker has none or does not know the topic); never creates it.
    public func topicId(_ topic: String) async throws -> KafkaUUID {
        try await metadata(topic: topic)?.topicId ?? .zero
    }

    /// Metadata for `topic`, nil when the broker does not know it. With `create`, a broker that auto-creates
    /// topics creates it.
    public func metadata(topic: String, create: Bool = false) async throws -> MetadataResponse.MetadataResponseTopic? {
        let response = try await send(MetadataRequest(topics: [.init(name: topic)], allowAutoTopicCreation: create))
        return response.topics.first { $0.name == topic && $0.errorCode == 0 }
    }

    /// One Fetch of one partition from `offset`, at the highest version both sides speak unless `version` says
    /// otherwise; the partition's answer, whatever its error code.
    public func fetch(topic: String, partition: Int32 = 0, offset: Int64, maxBytes: Int32 = 10 << 20,
                      partitionMaxBytes: Int32 = 10 << 20, minBytes: Int32 = 1, maxWaitMs: Int32 = 0,
                      version: Int16? = nil,
                      sourceLocation: SourceLocation = #_sourceLocation) async throws -> FetchResponse.PartitionData {
        let version = try version ?? self.version(for: FetchRequest.self)
        let topicId = try await topicId(topic)
        let request = FetchRequest(
            maxWaitMs: maxWaitMs, minBytes: minBytes, maxBytes: maxBytes, isolationLevel: 0,
            topics: [.init(topic: topic, topicId: topicId, partitions: [
                .init(partition: partition, fetchOffset: offset, partitionMaxBytes: partitionMaxBytes),
            ])]
        )
        let response = try await send(request, version: version)
        return try #require(response.responses.first?.partitions.first, "no partition in the Fetch response",
                            sourceLocation: sourceLocation)
    }

    /// Every batch of one partition from `offset` up to the high watermark (checksums verified), and that high
    /// watermark. With `count`, also waits (long-polling, at most `attempts` fetches) until the batches hold at
    /// least `count` records from `offset`: for records whose writes were not acknowledged.
    ///
    /// - Parameter maxWaitMs: Each Fetch's `max_wait_ms`; by default 0, or 100 with `count`. (Tansu answers a Fetch
    ///   with `max_wait_ms` 0 with no partitions at all: give it a wait.)
    public func fetchAll(topic: String, partition: Int32 = 0, from offset: Int64 = 0, count: Int? = nil,
                         attempts: Int = 200, maxWaitMs: Int32? = nil,
                         sourceLocation: SourceLocation = #_sourceLocation) async throws -> (batches: [RecordBatch], highWatermark: Int64) {
        var batches: [RecordBatch] = []
        var next = offset
        var highWatermark: Int64 = -1
        var records = 0
        for _ in 0..<attempts {
            let data = try await fetch(topic: topic, partition: partition, offset: next, maxWaitMs: maxWaitMs ?? (count == nil ? 0 : 100),
                                       sourceLocation: sourceLocation)
            try #require(data.errorCode == 0, "Fetch of \(topic)-\(partition) at \(next): \(KafkaErrorCode(rawValue: data.errorCode))",
                         sourceLocation: sourceLocation)
            highWatermark = data.highWatermark
            var reader = RecordBatchReader(data.records?.buffer ?? ByteBuffer())
            while let batch = try reader.next() {
                try batch.verifyChecksum()
                batches.append(batch)
                records += try batch.allRecords().count { $0.offset >= next }
                next = max(next, batch.nextOffset)
            }
            if next >= highWatermark && records >= (count ?? 0) { break }
        }
        return (batches, highWatermark)
    }

    /// The records of one partition from `offset` to the high watermark (and, with `count`, until at least that
    /// many came back; see ``fetchAll(topic:partition:from:count:attempts:maxWaitMs:sourceLocation:)``).
    public func fetchRecords(topic: String, partition: Int32 = 0, from offset: Int64 = 0, count: Int? = nil,
                             attempts: Int = 200, maxWaitMs: Int32? = nil,
                             sourceLocation: SourceLocation = #_sourceLocation) async throws -> [Record] {
        try await fetchAll(topic: topic, partition: partition, from: offset, count: count, attempts: attempts,
                           maxWaitMs: maxWaitMs, sourceLocation: sourceLocation)
            .batches.flatMap { try $0.allRecords() }.filter { $0.offset >= offset }
    }
}

/// Reads one partition of `broker` back over a fresh connection: every record from `offset` to the high
/// watermark, and with `count` until at least that many came back.
public func readPartition(_ broker: MockBroker, topic: String, partition: Int32, from offset: Int64 = 0,
                          expect count: Int? = nil,
                          sourceLocation: SourceLocation = #_sourceLocation) async throws -> [Record] {
    let connection = try await broker.connect()
    do {
        let records = try await connection.fetchRecords(topic: topic, partition: partition, from: offset, count: count,
                                                        sourceLocation: sourceLocation)
        await connection.close()
        return records
    } catch {
        await connection.close()
        throw error
    }
}
