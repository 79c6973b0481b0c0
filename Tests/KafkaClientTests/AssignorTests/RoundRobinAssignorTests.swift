import KafkaClient
import Testing

@Suite("Assignor: roundrobin")
struct RoundRobinAssignorTests {
    let assignor = RoundRobinAssignor()

    @Test("advertises Java's name and the eager protocol")
    func identity() {
        #expect(assignor.name == "roundrobin")
        #expect(assignor.rebalanceProtocol == .eager)
        #expect(assignor.subscriptionUserData(topics: ["t0"], ownedPartitions: [], generationId: 3) == nil)
    }

    @Test("the Java documentation's example: two members, two topics of three partitions")
    func javaDocumentationExample() {
        let members = [assignorMember("C0", ["t0", "t1"]), assignorMember("C1", ["t0", "t1"])]
        let assignment = assignor.assign(members: members, partitionCounts: ["t0": 3, "t1": 3])
        #expect(assignment == [
            "C0": [atp("t0", 0), atp("t0", 2), atp("t1", 1)],
            "C1": [atp("t0", 1), atp("t1", 0), atp("t1", 2)],
        ])
    }

    @Test("the Java documentation's uneven example: members not subscribed to a topic are skipped")
    func javaDocumentationUnevenExample() {
        let members = [
            assignorMember("C0", ["t0"]),
            assignorMember("C1", ["t0", "t1"]),
            assignorMember("C2", ["t0", "t1", "t2"]),
        ]
        let assignment = assignor.assign(members: members, partitionCounts: ["t0": 1, "t1": 2, "t2": 3])
        #expect(assignment == [
            "C0": [atp("t0", 0)],
            "C1": [atp("t1", 0)],
            "C2": [atp("t1", 1), atp("t2", 0), atp("t2", 1), atp("t2", 2)],
        ])
    }

    @Test("the circle carries on across topics")
    func circleContinuesAcrossTopics() {
        let members = ["C0", "C1", "C2"].map { assignorMember($0, ["a", "b"]) }
        let assignment = assignor.assign(members: members, partitionCounts: ["a": 2, "b": 2])
        #expect(assignment == [
            "C0": [atp("a", 0), atp("b", 1)],
            "C1": [atp("a", 1)],
            "C2": [atp("b", 0)],
        ])
    }

    @Test("more members than partitions: one each for the first ones, the rest get nothing")
    func moreMembersThanPartitions() {
        let members = (0..<4).map { assignorMember("C\($0)", ["t"]) }
        #expect(assignor.assign(members: members, partitionCounts: ["t": 2]) == [
            "C0": [atp("t", 0)], "C1": [atp("t", 1)], "C2": [], "C3": [],
        ])
    }

    @Test("members are ordered as Java orders them: static by instance id first, then dynamic by member id")
    func staticMemberOrdering() {
        let members = [
            assignorMember("a", ["t"]),
            assignorMember("b", ["t"], instance: "zz"),
            assignorMember("c", ["t"], instance: "aa"),
        ]
        #expect(assignor.assign(members: members, partitionCounts: ["t": 5]) == [
            "c": [atp("t", 0), atp("t", 3)],
            "b": [atp("t", 1), atp("t", 4)],
            "a": [atp("t", 2)],
        ])
    }

    @Test("topics are laid out in string order, partitions in numeric order")
    func topicOrder() {
        // "t10" < "t2" as strings; "T" < "t".
        let members = [assignorMember("C0", ["t2", "t10", "T"]), assignorMember("C1", ["t2", "t10", "T"])]
        #expect(assignor.assign(members: members, partitionCounts: ["t2": 1, "t10": 11, "T": 1]) == [
            "C0": [atp("T", 0)] + [1, 3, 5, 7, 9].map { atp("t10", $0) } + [atp("t2", 0)],
            "C1": [0, 2, 4, 6, 8, 10].map { atp("t10", $0) },
        ])
    }

    @Test("subscribed topics that do not exist are skipped")
    func missingTopics() {
        let members = [assignorMember("C0", ["gone"]), assignorMember("C1", ["t", "gone"])]
        #expect(assignor.assign(members: members, partitionCounts: ["t": 2]) == [
            "C0": [], "C1": [atp("t", 0), atp("t", 1)],
        ])
    }

    @Test("identical subscriptions: counts differ by at most one (seeded random groups)")
    func identicalSubscriptionsAreBalanced() {
        var random = AssignorRandom(seed: 0x5EED_0001)
        for _ in 0..<200 {
            let scenario = AssignorScenario.random(using: &random, maxMembers: 10, maxPartitions: 12, identicalSubscriptions: true)
            let assignment = assignor.assign(members: scenario.members, partitionCounts: scenario.partitionCounts)
            expectWellFormedAssignment(assignment, members: scenario.members, partitionCounts: scenario.partitionCounts, "\(scenario)")
            let counts = assignment.values.map(\.count)
            #expect(counts.max()! - counts.min()! <= 1, "\(scenario)")
            #expect(counts.reduce(0, +) == scenario.assignablePartitions.count, "\(scenario)")
        }
    }
}
