import Foundation
import KafkaProtocol
import KafkaTestSupport
import NIOCore
import NIOEmbedded
import Testing

@testable import MockBroker

/// Produce requests a client pipelines arrive several to a read; the broker appends them together, one write per
/// partition, and answers each as if it had been handled alone.
@Suite("Produce requests that arrive together")
struct ProduceRunTests {
    @Test("three produce requests in one read: offsets follow the requests' order, answers go out in order and at once")
    func requestsInOneReadAreAppendedInOrder() throws {
        try ResponseFlushTests().withConnection { channel, flushes, state in
            try Self.createTopic("together", partitions: 2, in: state)
            try channel.writeInbound(Self.oneRead(try [51, 52, 53].map {
                try Self.produceFrame(topic: "together", partitions: [0, 1], correlationId: $0)
            }))

            let answers = try Self.produceAnswers(from: channel)
            #expect(answers.map(\.correlationId) == [51, 52, 53])
            #expect(answers.map(\.baseOffsets) == [[0, 0], [2, 2], [4, 4]])
            #expect(answers.allSatisfy { $0.errorCodes == [0, 0] })
            #expect(flushes.count == 1)
            for partition: Int32 in [0, 1] {
                let log = try #require(state.topics.partition("together", partition))
                var values: [String] = []
                for batch in try PartitionLogTests.batches(at: 0, in: log) {
                    var records = try batch.records()
                    while let record = try records.next() { values.append(record.value.map { String(buffer: $0) } ?? "") }
                }
                #expect(values == ["51-\(partition)-a", "51-\(partition)-b", "52-\(partition)-a", "52-\(partition)-b",
                                   "53-\(partition)-a", "53-\(partition)-b"])
            }
        }
    }

    @Test("a request that does not parse among produce requests: the one before it is appended and answered, the one after it is not appended, the connection closes")
    func aBadRequestEndsTheRequestsTogether() throws {
        try ResponseFlushTests().withConnection { channel, _, state in
            try Self.createTopic("cut", partitions: 1, in: state)
            var read = channel.allocator.buffer(capacity: 4096)
            var first = try Self.produceFrame(topic: "cut", partitions: [0], correlationId: 61)
            read.writeBuffer(&first)
            // A produce request whose body is cut short: its header parses, its body does not.
            var broken = try Self.produceFrame(topic: "cut", partitions: [0], correlationId: 62)
            let size = Int(broken.readInteger(as: Int32.self)!)
            read.writeInteger(Int32(size - 20))
            read.writeImmutableBuffer(broken.getSlice(at: broken.readerIndex, length: size - 20)!)
            var last = try Self.produceFrame(topic: "cut", partitions: [0], correlationId: 63)
            read.writeBuffer(&last)
            try? channel.writeInbound(read)

            #expect(try Self.produceAnswers(from: channel).map(\.correlationId) == [61])
            #expect(!channel.isActive)
            #expect(try #require(state.topics.partition("cut", 0)).offsets.logEndOffset == 2)
        }
    }

    @Test("an idempotent producer's requests in one read: each batch is checked after the ones before it, a retry among them is a duplicate")
    func idempotenceHoldsAcrossRequestsInOneRead() throws {
        try ResponseFlushTests().withConnection { channel, _, state in
            try Self.createTopic("idem", partitions: 1, in: state)
            // Sequences 0, 2, a retry of 0, a gap (7), then 4: in one read.
            let sequences: [(Int32, Int32)] = [(71, 0), (72, 2), (73, 0), (74, 7), (75, 4)]
            try channel.writeInbound(Self.oneRead(try sequences.map {
                try Self.produceFrame(topic: "idem", partitions: [0], correlationId: $0.0, sequence: $0.1)
            }))

            let answers = try Self.produceAnswers(from: channel)
            #expect(answers.map(\.correlationId) == [71, 72, 73, 74, 75])
            #expect(answers.map { $0.errorCodes[0] } == [0, 0, 0, KafkaErrorCode.outOfOrderSequenceNumber.rawValue, 0])
            #expect(answers.map { $0.baseOffsets[0] } == [0, 2, 0, -1, 4])
            #expect(try #require(state.topics.partition("idem", 0)).offsets.logEndOffset == 6)
        }
    }

    @Test("acks=0, acks=1 and acks=all requests in one read: all appended in order, answers only to the last two")
    func requestsWithEveryAcksInOneRead() throws {
        try ResponseFlushTests().withConnection { channel, _, state in
            try Self.createTopic("acks", partitions: 1, in: state)
            let acks: [(Int32, Int16)] = [(81, 0), (82, 1), (83, -1)]
            try channel.writeInbound(Self.oneRead(try acks.map {
                try Self.produceFrame(topic: "acks", partitions: [0], correlationId: $0.0, acks: $0.1)
            }))

            let answers = try Self.produceAnswers(from: channel)
            #expect(answers.map(\.correlationId) == [82, 83])
            #expect(answers.map(\.baseOffsets) == [[2], [4]])
            #expect(try #require(state.topics.partition("acks", 0)).offsets.logEndOffset == 6)
        }
    }

    // MARK: - Helpers

    static func createTopic(_ name: String, partitions: Int32, in state: BrokerState) throws {
        state.cluster.upsertBroker(.init(id: state.nodeId, host: state.advertisedHost, port: 9092, running: true, registered: true))
        state.cluster.members.withLockedValue { $0[state.nodeId] = state }
        state.cluster.join(state, now: RequestContext.nowMilliseconds())
        try state.cluster.createTopic(name: name, partitions: partitions, replicationFactor: -1, configs: [:],
                                      now: RequestContext.nowMilliseconds())
    }

    /// A Produce v9 frame (acks=1 unless told) with a batch of two records, `<correlation id>-<partition>-a` and `-b`, for
    /// each partition; from producer 9 with `sequence` when given.
    static func produceFrame(topic: String, partitions: [Int32], correlationId: Int32, sequence: Int32? = nil,
                             acks: Int16 = 1) throws -> ByteBuffer {
        let data = try partitions.map { partition in
            var builder = RecordBatchBuilder(capacity: 256)
            if let sequence {
                builder.producerId = 9
                builder.producerEpoch = 0
                builder.baseSequence = sequence
            }
            for suffix in ["a", "b"] {
                builder.append(timestamp: 1_000, key: nil, value: ByteBuffer(string: "\(correlationId)-\(partition)-\(suffix)"))
            }
            return ProduceRequest.PartitionProduceData(index: partition, records: RecordSet(try builder.build(compression: .none)))
        }
        let request = ProduceRequest(acks: acks, timeoutMs: 1_000, topicData: [.init(name: topic, partitionData: data)])
        var writer = WireWriter()
        try KafkaFrame.writeRequest(request, version: 9, correlationId: correlationId, clientId: "t", into: &writer)
        return writer.finishContiguous()
    }

    /// The frames back to back, as one read brings them.
    static func oneRead(_ frames: [ByteBuffer]) -> ByteBuffer {
        frames.reduce(into: ByteBuffer()) { read, frame in read.writeImmutableBuffer(frame) }
    }

    struct Answer {
        var correlationId: Int32
        var baseOffsets: [Int64]
        var errorCodes: [Int16]
    }

    /// The Produce v9 answers written out so far, in order.
    static func produceAnswers(from channel: EmbeddedChannel) throws -> [Answer] {
        var written = channel.allocator.buffer(capacity: 1024)
        while let data = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(var buffer) = data else { continue }
            written.writeBuffer(&buffer)
        }
        var answers: [Answer] = []
        while let size = written.readInteger(as: Int32.self), var frame = written.readSlice(length: Int(size)) {
            let header = try ResponseHeader(from: &frame, version: 1)
            let response = try ProduceResponse(from: &frame, version: 9)
            let partitions = response.responses.flatMap(\.partitionResponses)
            answers.append(Answer(correlationId: header.correlationId, baseOffsets: partitions.map(\.baseOffset),
                                  errorCodes: partitions.map(\.errorCode)))
        }
        return answers
    }
}
