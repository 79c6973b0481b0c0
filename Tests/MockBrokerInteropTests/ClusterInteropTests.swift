import Foundation
import KafkaTestSupport
import Testing

/// Real clients against `mock-broker --brokers 3` through leader failovers: librdkafka (kcat, and confluent-kafka's
/// newer librdkafka) and kafka-python produce idempotently with acks=all while leaders are killed or stopped
/// (through the HTTP control endpoint), then consume in groups. Every record is numbered: what each group
/// consumed must be exactly what its producer had acknowledged, and the log must hold each record once.
@Suite("Cluster interop: kcat, confluent-kafka and kafka-python through failovers", .serialized,
       .requires(.kcat, .kafkaPython, .confluentKafka))
struct ClusterInteropTests {
    /// What `cluster_clients.py produce` prints.
    struct Produced: Decodable {
        var acks: [String: [Int64]]
        var errors: [String]
    }

    /// What `cluster_clients.py consume-group` prints: [value, partition, offset] triples.
    struct Consumed: Decodable {
        var records: [[Value]]

        enum Value: Decodable {
            case text(String)
            case number(Int64)

            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let number = try? container.decode(Int64.self) { self = .number(number) } else { self = .text(try container.decode(String.self)) }
            }

            var text: String? { if case .text(let text) = self { text } else { nil } }
        }

