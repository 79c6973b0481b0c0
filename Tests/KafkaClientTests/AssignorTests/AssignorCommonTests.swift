import KafkaClient
import KafkaProtocol
import NIOCore
import Testing

/// Properties every built-in assignor has.
@Suite("Assignor: common properties")
struct AssignorCommonTests {
    static let builtIns: [any ConsumerPartitionAssignor] = [RangeAssignor(), RoundRobinAssignor(), CooperativeStickyAssignor()]

    @Test("names and protocols of the built-ins")
    func builtInNames() {
        #expect(Self.builtIns.map(\.name) == ["range", "roundrobin", "cooperative-sticky"])
        #expect(Self.builtIns.map(\.rebalanceProtocol) == [.eager, .eager, .cooperative])
    }

    @Test("fresh groups: every member present, sorted lists, each existing subscribed partition exactly once",
          arguments: builtIns)
    func wellFormedOnRandomGroups(assignor: any ConsumerPartitionAssignor) {
        var random = AssignorRandom(seed: 0xC0FF_EE00)
        for _ in 0..<300 {
            let scenario = AssignorScenario.random(using: &random)
            let assignment = assignor.assign(members: scenario.members, partitionCounts: scenario.partitionCounts)
            expectWellFormedAssignment(assignment, members: scenario.members, partitionCounts: scenario.partitionCounts, "\(scenario)")
            let assigned = Set(assignment.values.joined())
            #expect(assigned == scenario.assignablePartitions, "\(assignor.name) \(scenario)")
        }
    }

    @Test("the order members are listed in does not change the result", arguments: builtIns)
    func independentOfInputOrder(assignor: any ConsumerPartitionAssignor) {
        var random = AssignorRandom(seed: 0x0DDE_0001)
        for _ in 0..<100 {
            let scenario = AssignorScenario.random(using: &random)
            // Owned partitions from some earlier assignment, so the sticky assignor has claims to weigh.
            let earlier = RoundRobinAssignor().assign(members: scenario.members, partitionCounts: scenario.partitionCounts)
            let members = withOwnership(scenario.members, earlier, generation: 3)
            let expected = assignor.assign(members: members, partitionCounts: scenario.partitionCounts)
            for _ in 0..<3 {
                let shuffled = members.shuffled(using: &random)
                #expect(assignor.assign(members: shuffled, partitionCounts: scenario.partitionCounts) == expected,
                        "\(assignor.name) \(scenario)")
            }
        }
    }

    @Test("a member listed twice is assigned once", arguments: builtIns)
    func repeatedMember(assignor: any ConsumerPartitionAssignor) {
        let members = [assignorMember("C0", ["t"]), assignorMember("C1", ["t"]), assignorMember("C0", ["t"])]
        let assignment = assignor.assign(members: members, partitionCounts: ["t": 4])
        #expect(Set(assignment.keys) == ["C0", "C1"])
        #expect(assignment.values.map(\.count).sorted() == [2, 2])
    }

    @Test("members subscribed to nothing that exists get an empty list", arguments: builtIns)
    func nothingToAssign(assignor: any ConsumerPartitionAssignor) {
        let members = [assignorMember("C0", []), assignorMember("C1", ["missing"])]
        #expect(assignor.assign(members: members, partitionCounts: [:]) == ["C0": [], "C1": []])
    }

    @Test("a custom assignor plugs in through the protocol, with the default user data")
    func customAssignor() {
        struct EverythingToTheFirst: ConsumerPartitionAssignor {
            var name: String { "everything-to-the-first" }
            var rebalanceProtocol: RebalanceProtocol { .eager }
            func assign(members: [GroupMemberSubscription], partitionCounts: [String: Int32]) -> [String: [TopicPartition]] {
                var result = Dictionary(uniqueKeysWithValues: members.map { ($0.memberId, [TopicPartition]()) })
                if let first = members.map(\.memberId).min() {
                    result[first] = partitionCounts.keys.sorted().flatMap { topic in (0..<partitionCounts[topic]!).map { atp(topic, $0) } }
                }
                return result
            }
        }
        let assignors: [any ConsumerPartitionAssignor] = [EverythingToTheFirst(), RangeAssignor()]
        #expect(assignors[0].subscriptionUserData(topics: ["t"], ownedPartitions: [], generationId: 3) == nil)
        #expect(assignors[0].assign(members: [assignorMember("b", ["t"]), assignorMember("a", ["t"])], partitionCounts: ["t": 2])
            == ["a": [atp("t", 0), atp("t", 1)], "b": []])
    }
}

