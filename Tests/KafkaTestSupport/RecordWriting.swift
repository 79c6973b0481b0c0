import KafkaClient
import KafkaCompression
import KafkaProtocol
import NIOCore
import Testing

/// Encodes `records` as one record batch (offsets from 0), compressed with `codec`.
///
/// - Parameter configure: Changes to the builder before the records are appended (producer id, sequence,
///   control or transactional flags).
public func makeBatch(_ records: [TextRecord], codec: CompressionCodec = .none,
                      configure: (inout RecordBatchBuilder) -> Void = { _ in }) throws -> ByteBuffer {
    var builder = RecordBatchBuilder(capacity: 4096)
    configure(&builder)
    for record in records {
        builder.append(timestamp: record.timestamp, key: record.key.map { ByteBuffer(string: $0) },
                       value: record.value.map { ByteBuffer(string: $0) }, headers: record.headers.map(\.recordHeader))
    }
    return try builder.build(compression: codec)
}

extension BrokerConnection {
    /// Produces one encoded batch to one partition and returns the partition's answer, whatever its error code.
    public func produce(_ batch: ByteBuffer, topic: String, partition: Int32 = 0, acks: Int16 = -1,
                        version: Int16? = nil,
                        sourceLocation: SourceLocation = #_sourceLocation) async throws -> ProduceResponse.PartitionProduceResponse {
        let request = ProduceRequest(acks: acks, timeoutMs: 10_000, topicData: [
            .init(name: topic, partitionData: [.init(index: partition, records: RecordSet(batch))]),
        ])
        let response = try await send(request, version: version)
        return try #require(response.responses.first?.partitionResponses.first, "no partition in the Produce response",
                            sourceLocation: sourceLocation)
    }

    /// Produces `records` as one batch and returns the partition's answer (error code, base offset), whatever its
    /// error code.
    public func produce(_ records: [TextRecord], topic: String, partition: Int32 = 0, codec: CompressionCodec = .none,
                        acks: Int16 = -1,
                        sourceLocation: SourceLocation = #_sourceLocation) async throws -> ProduceResponse.PartitionProduceResponse {
        try await produce(try makeBatch(records, codec: codec), topic: topic, partition: partition, acks: acks,
                          sourceLocation: sourceLocation)
    }

    /// Produces `records` as one batch (acks=all), requires the broker to accept it, and returns the offset of its
    /// first record.
    public func append(_ records: [TextRecord], topic: String, partition: Int32 = 0, codec: CompressionCodec = .none,
                       sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int64 {
        let answer = try await produce(records, topic: topic, partition: partition, codec: codec, sourceLocation: sourceLocation)
        try #require(answer.errorCode == 0, "produce to \(topic)-\(partition) failed: \(KafkaErrorCode(rawValue: answer.errorCode))",
                     sourceLocation: sourceLocation)
        return answer.baseOffset
    }
}
