import KafkaClient
import Testing

@Suite("Assignor: range")
struct RangeAssignorTests {
    let assignor = RangeAssignor()

    @Test("advertises Java's name and the eager protocol")
    func identity() {
        #expect(assignor.name == "range")
        #expect(assignor.rebalanceProtocol == .eager)
        #expect(assignor.subscriptionUserData(topics: ["t0"], ownedPartitions: [atp("t0", 0)], generationId: 3) == nil)
    }

    @Test("the Java documentation's example: two members, two topics of three partitions")
    func javaDocumentationExample() {
        let members = [assignorMember("C0", ["t0", "t1"]), assignorMember("C1", ["t0", "t1"])]
        let assignment = assignor.assign(members: members, partitionCounts: ["t0": 3, "t1": 3])
        #expect(assignment == [
            "C0": [atp("t0", 0), atp("t0", 1), atp("t1", 0), atp("t1", 1)],
            "C1": [atp("t0", 2), atp("t1", 2)],
        ])
    }

    @Test("each topic is split among its own subscribers only")
    func unevenSubscriptions() {
        let members = [assignorMember("C0", ["t0"]), assignorMember("C1", ["t0", "t1"]), assignorMember("C2", ["t1"])]
        let assignment = assignor.assign(members: members, partitionCounts: ["t0": 3, "t1": 4])
        #expect(assignment == [
            "C0": [atp("t0", 0), atp("t0", 1)],
            "C1": [atp("t0", 2), atp("t1", 0), atp("t1", 1)],
            "C2": [atp("t1", 2), atp("t1", 3)],
        ])
    }

    @Test("P partitions over C members: P/C each, the first P%C get one more, in consecutive ranges")
    func remainderGoesToTheFirstMembers() {
        let members = ["C0", "C1", "C2"].map { assignorMember($0, ["t"]) }
        let assignment = assignor.assign(members: members, partitionCounts: ["t": 8])
        #expect(assignment == [
            "C0": [atp("t", 0), atp("t", 1), atp("t", 2)],
            "C1": [atp("t", 3), atp("t", 4), atp("t", 5)],
            "C2": [atp("t", 6), atp("t", 7)],
        ])
    }

    @Test("more members than partitions: the last members get nothing, but are in the result")
    func moreMembersThanPartitions() {
        let members = (0..<5).map { assignorMember("C\($0)", ["t0", "t1"]) }
        let assignment = assignor.assign(members: members, partitionCounts: ["t0": 2, "t1": 1])
        #expect(assignment == [
            "C0": [atp("t0", 0), atp("t1", 0)],
            "C1": [atp("t0", 1)],
            "C2": [], "C3": [], "C4": [],
        ])
    }

    @Test("members are ordered as Java orders them: static by instance id first, then dynamic by member id")
    func staticMemberOrdering() {
        let members = [
            assignorMember("a-dynamic", ["t"]),
            assignorMember("z-static", ["t"], instance: "instance-b"),
            assignorMember("B-dynamic", ["t"]),  // "B" < "a": code-unit order, not case-insensitive
            assignorMember("y-static", ["t"], instance: "instance-a"),
        ]
        let assignment = assignor.assign(members: members, partitionCounts: ["t": 4])
        #expect(assignment == [
            "y-static": [atp("t", 0)],
            "z-static": [atp("t", 1)],
            "B-dynamic": [atp("t", 2)],
            "a-dynamic": [atp("t", 3)],
        ])
    }

    @Test("member ids compare as strings (consumer-10 before consumer-2), by UTF-16 code units like Java")
    func stringOrdering() {
        let numbered = ["consumer-2", "consumer-10"].map { assignorMember($0, ["t"]) }
        #expect(assignor.assign(members: numbered, partitionCounts: ["t": 2]) == [
            "consumer-10": [atp("t", 0)], "consumer-2": [atp("t", 1)],
        ])
        // U+FF61 is one UTF-16 unit, 0xFF61; U+1F600 is the surrogate pair 0xD83D 0xDE00, which Java sorts first
        // although its code point is larger.
        let unicode = [
            assignorMember("m1", ["t"], instance: "\u{FF61}"),
            assignorMember("m2", ["t"], instance: "\u{1F600}"),
        ]
        #expect(assignor.assign(members: unicode, partitionCounts: ["t": 2]) == [
            "m2": [atp("t", 0)], "m1": [atp("t", 1)],
        ])
    }

    @Test("subscribed topics that do not exist are skipped; topics with no partitions assign nothing")
    func missingTopics() {
        let members = [assignorMember("C0", ["t0", "gone"]), assignorMember("C1", ["gone", "empty"])]
        let assignment = assignor.assign(members: members, partitionCounts: ["t0": 2, "empty": 0])
        #expect(assignment == ["C0": [atp("t0", 0), atp("t0", 1)], "C1": []])
    }

    @Test("no members, no assignment")
    func noMembers() {
        #expect(assignor.assign(members: [], partitionCounts: ["t0": 3]).isEmpty)
    }

    @Test("owned partitions are ignored (eager)")
    func ignoresOwnedPartitions() {
        let members = [
            assignorMember("C0", ["t"], owned: [atp("t", 2)], generation: 4),
            assignorMember("C1", ["t"], owned: [atp("t", 0)], generation: 4),
        ]
        #expect(assignor.assign(members: members, partitionCounts: ["t": 3]) == [
            "C0": [atp("t", 0), atp("t", 1)], "C1": [atp("t", 2)],
        ])
    }
}
