import Foundation
import KafkaClient
import KafkaCompression
import KafkaProtocol
import KafkaTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `mock-broker` executable as a child process, as scripts and other languages' test suites run it: it
/// announces its address, stops cleanly on a signal, and keeps what it acknowledged across restarts and crashes.
/// Clients here are this package's own `BrokerConnection`, so these tests need no external peer.
@Suite("mock-broker executable", .timeLimit(.minutes(2)))
struct MockBrokerExecutableTests {
    @Test("announces its address on one stdout line, exits 0 on SIGTERM, and a restart on the same data directory keeps topics and records")
    func gracefulStopAndRestart() async throws {
        try await withTemporaryDirectory("mock-broker-restart") { dataDirectory in
            let records = (0..<2).map { partition in
                (0..<6).map { TextRecord(key: "k\(partition)-\($0)", value: "restart value \(partition)-\($0)",
                                         headers: [TextHeader(name: "h", value: "\($0)")],
                                         timestamp: 1_700_000_000_000 + Int64($0)) }
            }

            try await withBrokerProcess(dataDirectory: dataDirectory, arguments: ["--partitions", "2"]) { broker in
                #expect(broker.listeningLine == "mock-broker listening on 127.0.0.1:\(broker.port)")
                let connection = try await broker.connect()
                let topic = try #require(try await connection.metadata(topic: "restart", create: true),
                                         "Metadata did not auto-create the topic")
                #expect(topic.partitions.map(\.partitionIndex).sorted() == [0, 1])
                for partition in Int32(0)..<2 {
                    // Two batches per partition, the second compressed.
                    let first = try await connection.produce(Array(records[Int(partition)][0..<3]), topic: "restart", partition: partition)
                    let second = try await connection.produce(Array(records[Int(partition)][3...]), topic: "restart",
                                                              partition: partition, codec: .zstd)
                    #expect([first.errorCode, second.errorCode] == [0, 0])
                    #expect([first.baseOffset, second.baseOffset] == [0, 3])
                }
                await connection.close()

                broker.send(SIGTERM)
                let exit = try #require(await broker.waitForExit(limit: .seconds(30)), "mock-broker still running 30 s after SIGTERM")
                #expect(exit.exitedNormally && exit.status == 0, "exit \(exit); log:\n\(broker.stderr)")
                #expect(broker.stdout == broker.listeningLine + "\n", "stdout holds exactly the address line")
            }

            try await withBrokerProcess(dataDirectory: dataDirectory, arguments: ["--partitions", "2", "--auto-create-topics", "false"]) { broker in
                let connection = try await broker.connect()
                let topic = try #require(try await connection.metadata(topic: "restart"), "the topic is gone after the restart")
                #expect(topic.partitions.map(\.partitionIndex).sorted() == [0, 1])
                for partition in Int32(0)..<2 {
                    let stored = try await connection.fetchRecords(topic: "restart", partition: partition)
                    #expect(stored.map(\.offset) == Array(0..<6))
                    #expect(stored.map(\.text) == records[Int(partition)])
                }
                // Appends continue after the recovered records.
                let next = try await connection.produce([TextRecord(key: "after", value: "restart")], topic: "restart")
                #expect(next.errorCode == 0)
                #expect(next.baseOffset == 6)
                await connection.close()

                broker.send(SIGINT)
                let exit = try #require(await broker.waitForExit(limit: .seconds(30)), "mock-broker still running 30 s after SIGINT")
                #expect(exit.exitedNormally && exit.status == 0, "exit \(exit); log:\n\(broker.stderr)")
            }
        }
    }

    @Test("after kill -9, every acknowledged record is there exactly once and offsets continue after them")
    func acknowledgedRecordsSurviveKill() async throws {
        try await withTemporaryDirectory("mock-broker-crash") { dataDirectory in
            let codecs: [CompressionCodec] = [.none, .gzip, .snappy, .lz4, .zstd]
            // 40 produce requests of 5 records (acks=all), every codec, each record unique.
            let batches = (0..<40).map { batch in
                (0..<5).map { TextRecord(key: "b\(batch)", value: "crash record \(batch * 5 + $0)",
                                         timestamp: 1_700_000_000_000 + Int64(batch * 5 + $0)) }
            }
            let arguments = ["--flush-messages", "1", "--auto-create-topics", "false"]

            try await withBrokerProcess(dataDirectory: dataDirectory, arguments: arguments) { broker in
                let connection = try await broker.connect()
                let created = try await connection.send(CreateTopicsRequest(topics: [
                    .init(name: "crash", numPartitions: 1, replicationFactor: 1),
                ]))
                #expect(created.topics.map(\.errorCode) == [0])
                for (index, batch) in batches.enumerated() {
                    let answer = try await connection.produce(batch, topic: "crash", codec: codecs[index % codecs.count])
                    try #require(answer.errorCode == 0, "produce \(index): \(KafkaErrorCode(rawValue: answer.errorCode))")
                    #expect(answer.baseOffset == Int64(index * 5))
                }
                await connection.close()

                broker.send(SIGKILL)
                let exit = try #require(await broker.waitForExit(limit: .seconds(30)), "mock-broker survived SIGKILL")
                #expect(!exit.exitedNormally && exit.status == SIGKILL)
            }

            try await withBrokerProcess(dataDirectory: dataDirectory, arguments: arguments) { broker in
                let connection = try await broker.connect()
                let stored = try await connection.fetchRecords(topic: "crash")
                #expect(stored.count == 200)
                #expect(stored.map(\.offset) == Array(0..<200))
                #expect(stored.map(\.text) == batches.flatMap { $0 })

                let more = (0..<3).map { TextRecord(key: "after", value: "after crash \($0)") }
                let answer = try await connection.produce(more, topic: "crash", codec: .lz4)
                #expect(answer.errorCode == 0)
                #expect(answer.baseOffset == 200)
                let tail = try await connection.fetchRecords(topic: "crash", from: 199)
                #expect(tail.map(\.offset) == [199, 200, 201, 202])
                #expect(tail.map(\.valueString) == ["crash record 199", "after crash 0", "after crash 1", "after crash 2"])
                await connection.close()
            }
        }
    }

    @Test("after kill -9 with produce requests in flight, acknowledged records are kept, none is duplicated, and offsets stay dense")
    func killWithRequestsInFlight() async throws {
        try await withTemporaryDirectory("mock-broker-inflight") { dataDirectory in
            let arguments = ["--flush-messages", "1", "--partitions", "1"]
            let acknowledged: [String]

            acknowledged = try await withBrokerProcess(dataDirectory: dataDirectory, arguments: arguments) { broker in
                let connection = try await broker.connect()
                _ = try #require(try await connection.metadata(topic: "inflight", create: true))
                // Pipelined requests of 4 records each; the process is killed once 20 of them are acknowledged,
                // whatever the others are doing by then.
                return try await withThrowingTaskGroup(of: [String]?.self) { group in
                    for request in 0..<120 {
                        let values = (0..<4).map { "inflight \(request)-\($0)" }
                        group.addTask {
                            let records = values.map { TextRecord(key: nil, value: $0) }
                            guard let answer = try? await connection.produce(records, topic: "inflight", codec: .snappy),
                                  answer.errorCode == 0 else { return nil }
                            return values
                        }
                    }
                    var acknowledged: [String] = []
                    var answers = 0
                    while let result = try await group.next() {
                        answers += 1
                        if let values = result { acknowledged += values }
                        if acknowledged.count >= 80, broker.isRunning { broker.send(SIGKILL) }
                    }
                    #expect(answers == 120)
                    _ = await broker.waitForExit(limit: .seconds(30))
                    await connection.close()
                    return acknowledged
                }
            }
            #expect(acknowledged.count >= 80)

            try await withBrokerProcess(dataDirectory: dataDirectory, arguments: arguments) { broker in
                let connection = try await broker.connect()
                let stored = try await connection.fetchRecords(topic: "inflight")
                let values = stored.compactMap(\.valueString)
                #expect(stored.map(\.offset) == Array(0..<Int64(stored.count)), "offsets are dense from 0")
                #expect(Set(values).count == values.count, "no record is stored twice")
                let missing = Set(acknowledged).subtracting(values)
                #expect(missing.isEmpty, "acknowledged but lost: \(missing.sorted().prefix(10))")
                // Each request's records stay together and in order (a batch is stored whole or not at all).
                #expect(values.count % 4 == 0)
                for start in stride(from: 0, to: values.count - 3, by: 4) {
                    let request = values[start].split(separator: " ")[1].split(separator: "-")[0]
                    #expect(values[start..<start + 4].elementsEqual((0..<4).map { "inflight \(request)-\($0)" }))
                }

                let answer = try await connection.produce([TextRecord(key: nil, value: "after")], topic: "inflight")
                #expect(answer.errorCode == 0)
                #expect(answer.baseOffset == Int64(stored.count))
                await connection.close()
            }
        }
    }
}