@Suite("Assignor: consumer-protocol conversions")
struct AssignorConversionTests {
    @Test("an assignment groups partitions by topic and reads back flat, through the wire encoding", arguments: Int16(0)...3)
    func assignmentRoundTrip(version: Int16) throws {
        let partitions = [atp("b", 2), atp("a", 1), atp("b", 0), atp("a", 1), atp("c", 7)]
        let assignment = ConsumerProtocolAssignment(assignedTopicPartitions: partitions, userData: ByteBuffer(bytes: [1, 2]))
        #expect(assignment.assignedPartitions == [
            .init(topic: "a", partitions: [1]), .init(topic: "b", partitions: [0, 2]), .init(topic: "c", partitions: [7]),
        ])
        let decoded = try ConsumerProtocolAssignment(
            decodingWithVersionPrefix: try assignment.encodedWithVersionPrefix(version: version))
        #expect(decoded.assignedTopicPartitions == [atp("a", 1), atp("b", 0), atp("b", 2), atp("c", 7)])
        #expect(decoded.userData == ByteBuffer(bytes: [1, 2]))
        #expect(ConsumerProtocolAssignment(assignedTopicPartitions: []).assignedTopicPartitions.isEmpty)
    }

    @Test("a subscription's bytes become the member the leader assigns, at every consumer-protocol version",
          arguments: Int16(0)...3)
    func subscriptionToMember(version: Int16) throws {
        let subscription = ConsumerProtocolSubscription(
            subscribedTopics: ["t1", "t0", "t1"], ownedTopicPartitions: [atp("t1", 3), atp("t0", 0), atp("t1", 1)],
            generationId: 12, rackId: "rack-a", userData: ByteBuffer(bytes: [9]))
        #expect(subscription.topics == ["t0", "t1"])
        #expect(subscription.ownedPartitions == [.init(topic: "t0", partitions: [0]), .init(topic: "t1", partitions: [1, 3])])

        let bytes = try subscription.encodedWithVersionPrefix(version: version)
        let member = try GroupMemberSubscription(memberId: "m-1", groupInstanceId: "static-1", metadata: bytes)
        #expect(member.memberId == "m-1")
        #expect(member.groupInstanceId == "static-1")
        #expect(member.topics == ["t0", "t1"])
        #expect(member.userData == ByteBuffer(bytes: [9]))
        // Fields a version does not carry read as their defaults.
        #expect(member.ownedPartitions == (version >= 1 ? [atp("t0", 0), atp("t1", 1), atp("t1", 3)] : []))
        #expect(member.generationId == (version >= 2 ? 12 : -1))
        #expect(member.rackId == (version >= 3 ? "rack-a" : nil))
    }

    @Test("a member built from a decoded subscription keeps the order the member listed its partitions in")
    func memberFromSubscription() {
        let subscription = ConsumerProtocolSubscription(
            topics: ["x"], ownedPartitions: [.init(topic: "x", partitions: [5, 1])], generationId: 2)
        let member = GroupMemberSubscription(memberId: "m", groupInstanceId: nil, subscription: subscription)
        #expect(member == GroupMemberSubscription(
            memberId: "m", topics: ["x"], ownedPartitions: [atp("x", 5), atp("x", 1)], generationId: 2))
    }

    @Test("bytes that are not a subscription are rejected")
    func badMetadata() {
        #expect(throws: KafkaWireError.self) {
            try GroupMemberSubscription(memberId: "m", groupInstanceId: nil, metadata: ByteBuffer(bytes: [0, 1, 0]))
        }
    }
}
