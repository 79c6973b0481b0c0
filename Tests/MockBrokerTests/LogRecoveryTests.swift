import Foundation
import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

/// What a broker does with damaged segment files when it starts: it starts, says what it found (``LogRecovery``),
/// keeps every batch before the damage and serves nothing from it on.
@Suite("Log recovery on startup", .timeLimit(.minutes(2)))
struct LogRecoveryTests {
    /// Where each batch of a segment file starts (batches are `offset int64, length int32, length bytes`).
    static func batchPositions(_ path: String) throws -> [Int] {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        var positions: [Int] = []
        var position = 0
        while position + 12 <= bytes.count {
            positions.append(position)
            let length = bytes[(position + 8)..<(position + 12)].reduce(0) { $0 << 8 | Int($1) }
            position += 12 + length
        }
        return positions
    }

    /// Flips every bit of the byte at `position` of `path`.
    static func flipByte(_ path: String, at position: Int) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(position))
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: UInt64(position))
        try handle.write(contentsOf: [~byte])
    }

    static func segment(_ directory: String, topic: String, baseOffset: Int64 = 0) -> String {
        let digits = String(baseOffset)
        return "\(directory)/\(topic)-0/" + String(repeating: "0", count: 20 - digits.count) + digits + ".log"
    }

    /// 20 batches of 3 records (`v0`...`v59`) in `topic`, then a clean stop.
    static func fill(_ directory: String, topic: String, batches: Int = 20, configs: [String: String] = [:]) async throws {
        try await withBroker({ $0.dataDirectory = directory }) { broker in
            try broker.createTopic(topic, configs: configs)
            let connection = try await broker.connect()
            for batch in 0..<batches {
                _ = try await connection.append((0..<3).map { TextRecord(key: nil, value: "v\(batch * 3 + $0)") }, topic: topic)
            }
            await connection.close()
        }
    }

    @Test("a byte flipped inside a record of a middle batch: the broker starts, reports it, serves every batch before it and none after")
    func corruptMiddleBatch() async throws {
        try await withTemporaryDirectory("recovery") { directory in
            try await Self.fill(directory, topic: "flipped")
            let file = Self.segment(directory, topic: "flipped")
            let positions = try Self.batchPositions(file)
            #expect(positions.count == 20)
            let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            // Inside the records of batch 10 (offsets 30-32), past its 61-byte header.
            try Self.flipByte(file, at: positions[10] + 61 + 5)

            try await withBroker({ $0.dataDirectory = directory }) { broker in
                let recovery = try #require(broker.recoveries.first, "the corruption was not reported")
                #expect(broker.recoveries.count == 1)
                #expect(recovery.topic == "flipped" && recovery.partition == 0)
                #expect(recovery.segment == "00000000000000000000.log")
                #expect(recovery.position == positions[10])
                #expect(recovery.logEndOffset == 30)
                #expect(recovery.bytesTruncated == size - positions[10])
                #expect(!recovery.isTornTail)
                #expect(recovery.problem == .corruptBatch("its CRC does not match its bytes"))
                #expect("\(recovery)".contains("corrupt batch"))

                let stored = try await readPartition(broker, topic: "flipped", partition: 0)
                #expect(stored.map(\.offset) == Array(0..<30))
                #expect(stored.map(\.valueString) == (0..<30).map { "v\($0)" })
                let connection = try await broker.connect()
                #expect(try await connection.append([TextRecord(key: nil, value: "after")], topic: "flipped") == 30)
                await connection.close()
            }
            // Recovery rewrote the file: the next start finds nothing wrong.
            try await withBroker({ $0.dataDirectory = directory }) { broker in
                #expect(broker.recoveries.isEmpty)
                #expect(broker.offsets(topic: "flipped", partition: 0)?.highWatermark == 31)
            }
        }
    }

    @Test("a corrupt batch in an older segment ends the log there: later segments are deleted, and reported")
    func corruptOlderSegment() async throws {
        try await withTemporaryDirectory("recovery") { directory in
            try await Self.fill(directory, topic: "rolled", batches: 30, configs: ["segment.bytes": "600"])
            let bases = try FileManager.default.contentsOfDirectory(atPath: "\(directory)/rolled-0")
                .filter { $0.hasSuffix(".log") }.compactMap { Int64($0.dropLast(4)) }.sorted()
            #expect(bases.count >= 4)
            let second = Self.segment(directory, topic: "rolled", baseOffset: bases[1])
            let positions = try Self.batchPositions(second)
            #expect(positions.count >= 2)
            try Self.flipByte(second, at: positions[1] + 70)

            try await withBroker({ $0.dataDirectory = directory }) { broker in
                let recovery = try #require(broker.recoveries.first, "the corruption was not reported")
                #expect(recovery.segment.hasSuffix(".log") && Int64(recovery.segment.dropLast(4)) == bases[1])
                #expect(recovery.position == positions[1])
                #expect(recovery.logEndOffset == bases[1] + 3)
                #expect(recovery.segmentsDeleted == bases.count - 2)
                #expect(broker.segmentBaseOffsets(topic: "rolled", partition: 0) == Array(bases.prefix(2)))
                let stored = try await readPartition(broker, topic: "rolled", partition: 0)
                #expect(stored.map(\.offset) == Array(0..<(bases[1] + 3)))
            }
        }
    }

    @Test("a torn tail (a crash in the middle of a write) is cut and reported as a torn write")
    func tornTail() async throws {
        try await withTemporaryDirectory("recovery") { directory in
            try await Self.fill(directory, topic: "torn")
            let file = Self.segment(directory, topic: "torn")
            let positions = try Self.batchPositions(file)
            #expect(truncate(file, off_t(positions[19] + 30)) == 0)

            try await withBroker({ $0.dataDirectory = directory }) { broker in
                let recovery = try #require(broker.recoveries.first, "the torn tail was not reported")
                #expect(recovery.isTornTail)
                #expect(recovery.position == positions[19] && recovery.bytesTruncated == 30)
                #expect(recovery.logEndOffset == 57)
                let stored = try await readPartition(broker, topic: "torn", partition: 0)
                #expect(stored.map(\.offset) == Array(0..<57))
            }
        }
    }

    @Test("an intact data directory reports nothing")
    func intact() async throws {
        try await withTemporaryDirectory("recovery") { directory in
            try await Self.fill(directory, topic: "intact", configs: ["segment.bytes": "600"])
            try await withBroker({ $0.dataDirectory = directory }) { broker in
                #expect(broker.recoveries.isEmpty)
                #expect(broker.offsets(topic: "intact", partition: 0)?.highWatermark == 60)
            }
        }
    }
}
