import Foundation
import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

/// Topic and group names are checked as Kafka checks them, and none ever reaches the file system as a path
/// outside the data directory.
@Suite("Topic and group names", .timeLimit(.minutes(2)))
struct NameSafetyTests {
    /// Names Kafka refuses: path tricks, separators, too long, characters outside `[a-zA-Z0-9._-]`.
    static let invalidTopicNames = [
        "", ".", "..", "../escape", "../../escape", "a/b", "/absolute", "a\\b", "..\\windows", "bad name", "tab\there",
        "nul\u{0}byte", "unicodé", "new\nline", String(repeating: "x", count: 250),
    ]

    /// Every file and directory under `root`, relative to it.
    static func tree(_ root: String) -> Set<String> {
        Set(FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? [])
    }

    /// Runs `body` with a broker whose data directory is `<outer>/data`, then requires that nothing but `data`
    /// appeared in `<outer>` and nothing but topic directories and the broker's own files in `data`.
    static func withConfinedBroker(_ configure: @escaping (inout MockBrokerConfiguration) -> Void = { _ in },
                                   _ body: (MockBroker) async throws -> Void) async throws {
        try await withTemporaryDirectory("name-safety") { outer in
            let data = "\(outer)/data"
            try await withBroker({
                $0.dataDirectory = data
                configure(&$0)
            }, body)
            #expect(Self.tree(outer).filter { !$0.hasPrefix("data") } == [], "files appeared outside the data directory")
            let topLevel = Set(try FileManager.default.contentsOfDirectory(atPath: data))
            let brokerFiles: Set = ["topics.json", "group-coordinator", "producer-id-block"]
            for entry in topLevel.subtracting(brokerFiles) {
                // <valid topic name>-<partition>
                let name = entry.split(separator: "-").dropLast().joined(separator: "-")
                #expect(!name.isEmpty && name != "." && name != ".." && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) },
                        "unexpected entry in the data directory: \(entry)")
            }
        }
    }

    @Test("CreateTopics refuses invalid names with INVALID_TOPIC_EXCEPTION; 249 characters and dots are fine")
    func createTopics() async throws {
        try await Self.withConfinedBroker { broker in
            let connection = try await broker.connect()
            let valid = [String(repeating: "y", count: 249), ".hidden", "..dots..", "a-b_c.d"]
            let response = try await connection.send(CreateTopicsRequest(
                topics: (Self.invalidTopicNames + valid).map { .init(name: $0, numPartitions: 1, replicationFactor: 1) },
                timeoutMs: 5000))
            let codes = Dictionary(uniqueKeysWithValues: response.topics.map { ($0.name, $0.errorCode) })
            for name in Self.invalidTopicNames {
                #expect(codes[name] == KafkaErrorCode.invalidTopicException.rawValue, "\(name.debugDescription)")
            }
            for name in valid { #expect(codes[name] == 0, "\(name)") }
            #expect(Set(broker.topicNames) == Set(valid))
            await connection.close()
        }
    }

    @Test("Metadata with auto-creation answers INVALID_TOPIC_EXCEPTION for invalid names and creates nothing")
    func autoCreation() async throws {
        try await Self.withConfinedBroker { broker in
            let connection = try await broker.connect()
            let response = try await connection.send(MetadataRequest(
                topics: Self.invalidTopicNames.map { .init(name: $0) }, allowAutoTopicCreation: true))
            #expect(response.topics.count == Self.invalidTopicNames.count)
            for topic in response.topics {
                #expect(topic.errorCode == KafkaErrorCode.invalidTopicException.rawValue, "\(topic.name.debugDescription)")
            }
            #expect(broker.topicNames.isEmpty)
            await connection.close()
        }
    }

    @Test("Produce, CreatePartitions, DeleteTopics, DeleteRecords and ListOffsets on invalid names find no topic and touch nothing")
    func otherApis() async throws {
        try await Self.withConfinedBroker { broker in
            try broker.createTopic("escape")
            let connection = try await broker.connect()
            for name in ["../escape", "../../escape", "/escape", "escape/..", "a/b"] {
                // As Kafka, Produce does not create topics; an unknown (here: impossible) name is unknown.
                let produced = try await connection.produce([TextRecord(key: nil, value: "v")], topic: name)
                #expect(produced.errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue, "\(name)")
                let grown = try await connection.send(CreatePartitionsRequest(topics: [.init(name: name, count: 3)], timeoutMs: 5000))
                #expect(grown.results.first?.errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue, "\(name)")
                let deleted = try await connection.send(DeleteTopicsRequest(topicNames: [name], timeoutMs: 5000), version: 5)
                #expect(deleted.responses.first?.errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue, "\(name)")
                let trimmed = try await connection.send(DeleteRecordsRequest(topics: [
                    .init(name: name, partitions: [.init(partitionIndex: 0, offset: 0)]),
                ], timeoutMs: 5000))
                #expect(trimmed.topics.first?.partitions.first?.errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue, "\(name)")
            }
            #expect(broker.topicNames == ["escape"])
            #expect(broker.offsets(topic: "escape", partition: 0)?.highWatermark == 0)
            await connection.close()
        }
    }

    @Test("group ids: empty ones get INVALID_GROUP_ID from the membership APIs; path-like ones are only data")
    func groupIds() async throws {
        try await Self.withConfinedBroker { broker in
            try broker.createTopic("offsets")
            let connection = try await broker.connect()
            #expect(code(try await connection.joinGroup("").errorCode) == .invalidGroupId)
            #expect(code(try await connection.syncGroup("", generation: 1, memberId: "m").errorCode) == .invalidGroupId)
            #expect(try await connection.heartbeat("", generation: 1, memberId: "m") == .invalidGroupId)
            let left = try await connection.send(LeaveGroupRequest(groupId: "", members: [.init(memberId: "m")]))
            #expect(code(left.errorCode) == .invalidGroupId)

            // Group ids are keys in the offsets log, never paths.
            for group in ["../escape", "/absolute", "a/../../b", "..", String(repeating: "g", count: 1000)] {
                #expect(try await connection.commitOffsets(group, [("offsets", 0, 7, "m")]) == [.none], "\(group)")
                #expect(try await connection.fetchOffsets(group, [("offsets", [0])]).first?.offset == 7, "\(group)")
            }
            await connection.close()
        }
    }

    @Test("a topics.json entry with an invalid name is skipped on startup, not opened as a path")
    func tamperedTopicsFile() async throws {
        try await withTemporaryDirectory("name-safety") { outer in
            let data = "\(outer)/data"
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            let json = """
                [{"configs":{},"id":"AAAAAAAAAAAAAAAAAAAAAQ","name":"../escape","partitions":1},
                 {"configs":{},"id":"AAAAAAAAAAAAAAAAAAAAAg","name":"fine","partitions":1}]
                """
            try json.write(toFile: "\(data)/topics.json", atomically: true, encoding: .utf8)
            try await withBroker({ $0.dataDirectory = data }) { broker in
                #expect(broker.topicNames == ["fine"])
            }
            #expect(Self.tree(outer).filter { !$0.hasPrefix("data") } == [], "files appeared outside the data directory")
        }
    }

    @Test("partitions beyond maxPartitions are refused with INVALID_PARTITIONS, however they are asked for (over 10,000 in one request: POLICY_VIOLATION, as Kafka)")
    func partitionLimit() async throws {
        try await Self.withConfinedBroker({ $0.maxPartitions = 10 }) { broker in
            let connection = try await broker.connect()
            // Over Kafka's 10,000 partitions per request: POLICY_VIOLATION before anything is counted.
            let huge = try await connection.send(CreateTopicsRequest(
                topics: [.init(name: "huge", numPartitions: 0x7FFF_FFFF, replicationFactor: 1)], timeoutMs: 5000))
            #expect(huge.topics.first?.errorCode == KafkaErrorCode.policyViolation.rawValue)
            let eleven = try await connection.send(CreateTopicsRequest(
                topics: [.init(name: "eleven", numPartitions: 11, replicationFactor: 1)], timeoutMs: 5000))
            #expect(eleven.topics.first?.errorCode == KafkaErrorCode.invalidPartitions.rawValue)
            let six = try await connection.send(CreateTopicsRequest(
                topics: [.init(name: "six", numPartitions: 6, replicationFactor: 1)], timeoutMs: 5000))
            #expect(six.topics.first?.errorCode == 0)
            let grown = try await connection.send(CreatePartitionsRequest(topics: [.init(name: "six", count: 11)], timeoutMs: 5000))
            #expect(grown.results.first?.errorCode == KafkaErrorCode.invalidPartitions.rawValue)
            let five = try await connection.send(CreateTopicsRequest(
                topics: [.init(name: "five", numPartitions: 5, replicationFactor: 1)], timeoutMs: 5000))
            #expect(five.topics.first?.errorCode == KafkaErrorCode.invalidPartitions.rawValue)
            let four = try await connection.send(CreateTopicsRequest(
                topics: [.init(name: "four", numPartitions: 4, replicationFactor: 1)], timeoutMs: 5000))
            #expect(four.topics.first?.errorCode == 0)
            // Auto-creation counts too.
            let auto = try await connection.send(MetadataRequest(topics: [.init(name: "auto")], allowAutoTopicCreation: true))
            #expect(auto.topics.first?.errorCode == KafkaErrorCode.invalidPartitions.rawValue)
            #expect(Set(broker.topicNames) == ["six", "four"])
            await connection.close()
        }
    }
}