        var values: [String] { records.compactMap { $0.first?.text } }
    }

    /// The cluster process, its control port and every broker's address.
    struct Cluster {
        let process: BrokerProcess
        let controlPort: Int
        let bootstrap: String

        func status() async throws -> [String: Any] {
            let (code, json) = try await ControlClient.request("GET", "/status", port: controlPort)
            try #require(code == 200)
            return try #require(json as? [String: Any])
        }

        func leader(_ topic: String, _ partition: Int) async throws -> Int? {
            let topics = try await status()["topics"] as? [[String: Any]] ?? []
            guard let found = topics.first(where: { $0["name"] as? String == topic }),
                  let partitions = found["partitions"] as? [[String: Any]], partition < partitions.count,
                  let leader = partitions[partition]["leader"] as? Int, leader >= 0 else { return nil }
            return leader
        }

        func act(_ action: String, broker: Int) async throws {
            let (code, json) = try await ControlClient.request("POST", "/brokers/\(broker)/\(action)", port: controlPort)
            try #require(code == 200, "\(action) \(broker): \(json)")
        }

        /// Waits (up to 120 s, a safety bound) until every partition of every topic, `__consumer_offsets` included,
        /// has a leader and all its replicas in sync, as an operator checks before taking the next broker down: a
        /// broker stopped while it is some partition's last in-sync replica leaves that partition without a leader
        /// (unclean election is off), which on a loaded machine once took a group's coordinator away for a whole run.
        func awaitFullyReplicated() async throws {
            var lagging: [String] = []
            let done = try await waitUntil(120) {
                lagging = []
                for topic in try await status()["topics"] as? [[String: Any]] ?? [] {
                    for partition in topic["partitions"] as? [[String: Any]] ?? [] {
                        let replicas = Set(partition["replicas"] as? [Int] ?? []), isr = Set(partition["isr"] as? [Int] ?? [])
                        guard replicas != isr || (partition["leader"] as? Int ?? -1) < 0 else { continue }
                        lagging.append("\(topic["name"] ?? "?")-\(partition["partition"] ?? "?"): in sync \(isr.sorted()) of \(replicas.sorted())")
                    }
                }
                return lagging.isEmpty
            }
            try #require(done, "not fully replicated within 120 s: \(lagging.prefix(10))")
        }

        /// Kills the leader of `topic`-`partition`, waits until the controller moved its leadership.
        func killLeader(_ topic: String, _ partition: Int) async throws -> Int {
            let leader = try #require(try await leader(topic, partition))
            try await act("kill", broker: leader)
            let moved = try await waitUntil { try await self.leader(topic, partition).map { $0 != leader } ?? false }
            try #require(moved, "the leadership of \(topic)-\(partition) did not move off broker \(leader)")
            return leader
        }

        /// Waits until the topic exists with leaders (a producer auto-creates it). Up to 120 s, a safety bound: the
        /// producer may first wait for one of the test run's few process slots, which other tests' processes hold.
        func awaitTopic(_ topic: String) async throws {
            let known = try await waitUntil(120) { try await self.leader(topic, 0) != nil }
            try #require(known, "topic \(topic) never appeared")
        }
    }

    private func withCluster(_ body: (Cluster) async throws -> Void) async throws {
        let directory = try makeTemporaryDirectory("cluster-interop")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A dead broker leaves the ISRs when its session (1 s) expires; replica.lag.time.max.ms only has to catch a
        // follower that is alive and behind, so it is long enough (10 s) that a loaded machine's stalls do not
        // shrink the ISRs by themselves.
        try await withBrokerProcess(dataDirectory: directory, arguments: [
            "--brokers", "3", "--default-replication-factor", "3", "--min-insync-replicas", "2", "--partitions", "3",
            "--broker-session-timeout-ms", "1000", "--replica-lag-time-max-ms", "10000", "--control-port", "0",
            "--group-min-session-timeout-ms", "500", "--log-level", "warning",
        ]) { process in
            var lines: [Substring] = []
            let announced = await waitUntil(30) {
                lines = process.stdout.split(separator: "\n")
                return lines.contains { $0.hasPrefix("mock-broker control listening on ") }
            }
            try #require(announced, "no control line: \(process.stdout)")
            #expect(lines.first.map(String.init) == process.listeningLine)
            let addresses = lines.compactMap { line -> String? in
                guard line.contains(" listening on 127.0.0.1:"), !line.contains("control") else { return nil }
                return line.split(separator: " ").last.map(String.init)
            }
            #expect(addresses.count == 3, "one line per broker: \(lines)")
            let control = try #require(lines.first { $0.hasPrefix("mock-broker control listening on ") })
            let port = try #require(control.split(separator: ":").last.flatMap { Int($0) })
            try await body(Cluster(process: process, controlPort: port, bootstrap: addresses.joined(separator: ",")))
        }
    }

    @Test("each client produces idempotently through a killed and a stopped leader, another consumes in a group: every record once")
    func clientsThroughFailovers() async throws {
        let kcat = try Kcat()
        let python3 = try await Peers.requireConfluentKafka()
        let script = "\(scriptsDirectory())/cluster_clients.py"
        func python<Output: Decodable>(_ arguments: [String]) async throws -> Output {
            let output = try await runProcess(python3, [script] + arguments, limit: .seconds(120))
            try #require(output.succeeded, "\(output.summary)")
            return try JSONDecoder().decode(Output.self, from: output.stdout)
        }

        try await withCluster { cluster in
            // kcat (librdkafka 2.0): the leader of partition 0 is killed between two idempotent batches.
            let kcatValues = (0..<600).map { "kcat-\($0)" }
            try await kcat.produce(cluster.bootstrap, topic: "via-kcat", lines: Array(kcatValues[..<300]),
                                   ["-X", "enable.idempotence=true"])
            try await cluster.awaitTopic("via-kcat")
            let killed = try await cluster.killLeader("via-kcat", 0)
            try await kcat.produce(cluster.bootstrap, topic: "via-kcat", lines: Array(kcatValues[300...]),
                                   ["-X", "enable.idempotence=true"])
            try await cluster.act("start", broker: killed)

            // confluent-kafka (librdkafka 2.16) and kafka-python: a leader killed, then another stopped, mid-run.
            var acknowledged: [String: Set<String>] = ["via-kcat": Set(kcatValues)]
            for client in ["confluent", "kafka-python"] {
                let topic = "via-\(client)"
                let producer = Task { () throws -> Produced in
                    try await python(["produce", "--client", client, "--bootstrap", cluster.bootstrap, "--topic", topic,
                                      "--prefix", client, "--count", "1500", "--pause-ms", "40"])
                }
                try await cluster.awaitTopic(topic)
                try await cluster.awaitFullyReplicated()
                let victim = try await cluster.killLeader(topic, 0)
                try await cluster.act("start", broker: victim)
                try await cluster.awaitFullyReplicated()
                let stopped = try #require(try await cluster.leader(topic, 1))
                try await cluster.act("stop", broker: stopped)
                let produced = try await producer.value
                try await cluster.act("start", broker: stopped)
                #expect(produced.errors.isEmpty, "\(client): \(produced.errors.prefix(5))")
                #expect(produced.acks.count == 1500, "\(client): \(produced.acks.count) acknowledged")
                acknowledged[topic] = Set(produced.acks.keys)
            }

            // Each topic consumed in a group by another client; a broker is stopped during one of them.
            let consumers: [(topic: String, client: String)] = [
                ("via-kcat", "confluent"), ("via-confluent", "kafka-python"), ("via-kafka-python", "kcat"),
            ]
            for (topic, client) in consumers {
                let expected = try #require(acknowledged[topic])
                let values: [String]
                if client == "kcat" {
                    let output = try await kcat.run(["-b", cluster.bootstrap, "-G", "group-\(topic)", topic, "-c", "\(expected.count)",
                                                     "-J", "-q", "-X", "auto.offset.reset=earliest"])
                    try #require(output.succeeded, "\(output.summary)")
                    values = try output.stdout.split(separator: UInt8(ascii: "\n")).compactMap {
                        try JSONDecoder().decode(KcatMessage.self, from: Data($0)).payload
                    }
                } else {
                    let stopped = topic == "via-confluent" ? 2 : nil
                    if let stopped {
                        try await cluster.awaitFullyReplicated()
                        try await cluster.act("stop", broker: stopped)
                    }
                    let consumed: Consumed = try await python(["consume-group", "--client", client, "--bootstrap", cluster.bootstrap,
                                                               "--topic", topic, "--group", "group-\(topic)",
                                                               "--expect", "\(expected.count)"])
                    if let stopped { try await cluster.act("start", broker: stopped) }
                    values = consumed.values
                }
                #expect(Set(values) == expected, "\(topic) read by \(client): \(Set(values).count) distinct of \(expected.count)")
                if Set(values) != expected, let status = try? await cluster.status() {
                    let offsets = (status["topics"] as? [[String: Any]])?.first { $0["name"] as? String == "__consumer_offsets" }
                    Issue.record("the cluster when \(topic) was read short: brokers \(status["brokers"] ?? "?"), groups \(status["groups"] ?? "?"), \(offsets ?? [:])")
                }
                #expect(values.count == expected.count, "\(topic) read by \(client): \(values.count - Set(values).count) duplicate(s)")

                // The log itself holds every acknowledged record exactly once.
                let log = try await kcat.consume(cluster.bootstrap, topic: topic).compactMap(\.payload)
                #expect(log.count == expected.count && Set(log) == expected, "\(topic): \(log.count) records in the log")
            }
        }
    }
}
