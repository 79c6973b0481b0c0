import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@Suite("Bad input closes only the offending connection")
struct BadInputTests {
    /// A request frame: size, then the given header and body bytes.
    static func frame(_ payload: [UInt8]) -> [UInt8] {
        withUnsafeBytes(of: Int32(payload.count).bigEndian, Array.init) + payload
    }

    static let cases: [(String, [UInt8])] = [
        ("garbage bytes that are no header", frame([0x00])),
        ("a frame over socket.request.max.bytes", withUnsafeBytes(of: Int32(2_000_000).bigEndian, Array.init) + [1, 2, 3]),
        ("a negative frame size", [0xFF, 0xFF, 0xFF, 0x00]),
        ("an API the broker does not offer", frame([0x00, 0x39, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xFF, 0xFF])),
        ("Produce v2, advertised but refused as Kafka 4 refuses it", frame([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0xFF, 0xFF])),
        ("a body that does not parse", frame([0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF])),
    ]

    @Test("the connection is closed, counted, and other clients keep being served", arguments: cases)
    func closesOnlyThatConnection(name: String, bytes: [UInt8]) async throws {
        try await withBroker({ $0.socketRequestMaxBytes = 1_000_000 }) { broker in
            let healthy = try await broker.connect()
            let raw = try await RawConnection.connect(to: broker)
            try await raw.send(bytes)
            #expect(await raw.closedByBroker(), "\(name): the broker did not close the connection")
            #expect(broker.statistics.connectionsClosedForBadInput == 1)
            let metadata = try await healthy.send(MetadataRequest(topics: [.init(name: "still-serving")]))
            #expect(metadata.topics.first?.errorCode == 0)
            let fresh = try await broker.connect()
            await fresh.close()
            await healthy.close()
        }
    }

    @Test("an ApiVersions request newer than the broker gets UNSUPPORTED_VERSION in a v0 body listing its ranges")
    func futureApiVersions() async throws {
        try await withBroker { broker in
            let raw = try await RawConnection.connect(to: broker)
            // ApiVersions v9 with header v2: key, version, correlation 77, client id "x", empty tagged fields.
            try await raw.send(Self.frame([0x00, 0x12, 0x00, 0x09, 0x00, 0x00, 0x00, 0x4D, 0x00, 0x01, 0x78, 0x00]))
            // The whole frame: its size first, then that many bytes (10 s each, safety bounds).
            #expect(await raw.waitForBytes(4))
            let announced = raw.bytes.getInteger(at: raw.bytes.readerIndex, as: Int32.self).map(Int.init) ?? 0
            #expect(await raw.waitForBytes(4 + announced))
            var frame = raw.bytes
            let size = frame.readInteger(as: Int32.self)
            #expect(size.map(Int.init) == frame.readableBytes)
            #expect(frame.readInteger(as: Int32.self) == 77) // response header v0
            let body = try ApiVersionsResponse(decoding: frame, version: 0)
            #expect(body.errorCode == KafkaErrorCode.unsupportedVersion.rawValue)
            #expect(body.apiKeys.contains { $0.apiKey == ApiKey.apiVersions.rawValue && $0.maxVersion == 4 })
            #expect(body.apiKeys.contains { $0.apiKey == ApiKey.produce.rawValue && $0.minVersion == 0 })
            raw.channel.close(promise: nil)
        }
    }
}

@Suite("Zero-copy fetch")
struct ZeroCopyTests {
    @Test("every record byte of a plaintext fetch goes out as a file region (sendfile), none copied")
    func fetchedBytesAreSentByFileRegion() async throws {
        try await withBroker { broker in
            try broker.createTopic("zero-copy", partitions: 2)
            let connection = try await broker.connect()
            for index in 0..<40 {
                _ = try await connection.append((0..<10).map { TextRecord(key: "k\($0)", value: "value \(index)-\($0)") },
                                                 topic: "zero-copy", partition: Int32(index % 2))
            }
            var received = 0
            for partition: Int32 in [0, 1] {
                let records = try await connection.fetchRecords(topic: "zero-copy", partition: partition, count: 200)
                #expect(records.count == 200)
                // Sum the record bytes exactly as they came over the wire.
                var offset: Int64 = 0
                while offset < 200 {
                    let data = try await connection.fetch(topic: "zero-copy", partition: partition, offset: offset)
                    received += data.records?.byteCount ?? 0
                    var reader = RecordBatchReader(data.records?.buffer ?? ByteBuffer())
                    while let batch = try reader.next() { offset = batch.nextOffset }
                }
            }
            // fetchRecords above sent the same bytes once more; every one of them went by file region. A region is
            // counted once its write has completed, which the broker may learn just after the client has the bytes.
            let expected = Int64(received) * 2
            var statistics = broker.statistics
            let deadline = ContinuousClock.now + .seconds(10)
            while statistics.fetchBytesSentByFileRegion < expected && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
                statistics = broker.statistics
            }
            #expect(statistics.fetchBytesCopied == 0)
            #expect(received > 0)
            #expect(statistics.fetchBytesSentByFileRegion == expected)
            await connection.close()
        }
    }

    @Test("with zero copy turned off the same bytes are counted as copied")
    func copiedWhenDisabled() async throws {
        try await withBroker({ $0.zeroCopyFetch = false }) { broker in
            try broker.createTopic("copied")
            let connection = try await broker.connect()
            _ = try await connection.append([TextRecord(key: "a", value: "b")], topic: "copied")
            let data = try await connection.fetch(topic: "copied", offset: 0)
            #expect(broker.statistics.fetchBytesCopied == Int64(data.records?.byteCount ?? -1))
            #expect(broker.statistics.fetchBytesSentByFileRegion == 0)
            await connection.close()
        }
    }
}
