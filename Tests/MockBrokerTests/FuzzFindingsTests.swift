import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

/// Inputs the broker fuzzer (`Fuzz/`, target `fuzz-broker-requests`, run by `scripts/fuzz.sh`) found, byte for
/// byte as libFuzzer saved them: a request frame without its size prefix.
@Suite("Fuzzer findings (broker)")
struct BrokerFuzzFindingsTests {
    static func bytes(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    /// Waits (bounded) for one whole response frame and returns it without its size prefix and v0 header.
    static func response(on raw: RawConnection, within timeout: Duration = .seconds(10)) async throws -> ByteBuffer {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            var frame = raw.bytes
            if let size = frame.readInteger(as: Int32.self), frame.readableBytes >= Int(size) {
                _ = frame.readInteger(as: Int32.self) // correlation id
                return frame
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("no response within \(timeout)")
        throw CancellationError()
    }

    @Test("CreateTopics asking for 268 million partitions is refused at once, as Kafka refuses over 10,000")
    func createTopicsPartitionCount() async throws {
        try await withBroker { broker in
            // CreateTopics v2: topic "fuzz-crgated", numPartitions 0x10000002, replication factor 1. The broker
            // started creating the partitions on its event loop and stopped answering anyone.
            let frame = Self.bytes("0013000200000001000466757a7a00000001000c66757a7a2d637267617465641000000200010000000000000000000075300000")
            let raw = try await RawConnection.connect(to: broker)
            try await raw.send(BadInputTests.frame(frame))
            let response = try CreateTopicsResponse(decoding: try await Self.response(on: raw), version: 2)
            #expect(response.topics.map(\.errorCode) == [KafkaErrorCode.policyViolation.rawValue])
            #expect(response.topics.first?.errorMessage == "Excessively large number of partitions per request.")
            #expect(broker.topicNames.isEmpty)
            raw.channel.close(promise: nil)
        }
    }

    @Test("the cap counts the whole request, and CreatePartitions has it too")
    func partitionCapPerRequest() async throws {
        try await withBroker { broker in
            let connection = try await broker.connect()
            // 10,001 partitions over two topics: neither is created.
            let created = try await connection.send(CreateTopicsRequest(topics: [
                .init(name: "a", numPartitions: 5_000, replicationFactor: 1),
                .init(name: "b", numPartitions: 5_001, replicationFactor: 1),
            ]), version: 7)
            #expect(created.topics.map(\.errorCode) == [KafkaErrorCode.policyViolation.rawValue, KafkaErrorCode.policyViolation.rawValue])
            #expect(broker.topicNames.isEmpty)
            // Growing a topic by more than 10,000 partitions in one request is refused the same way.
            try broker.createTopic("grown", partitions: 1)
            let grown = try await connection.send(CreatePartitionsRequest(topics: [.init(name: "grown", count: Int32.max)]))
            #expect(grown.results.map(\.errorCode) == [KafkaErrorCode.policyViolation.rawValue])
            #expect(broker.offsets(topic: "grown", partition: 1) == nil)
            await connection.close()
        }
    }

    @Test("stopping the broker while a fetch long-polls answers the fetch instead of reading the closed log")
    func stopWhileFetchWaits() async throws {
        try await withBroker { broker in
            // Batches with offset-index entries, so that reading the log goes through the mapped index.
            try broker.createTopic("fuzz", configs: ["index.interval.bytes": "1"])
            let connection = try await broker.connect()
            for _ in 0..<3 { _ = try await connection.append([TextRecord(key: "k", value: "v")], topic: "fuzz") }
            await connection.close()
            // Fetch v4 of fuzz-0 from offset 0, waiting up to 30 s for 1 MiB. Stopping cancels its timer, whose
            // failure answered the fetch by reading the log that stopping had just closed: a nil index mapping
            // trapped. (libFuzzer saw it as a crash at exit, after its last input, an empty one.)
            let frame = Self.bytes("0001000400000001000466757a7affffffff0000753000100000001000000000000001000466757a"
                                   + "7a0000000100000000000000000000000000100000")
            let raw = try await RawConnection.connect(to: broker)
            try await raw.send(BadInputTests.frame(frame))
            // Bounded wait until the fetch is parked (it shows in the request count).
            for _ in 0..<200 where broker.statistics.requests["Fetch", default: 0] == 0 {
                try await Task.sleep(for: .milliseconds(10))
            }
            try await Task.sleep(for: .milliseconds(50))
        } // withBroker stops the broker here
    }
}
