import Foundation
import KafkaClient
import KafkaTestSupport
import Testing

/// Compares `range` and `roundrobin` with kafka-python's implementations (an independent implementation of the
/// Java client's behaviour) on seeded random groups, through `Scripts/kafka_python_assignors.py`.
///
/// Without python3 and kafka-python the suite is skipped, except when the `CI` environment variable is set, where
/// the missing dependency fails it.
@Suite("Assignor: range and roundrobin agree with kafka-python",
       .enabled(KafkaPythonAssignors.missingReason) {
           if KafkaPythonAssignors.isCI { return true }
           return await KafkaPythonAssignors.available
       })
struct KafkaPythonAssignorComparisonTests {
    @Test("400 seeded random groups: random subscriptions, static and dynamic members, missing and empty topics")
    func randomGroups() async throws {
        var random = AssignorRandom(seed: 0x00C0_FFEE_2024)
        var scenarios: [AssignorScenario] = []
        for index in 0..<400 {
            // A quarter with identical subscriptions, some with many more members than partitions.
            scenarios.append(AssignorScenario.random(
                using: &random, maxMembers: index % 10 == 0 ? 20 : 8, maxTopics: 7, maxPartitions: index % 7 == 0 ? 3 : 16,
                identicalSubscriptions: index % 4 == 0))
        }
        let expected = try await KafkaPythonAssignors.run(scenarios)
        try #require(expected.count == scenarios.count)
        var compared = 0
        for (scenario, python) in zip(scenarios, expected) {
            let range = RangeAssignor().assign(members: scenario.members, partitionCounts: scenario.partitionCounts)
            let roundRobin = RoundRobinAssignor().assign(members: scenario.members, partitionCounts: scenario.partitionCounts)
            #expect(range == python.range, "range differs for \(scenario)")
            #expect(roundRobin == python.roundrobin, "roundrobin differs for \(scenario)")
            compared += 1
        }
        #expect(compared == 400)
        // The generator did produce the cases that matter.
        #expect(scenarios.contains { $0.members.contains { $0.groupInstanceId != nil } && $0.members.contains { $0.groupInstanceId == nil } })
        #expect(scenarios.contains { s in s.members.contains { $0.topics.contains { s.partitionCounts[$0] == nil } } })
        #expect(scenarios.contains { s in s.members.count > s.assignablePartitions.count })
    }

    @Test("the Java documentation's examples, and static members interleaved with dynamic ones")
    func fixedGroups() async throws {
        let scenarios = [
            AssignorScenario(members: [assignorMember("C0", ["t0", "t1"]), assignorMember("C1", ["t0", "t1"])],
                             partitionCounts: ["t0": 3, "t1": 3]),
            AssignorScenario(members: [assignorMember("C0", ["t0"]), assignorMember("C1", ["t0", "t1"]),
                                       assignorMember("C2", ["t0", "t1", "t2"])],
                             partitionCounts: ["t0": 1, "t1": 2, "t2": 3]),
            AssignorScenario(members: [assignorMember("a", ["t"], instance: "s1"), assignorMember("b", ["t"]),
                                       assignorMember("c", ["t"], instance: "s0"), assignorMember("d", ["t"])],
                             partitionCounts: ["t": 7]),
        ]
        let expected = try await KafkaPythonAssignors.run(scenarios)
        for (scenario, python) in zip(scenarios, expected) {
            #expect(RangeAssignor().assign(members: scenario.members, partitionCounts: scenario.partitionCounts) == python.range)
            #expect(RoundRobinAssignor().assign(members: scenario.members, partitionCounts: scenario.partitionCounts) == python.roundrobin)
        }
    }
}

/// Runs `Scripts/kafka_python_assignors.py`.
enum KafkaPythonAssignors {
    struct Result: Decodable {
        var range: [String: [TopicPartition]]
        var roundrobin: [String: [TopicPartition]]

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            func read(_ key: CodingKeys) throws -> [String: [TopicPartition]] {
                try container.decode([String: [Pair]].self, forKey: key).mapValues { $0.map { atp($0.topic, $0.partition) } }
            }
            range = try read(.range)
            roundrobin = try read(.roundrobin)
        }

        enum CodingKeys: String, CodingKey { case range, roundrobin }
    }

    /// `["topic", partition]`.
    struct Pair: Decodable {
        var topic: String
        var partition: Int32

        init(from decoder: any Decoder) throws {
            var container = try decoder.unkeyedContainer()
            topic = try container.decode(String.self)
            partition = try container.decode(Int32.self)
        }
    }

    struct Output: Decodable {
        var kafkaPython: String
        var results: [Result]
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static let isCI = ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty } ?? false

    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Scripts/kafka_python_assignors.py")

    static let python3: URL? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("python3")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }()

    /// python3 is on the PATH and imports kafka-python's assignors.
    static var available: Bool { get async { await availability.value } }
    /// Checked once, as a task: a test thread is never held while Python starts.
    private static let availability = Task { (try? await execute(arguments: ["--check"], input: Data())) != nil }

    static let missingReason: Comment =
        "python3 with kafka-python is needed to compare assignments (pip install kafka-python); set CI to make this a failure"

    static func run(_ scenarios: [AssignorScenario]) async throws -> [Result] {
        let request: [String: Any] = [
            "scenarios": scenarios.map { scenario in
                [
                    "members": scenario.members.map { member -> [String: Any] in
                        var entry: [String: Any] = ["memberId": member.memberId, "topics": member.topics.sorted()]
                        if let instance = member.groupInstanceId { entry["groupInstanceId"] = instance }
                        return entry
                    },
                    "partitionCounts": scenario.partitionCounts.mapValues { Int($0) },
                ] as [String: Any]
            }
        ]
        let input = try JSONSerialization.data(withJSONObject: request)
        let output = try await execute(arguments: [], input: input)
        return try JSONDecoder().decode(Output.self, from: output).results
    }

    /// Runs the script with `input` on stdin (without holding a test thread while it runs); its stdout, or an
    /// error with its stderr.
    static func execute(arguments: [String], input: Data) async throws -> Data {
        guard let python3 else { throw Failure(description: "python3 is not on the PATH") }
        let output = try await runProcess(python3.path, [script.path] + arguments, stdin: input, limit: .seconds(120))
        guard output.succeeded else {
            throw Failure(description: "kafka_python_assignors.py failed: \(output.summary)")
        }
        return output.stdout
    }
}
