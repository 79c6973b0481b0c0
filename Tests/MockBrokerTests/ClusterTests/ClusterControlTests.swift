import Foundation
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import Testing

extension ClusterTests {
    /// The HTTP control endpoint of a cluster: every route, JSON in and out, 4xx with `{"error": ...}`.
    @Suite("Cluster: HTTP control endpoint", .serialized)
    struct ClusterControlTests {
        private func http(_ method: String, _ path: String, body: String? = nil, port: Int) async throws -> (Int, Any) {
            try await ControlClient.request(method, path, body: body, port: port)
        }

        @Test("GET /status, broker stop/kill/start/isolate/heal, leader moves, faults, and 4xx with an error for bad requests")
        func routes() async throws {
            try await withCluster { cluster in
                try cluster.createTopic("controlled", partitions: 1, replicationFactor: 3)
                let control = try await ControlServer.start(cluster: cluster, port: 0, logger: testLogger)
                defer { Task { try? await control.stop() } }
                let port = control.port

                let (statusCode, status) = try await http("GET", "/status", port: port)
                #expect(statusCode == 200)
                let root = try #require(status as? [String: Any])
                #expect(root["controller"] as? Int == 0)
                #expect((root["brokers"] as? [[String: Any]])?.count == 3)
                let topics = try #require(root["topics"] as? [[String: Any]])
                let controlled = try #require(topics.first { $0["name"] as? String == "controlled" })
                let partition = try #require((controlled["partitions"] as? [[String: Any]])?.first)
                for key in ["partition", "leader", "leaderEpoch", "replicas", "isr", "highWatermark", "logEndOffsets"] {
                    #expect(partition[key] != nil, "status partitions have \(key)")
                }
                #expect(root["groups"] is [Any])

                // Leadership moves to an in-sync replica; a broker that is not one is refused.
                #expect(await cluster.awaitFullyReplicated(topic: "controlled", partition: 0))
                let leader = try #require(cluster.leader(topic: "controlled", partition: 0))
                let target = (leader + 1) % 3
                let (moved, _) = try await http("POST", "/partitions/controlled/0/leader", body: "{\"broker\": \(target)}", port: port)
                #expect(moved == 200)
                #expect(cluster.leader(topic: "controlled", partition: 0) == target)
                let (missing, missingBody) = try await http("POST", "/partitions/nope/0/leader", body: "{\"broker\": 0}", port: port)
                #expect(missing == 404 && (missingBody as? [String: Any])?["error"] is String)
                let (badBody, _) = try await http("POST", "/partitions/controlled/0/leader", body: "{\"leader\": 1}", port: port)
                #expect(badBody == 400)

                // Brokers: stop (controlled), start, kill, start, isolate, heal; unknown ids and actions are 404.
                for action in ["stop", "start", "kill", "start", "isolate", "heal"] {
                    let (code, body) = try await http("POST", "/brokers/2/\(action)", port: port)
                    #expect(code == 200, "\(action): \(body)")
                }
                #expect(try await http("POST", "/brokers/7/stop", port: port).0 == 404)
                #expect(try await http("POST", "/brokers/1/explode", port: port).0 == 404)
                #expect(try await http("POST", "/brokers/1/start", port: port).0 == 409, "already running")

                // Faults: one injected on broker 1, listed, then cleared; a fault without an action is a 400.
                let fault = #"{"api": "Produce", "error": "NOT_LEADER_OR_FOLLOWER", "topic": "controlled", "partition": 0, "count": 2, "broker": 1}"#
                #expect(try await http("POST", "/faults", body: fault, port: port).0 == 200)
                let (listed, list) = try await http("GET", "/faults", port: port)
                let faults = try #require((list as? [String: Any])?["faults"] as? [[String: Any]])
                #expect(listed == 200 && faults.count == 1)
                #expect(faults.first?["broker"] as? Int == 1 && faults.first?["error"] as? String == "NOT_LEADER_OR_FOLLOWER")
                #expect(cluster.pendingFaults[1]?.first?.action == .error(.notLeaderOrFollower))
                #expect(try await http("POST", "/faults", body: #"{"api": "Fetch"}"#, port: port).0 == 400)
                #expect(try await http("POST", "/faults", body: #"{"api": "Nonsense", "delayMs": 5}"#, port: port).0 == 400)
                #expect(try await http("DELETE", "/faults", port: port).0 == 200)
                #expect(cluster.pendingFaults.isEmpty)
                #expect(try await http("GET", "/nowhere", port: port).0 == 404)
            }
        }
    }
}
