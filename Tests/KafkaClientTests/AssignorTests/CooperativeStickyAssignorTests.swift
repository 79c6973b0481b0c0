import KafkaClient
import NIOCore
import Testing

@Suite("Assignor: cooperative-sticky")
struct CooperativeStickyAssignorTests {
    let assignor = CooperativeStickyAssignor()

    @Test("advertises Java's name and the cooperative protocol")
    func identity() {
        #expect(assignor.name == "cooperative-sticky")
        #expect(assignor.rebalanceProtocol == .cooperative)
    }

    @Test("the subscription's user data is the generation as a big-endian int32, as Java's members send it")
    func userDataCarriesGeneration() {
        #expect(assignor.subscriptionUserData(topics: ["t"], ownedPartitions: [atp("t", 0)], generationId: 7)
            == ByteBuffer(bytes: [0, 0, 0, 7]))
        #expect(assignor.subscriptionUserData(topics: ["t"], ownedPartitions: [], generationId: -1)
            == ByteBuffer(bytes: [0xff, 0xff, 0xff, 0xff]))
    }

    // MARK: Balance

    @Test("identical subscriptions, fresh group: everything assigned at once, ⌊N/M⌋ or ⌈N/M⌉ each")
    func freshIdenticalGroupsAreBalanced() {
        var random = AssignorRandom(seed: 0xBA1A_0001)
        for _ in 0..<300 {
            let scenario = AssignorScenario.random(using: &random, maxMembers: 12, maxPartitions: 15, identicalSubscriptions: true)
            let assignment = assignor.assign(members: scenario.members, partitionCounts: scenario.partitionCounts)
            expectWellFormedAssignment(assignment, members: scenario.members, partitionCounts: scenario.partitionCounts, "\(scenario)")
            expectQuotaBalanced(assignment, total: scenario.assignablePartitions.count, "\(scenario)")
        }
    }

    @Test("different subscriptions, fresh group: no partition can move to a member with two fewer")
    func freshDifferentGroupsAreLocallyBalanced() {
        var random = AssignorRandom(seed: 0xBA1A_0002)
        for _ in 0..<300 {
            let scenario = AssignorScenario.random(using: &random, maxMembers: 10, maxTopics: 8, maxPartitions: 12)
            let assignment = assignor.assign(members: scenario.members, partitionCounts: scenario.partitionCounts)
            expectWellFormedAssignment(assignment, members: scenario.members, partitionCounts: scenario.partitionCounts, "\(scenario)")
            #expect(Set(assignment.values.joined()) == scenario.assignablePartitions, "\(scenario)")
            expectNoSingleMoveImproves(assignment, members: scenario.members, "\(scenario)")
        }
    }

    @Test("different subscriptions: as balanced as the subscriptions allow (exhaustive search on small groups)")
    func differentSubscriptionsMatchExhaustiveOptimum() {
        var random = AssignorRandom(seed: 0xBA1A_0003)
        var checked = 0
        for _ in 0..<400 {
            let scenario = AssignorScenario.random(using: &random, maxMembers: 4, maxTopics: 4, maxPartitions: 3)
            guard let optimum = exhaustiveOptimum(scenario) else { continue }
            let assignment = assignor.assign(members: scenario.members, partitionCounts: scenario.partitionCounts)
            #expect(squaredLoads(assignment) == optimum.squaredLoads, "\(scenario) -> \(assignment)")
            #expect(assignment.values.map(\.count).max() == optimum.maximumLoad, "\(scenario) -> \(assignment)")
            checked += 1
        }
        #expect(checked >= 300)
    }

    @Test("the Java documentation's uneven example gets the only balanced answer")
    func javaDocumentationUnevenExample() {
        let members = [
            assignorMember("C0", ["t0"]),
            assignorMember("C1", ["t0", "t1"]),
            assignorMember("C2", ["t0", "t1", "t2"]),
        ]
        let counts: [String: Int32] = ["t0": 1, "t1": 2, "t2": 3]
        let first = assignor.assign(members: members, partitionCounts: counts)
        #expect(first == [
            "C0": [atp("t0", 0)],
            "C1": [atp("t1", 0), atp("t1", 1)],
            "C2": [atp("t2", 0), atp("t2", 1), atp("t2", 2)],
        ])
        // C0 leaves: its partition goes to C1, nothing else moves.
        let remaining = withOwnership(Array(members.dropFirst()), first, generation: 1)
        #expect(assignor.assign(members: remaining, partitionCounts: counts) == [
            "C1": [atp("t0", 0), atp("t1", 0), atp("t1", 1)],
            "C2": [atp("t2", 0), atp("t2", 1), atp("t2", 2)],
        ])
    }

    @Test("a member is never given a topic it does not subscribe to, even to balance")
    func neverAssignsUnsubscribedTopics() {
        let members = [assignorMember("A", ["big"]), assignorMember("B", ["small"]), assignorMember("C", ["small"])]
        let assignment = assignor.assign(members: members, partitionCounts: ["big": 9, "small": 1])
        #expect(assignment["A"]?.count == 9)
        #expect(assignment["B"]!.count + assignment["C"]!.count == 1)
    }

    // MARK: Stickiness

    @Test("an assignment fed back as owned partitions is kept as it is")
    func fixedPoint() {
        var random = AssignorRandom(seed: 0x5717_0001)
        for index in 0..<300 {
            let scenario = AssignorScenario.random(using: &random, maxMembers: 10, maxTopics: 6, maxPartitions: 12,
                                                   identicalSubscriptions: index.isMultiple(of: 2))
            let first = assignor.assign(members: scenario.members, partitionCounts: scenario.partitionCounts)
            let again = assignor.assign(members: withOwnership(scenario.members, first, generation: 7),
                                        partitionCounts: scenario.partitionCounts)
            #expect(again == first, "\(scenario)")
        }
    }

    @Test("different subscriptions: moves the fewest owned partitions a balanced result allows (exhaustive search on small groups)")
    func differentSubscriptionsMoveTheFewest() {
        var random = AssignorRandom(seed: 0x5717_0004)
        var checked = 0
        for _ in 0..<400 {
            let scenario = AssignorScenario.random(using: &random, maxMembers: 4, maxTopics: 4, maxPartitions: 3, missingTopics: false)
            // A random earlier ownership, every claim valid, some partitions unowned.
            var earlier = Dictionary(uniqueKeysWithValues: scenario.members.map { ($0.memberId, [TopicPartition]()) })
            for partition in scenario.assignablePartitions.sorted(by: { ($0.topic, $0.partition) < ($1.topic, $1.partition) })
            where random.chance(0.8) {
                let candidates = scenario.members.filter { $0.topics.contains(partition.topic) }
                earlier[candidates[random.int(0...(candidates.count - 1))].memberId]!.append(partition)
            }
            guard let optimum = exhaustiveOptimum(scenario, earlier: earlier) else { continue }
            let group = withOwnership(scenario.members, earlier, generation: 3)
            let rounds = simulateCooperativeRebalances(assignor, members: group, partitionCounts: scenario.partitionCounts)
            let settled = rounds.last!.assignment
            let previousOwners = assignmentOwners(earlier)
            let moved = assignmentOwners(settled).filter { entry in previousOwners[entry.key].map { $0 != entry.value } ?? false }
            #expect(squaredLoads(settled) == optimum.squaredLoads, "\(scenario) from \(earlier) -> \(settled)")
            #expect(moved.count == optimum.fewestMoves, "\(scenario) from \(earlier) -> \(settled)")
            checked += 1
        }
        #expect(checked >= 300)
    }

    @Test("a member joins a balanced group: only the minimum number of partitions move, all to it, within two rounds")
    func memberJoins() {
        var random = AssignorRandom(seed: 0x5717_0002)
        for _ in 0..<200 {
            let memberCount = random.int(1...8)
            let partitionCount = Int32(random.int(0...40))
            let counts = ["t": partitionCount]
            let members = (0..<memberCount).map { assignorMember("m\($0)", ["t"]) }
            let before = assignor.assign(members: members, partitionCounts: counts)
            let joiner = assignorMember("m-new-\(random.int(0...99))", ["t"], instance: random.chance(0.3) ? "joiner" : nil)
            let group = withOwnership(members, before, generation: 5) + [joiner]

            let rounds = simulateCooperativeRebalances(assignor, members: group, partitionCounts: counts)
            let final = rounds.last!.assignment
            let context = "\(memberCount) members, \(partitionCount) partitions"
            #expect(rounds.count <= 3, "did not settle after two rounds: \(context)")
            #expect(final == rounds[min(1, rounds.count - 1)].assignment, "\(context)")
            expectQuotaBalanced(final, total: Int(partitionCount), context)

            let previousOwners = assignmentOwners(before)
            let moved = assignmentOwners(final).filter { previousOwners[$0.key] != $0.value }
            #expect(moved.count == minimumMovesForQuotas(before.values.map(\.count) + [0], total: Int(partitionCount)), "\(context)")
            #expect(moved.allSatisfy { $0.value == joiner.memberId }, "\(context): \(moved)")
            // The first round hands the joiner nothing that someone else still owns.
            #expect(rounds[0].assignment[joiner.memberId] == [], "\(context)")
        }
    }

    @Test("a member leaves a balanced group: only its partitions move, in one round")
    func memberLeaves() {
        var random = AssignorRandom(seed: 0x5717_0003)
        for _ in 0..<200 {
            let memberCount = random.int(2...9)
            let partitionCount = Int32(random.int(0...40))
            let counts = ["a": partitionCount, "b": Int32(random.int(0...5))]
            let members = (0..<memberCount).map { assignorMember("m\($0)", ["a", "b"]) }
            let before = assignor.assign(members: members, partitionCounts: counts)
            let leaver = members[random.int(0...(memberCount - 1))].memberId
            let group = withOwnership(members.filter { $0.memberId != leaver }, before, generation: 9)

            let after = assignor.assign(members: group, partitionCounts: counts)
            let context = "\(memberCount) members, counts \(counts), \(leaver) leaves"
            expectQuotaBalanced(after, total: Int(counts.values.reduce(0, +)), context)
            for remaining in group {
                #expect(Set(after[remaining.memberId]!).isSuperset(of: before[remaining.memberId]!), "\(context)")
            }
            // Nothing was withheld: the departed member claims nothing any more.
            #expect(after.values.map(\.count).reduce(0, +) == Int(counts.values.reduce(0, +)), "\(context)")
        }
    }

    @Test("the Java documentation's sticky example: C1 leaves, C0 and C2 keep all they had")
    func javaDocumentationStickyExample() {
        let topics: Set<String> = ["t0", "t1", "t2", "t3"]
        let counts: [String: Int32] = ["t0": 2, "t1": 2, "t2": 2, "t3": 2]
        let previous: [String: [TopicPartition]] = [
            "C0": [atp("t0", 0), atp("t1", 1), atp("t3", 0)],
            "C1": [atp("t0", 1), atp("t2", 0), atp("t3", 1)],
            "C2": [atp("t1", 0), atp("t2", 1)],
        ]
        let group = withOwnership([assignorMember("C0", topics), assignorMember("C2", topics)], previous, generation: 1)
        let assignment = assignor.assign(members: group, partitionCounts: counts)
        #expect(assignment["C0"]!.count == 4)
        #expect(assignment["C2"]!.count == 4)
        #expect(Set(assignment["C0"]!).isSuperset(of: previous["C0"]!))
        #expect(Set(assignment["C2"]!).isSuperset(of: previous["C2"]!))
    }

    @Test("members over their quota keep a quota's worth of what they own")
    func overQuotaOwnersKeepAQuota() {
        // One member owned everything; two join.
        let all = allPartitions([("t", 7)])
        let group = [
            assignorMember("a", ["t"], owned: all, generation: 2),
            assignorMember("b", ["t"], generation: 2),
            assignorMember("c", ["t"], generation: 2),
        ]
        let rounds = simulateCooperativeRebalances(assignor, members: group, partitionCounts: ["t": 7])
        // Round one: "a" keeps three, the four it gives up are held back until it has revoked them.
        #expect(rounds[0].assignment["a"]!.count == 3)
        #expect(Set(all).isSuperset(of: rounds[0].assignment["a"]!))
        #expect(rounds[0].assignment["b"] == [] && rounds[0].assignment["c"] == [])
        #expect(rounds.count == 3)
        #expect(rounds[1].assignment["a"] == rounds[0].assignment["a"])
        #expect(rounds[1].assignment.values.map(\.count).sorted() == [2, 2, 3])
    }

    // MARK: Cooperative hand-over

    @Test("changing groups: no partition is given while another member owns it; settled and balanced after two rounds")
    func cooperativeRebalancesOfChangingGroups() {
        var random = AssignorRandom(seed: 0xC00B_0001)
        var withheldSomething = 0
        for index in 0..<300 {
            let identical = index.isMultiple(of: 3)
            let start = AssignorScenario.random(using: &random, maxMembers: 8, maxTopics: 5, maxPartitions: 10,
                                                identicalSubscriptions: identical, missingTopics: false)
            let previous = assignor.assign(members: start.members, partitionCounts: start.partitionCounts)
            var group = withOwnership(start.members, previous, generation: 4)
            var counts = start.partitionCounts
            // Members leave and join, subscriptions change, topics grow.
            group = group.filter { _ in random.chance(0.8) }
            for joiner in 0..<random.int(0...3) {
                let topics = identical ? (start.members.first?.topics ?? []) : Set(counts.keys.filter { _ in random.chance(0.5) })
                group.append(assignorMember("joiner-\(joiner)", topics, generation: -1))
            }
            if !identical {
                for position in group.indices where random.chance(0.2) {
                    group[position].topics = Set(counts.keys.filter { _ in random.chance(0.5) })
                }
            }
            for topic in counts.keys.sorted() where random.chance(0.2) {
                counts[topic]! += Int32(random.int(1...3))
            }
            guard !group.isEmpty else { continue }

            let rounds = simulateCooperativeRebalances(assignor, members: group, partitionCounts: counts)
            let context = "case \(index): \(group.map { "\($0.memberId):\($0.topics.sorted()) owns \($0.ownedPartitions)" }) \(counts)"
            #expect(rounds.count <= 3, "not settled after two rounds: \(context)")
            let settled = rounds[min(1, rounds.count - 1)].assignment
            #expect(rounds.last!.assignment == settled, "\(context)")
            let assignable = AssignorScenario(members: group, partitionCounts: counts).assignablePartitions
            #expect(Set(settled.values.joined()) == assignable, "\(context)")
            // As balanced as a fresh assignment of the same group.
            let fresh = assignor.assign(members: group.map { assignorMember($0.memberId, $0.topics) }, partitionCounts: counts)
            #expect(squaredLoads(settled) == squaredLoads(fresh), "\(context)")
            if rounds.count == 3 { withheldSomething += 1 }
        }
        #expect(withheldSomething > 50)
    }

    @Test("members that missed rebalances (stale generations) still never cause a partition to have two owners")
    func staleMembersInSimulation() {
        var random = AssignorRandom(seed: 0xC00B_0002)
        for index in 0..<200 {
            let scenario = AssignorScenario.random(using: &random, maxMembers: 6, maxTopics: 4, maxPartitions: 8,
                                                   identicalSubscriptions: index.isMultiple(of: 2), missingTopics: false)
            let current = assignor.assign(members: scenario.members, partitionCounts: scenario.partitionCounts)
            var group = withOwnership(scenario.members, current, generation: 10)
            // A member that missed a rebalance still claims what it had two generations ago (someone else's now).
            let old = RangeAssignor().assign(members: scenario.members, partitionCounts: scenario.partitionCounts)
            let stale = random.int(0...(group.count - 1))
            group[stale].ownedPartitions = old[group[stale].memberId] ?? []
            group[stale].generationId = 8

            let rounds = simulateCooperativeRebalances(assignor, members: group, partitionCounts: scenario.partitionCounts)
            #expect(rounds.count <= 3, "\(scenario)")
            let settled = rounds[min(1, rounds.count - 1)].assignment
            #expect(Set(settled.values.joined()) == scenario.assignablePartitions, "\(scenario)")
            // Claims of the latest generation win over the stale member's: those members keep all they own.
            for member in group where member.generationId == 10 {
                #expect(Set(rounds[0].assignment[member.memberId] ?? []).isSuperset(of: member.ownedPartitions), "\(scenario)")
            }
        }
    }

    @Test("a partition moving to another member is held back until its owner has revoked it")
    func transferTakesTwoRounds() {
        // "b" joins; "a" must give up half.
        let group = [
            assignorMember("a", ["t"], owned: allPartitions([("t", 4)]), generation: 1),
            assignorMember("b", ["t"], generation: -1),
        ]
        let first = assignor.assign(members: group, partitionCounts: ["t": 4])
        #expect(first == ["a": [atp("t", 0), atp("t", 1)], "b": []])
        let second = assignor.assign(members: withOwnership(group, first, generation: 2), partitionCounts: ["t": 4])
        #expect(second == ["a": [atp("t", 0), atp("t", 1)], "b": [atp("t", 2), atp("t", 3)]])
    }

    @Test("new partitions nobody owns are assigned in the first round")
    func unownedPartitionsGoAtOnce() {
        let group = [
            assignorMember("a", ["t"], owned: [atp("t", 0)], generation: 3),
            assignorMember("b", ["t"], owned: [atp("t", 1)], generation: 3),
        ]
        let assignment = assignor.assign(members: group, partitionCounts: ["t": 4])
        #expect(assignment.values.map(\.count) == [2, 2])
        #expect(assignment["a"]!.contains(atp("t", 0)) && assignment["b"]!.contains(atp("t", 1)))
    }

    // MARK: Owned-partition claims

    @Test("claims from a generation older than the latest are discarded")
    func staleClaimsAreDiscarded() {
        // "a-stale" comes first in member order: if its claims counted it would keep t-0...t-3.
        let group = [
            assignorMember("a-stale", ["t"], owned: allPartitions([("t", 4)]), generation: 4),
            assignorMember("b", ["t"], owned: [atp("t", 0), atp("t", 1)], generation: 5),
            assignorMember("c", ["t"], owned: [atp("t", 2), atp("t", 3)], generation: 5),
        ]
        #expect(assignor.assign(members: group, partitionCounts: ["t": 6]) == [
            "a-stale": [atp("t", 4), atp("t", 5)],
            "b": [atp("t", 0), atp("t", 1)],
            "c": [atp("t", 2), atp("t", 3)],
        ])
    }

    @Test("a stale claim is not trusted, but the partition still waits for the stale member to revoke it")
    func staleClaimStillBlocksTransfer() {
        let group = [
            assignorMember("a", ["t"], owned: allPartitions([("t", 4)]), generation: 3),
            assignorMember("b", ["t"], generation: 7),
            assignorMember("c", ["t"], generation: 7),
        ]
        let rounds = simulateCooperativeRebalances(assignor, members: group, partitionCounts: ["t": 4])
        // Fresh target: a gets two, b and c one each; theirs are still claimed by "a", so they wait a round.
        #expect(rounds[0].assignment == ["a": [atp("t", 0), atp("t", 3)], "b": [], "c": []])
        #expect(rounds.count == 3)
        #expect(rounds[1].assignment.values.map(\.count).sorted() == [1, 1, 2])
        #expect(rounds[1].assignment["a"] == [atp("t", 0), atp("t", 3)])
    }

    @Test("without any generation (protocol v0/v1) every claim counts; the Java client's 4-byte user data carries one")
    func generationFromUserData() {
        func userData(_ generation: Int32) -> ByteBuffer {
            var buffer = ByteBuffer()
            buffer.writeInteger(generation)
            return buffer
        }
        // All unknown: both claims are trusted.
        let unknown = [
            assignorMember("a", ["t"], owned: [atp("t", 0), atp("t", 1)]),
            assignorMember("b", ["t"], owned: [atp("t", 2), atp("t", 3)]),
        ]
        #expect(assignor.assign(members: unknown, partitionCounts: ["t": 4]) == [
            "a": [atp("t", 0), atp("t", 1)], "b": [atp("t", 2), atp("t", 3)],
        ])
        // "b" says generation 6 in its user data, "a" nothing: only "b"'s claims are trusted.
        var older = unknown
        older[0].ownedPartitions = [atp("t", 2), atp("t", 3)]
        older[1].ownedPartitions = [atp("t", 2), atp("t", 3)]
        older[1].userData = userData(6)
        #expect(assignor.assign(members: older, partitionCounts: ["t": 4]) == [
            "a": [atp("t", 0), atp("t", 1)], "b": [atp("t", 2), atp("t", 3)],
        ])
        // The subscription's own generation wins over user data: now "a" is the latest and "b" is stale.
        older[0].generationId = 9
        #expect(assignor.assign(members: older, partitionCounts: ["t": 4]) == [
            "a": [atp("t", 2), atp("t", 3)], "b": [atp("t", 0), atp("t", 1)],
        ])
    }

    @Test("two members claiming a partition in the same generation: the first in member order keeps it")
    func duplicateClaims() {
        let group = [
            assignorMember("b", ["t"], owned: [atp("t", 0), atp("t", 1)], generation: 5),
            assignorMember("a", ["t"], owned: [atp("t", 0)], generation: 5),
        ]
        #expect(assignor.assign(members: group, partitionCounts: ["t": 2]) == ["a": [atp("t", 0)], "b": [atp("t", 1)]])
        #expect(assignor.assign(members: group.reversed(), partitionCounts: ["t": 2]) == ["a": [atp("t", 0)], "b": [atp("t", 1)]])

        // A static member comes before dynamic ones, whatever the ids.
        let withStatic = [
            assignorMember("a", ["t"], owned: [atp("t", 0)], generation: 5),
            assignorMember("z", ["t"], instance: "instance", owned: [atp("t", 0)], generation: 5),
        ]
        #expect(assignor.assign(members: withStatic, partitionCounts: ["t": 2]) == ["z": [atp("t", 0)], "a": [atp("t", 1)]])
    }

    @Test("duplicate claims: nobody else gets the partition while both still claim it")
    func duplicateClaimsNeverGoToAThirdMember() {
        let group = [
            assignorMember("a", ["t"], owned: [atp("t", 0), atp("t", 1), atp("t", 2)], generation: 5),
            assignorMember("b", ["t"], owned: [atp("t", 2)], generation: 5),
            assignorMember("c", ["t"], generation: 5),
        ]
        let rounds = simulateCooperativeRebalances(assignor, members: group, partitionCounts: ["t": 3])
        #expect(rounds.count <= 3)
        #expect(rounds.last!.assignment.values.map(\.count) == [1, 1, 1])
    }

    @Test("claims on partitions of topics the member dropped are not kept, and wait for revocation")
    func claimsOnUnsubscribedTopics() {
        let group = [
            assignorMember("a", ["x"], owned: [atp("x", 0), atp("y", 0), atp("y", 1)], generation: 2),
            assignorMember("b", ["y"], generation: 2),
        ]
        let rounds = simulateCooperativeRebalances(assignor, members: group, partitionCounts: ["x": 1, "y": 2])
        #expect(rounds[0].assignment == ["a": [atp("x", 0)], "b": []])
        #expect(rounds[1].assignment == ["a": [atp("x", 0)], "b": [atp("y", 0), atp("y", 1)]])
        #expect(rounds.count == 3)
    }

    @Test("claims on partitions or topics that no longer exist are ignored")
    func claimsOnMissingPartitions() {
        let group = [
            assignorMember("a", ["t", "gone"], owned: [atp("t", 0), atp("t", 7), atp("gone", 0), atp("t", -1)], generation: 2),
            assignorMember("b", ["t"], owned: [atp("t", 1)], generation: 2),
        ]
        #expect(assignor.assign(members: group, partitionCounts: ["t": 2]) == ["a": [atp("t", 0)], "b": [atp("t", 1)]])
    }

    // MARK: Larger groups

    @Test("larger groups stay well formed and balanced")
    func largerGroups() {
        // 60 members with the same subscription over 25 topics (1,250 partitions), then 10 join and 5 leave.
        let topics = Set((0..<25).map { "topic-\($0)" })
        let counts = Dictionary(uniqueKeysWithValues: topics.map { ($0, Int32(50)) })
        let members = (0..<60).map { assignorMember("member-\($0)", topics) }
        let first = assignor.assign(members: members, partitionCounts: counts)
        expectQuotaBalanced(first, total: 1250)
        let changed = withOwnership(Array(members.dropFirst(5)), first, generation: 1)
            + (60..<70).map { assignorMember("member-\($0)", topics) }
        let rounds = simulateCooperativeRebalances(assignor, members: changed, partitionCounts: counts)
        #expect(rounds.count == 3)
        expectQuotaBalanced(rounds[1].assignment, total: 1250)

        // 40 members each subscribed to a random half of 20 topics.
        var random = AssignorRandom(seed: 0x1A26_E001)
        let names = (0..<20).map { "t\($0)" }
        let mixedCounts = Dictionary(uniqueKeysWithValues: names.map { ($0, Int32(random.int(1...40))) })
        let mixed = (0..<40).map { index in assignorMember("m\(index)", Set(names.filter { _ in random.chance(0.5) })) }
        let fresh = assignor.assign(members: mixed, partitionCounts: mixedCounts)
        expectWellFormedAssignment(fresh, members: mixed, partitionCounts: mixedCounts)
        expectNoSingleMoveImproves(fresh, members: mixed)
        let again = withOwnership(Array(mixed.dropLast(3)), fresh, generation: 1)
        let settledRounds = simulateCooperativeRebalances(assignor, members: again, partitionCounts: mixedCounts)
        #expect(settledRounds.count <= 3)
        expectNoSingleMoveImproves(settledRounds.last!.assignment, members: Array(mixed.dropLast(3)))
    }
}

// MARK: - Checks

/// Every member has ⌊N/M⌋ or ⌈N/M⌉ partitions and all `total` are assigned.
private func expectQuotaBalanced(
    _ assignment: [String: [TopicPartition]], total: Int, _ context: @autoclosure () -> String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let counts = assignment.values.map(\.count)
    #expect(counts.reduce(0, +) == total, "\(context())", sourceLocation: sourceLocation)
    guard !counts.isEmpty else { return }
    let low = total / counts.count
    let high = low + (total % counts.count == 0 ? 0 : 1)
    #expect(counts.allSatisfy { $0 == low || $0 == high }, "\(counts) \(context())", sourceLocation: sourceLocation)
}

/// No partition sits with a member that has two or more partitions more than another subscriber of its topic.
private func expectNoSingleMoveImproves(
    _ assignment: [String: [TopicPartition]], members: [GroupMemberSubscription], _ context: @autoclosure () -> String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let counts = assignmentLoads(assignment)
    for (owner, partitions) in assignment {
        for partition in partitions {
            for other in members where other.topics.contains(partition.topic) && other.memberId != owner {
                #expect(counts[owner]! <= counts[other.memberId]! + 1,
                        "\(partition) could move from \(owner) to \(other.memberId) \(context())", sourceLocation: sourceLocation)
            }
        }
    }
}

/// The fewest partitions that must move when members owning `owned` counts are rebalanced to quotas (⌊N/M⌋, and
/// ⌈N/M⌉ for N % M of them): the extra slots go to the members that own the most.
private func minimumMovesForQuotas(_ owned: [Int], total: Int) -> Int {
    guard !owned.isEmpty else { return 0 }
    let low = total / owned.count
    let extra = total % owned.count
    let kept = owned.sorted(by: >).enumerated().reduce(0) { sum, entry in
        sum + min(entry.element, entry.offset < extra ? low + 1 : low)
    }
    return total - kept
}

/// By trying every assignment of the scenario's partitions to subscribed members: the smallest sum of squared
/// loads, the smallest largest load, and the fewest partitions taken from their `earlier` owners among the
/// assignments with that smallest sum. Nil when there are too many assignments to try.
private func exhaustiveOptimum(
    _ scenario: AssignorScenario, earlier: [String: [TopicPartition]] = [:]
) -> (squaredLoads: Int, maximumLoad: Int, fewestMoves: Int)? {
    let members = scenario.members
    let partitions = scenario.assignablePartitions.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    let choices = partitions.map { partition in members.indices.filter { members[$0].topics.contains(partition.topic) } }
    let combinations = choices.reduce(1) { $0 * max(1, $1.count) }
    guard combinations <= 50_000 else { return nil }
    let previousOwners = assignmentOwners(earlier)
    let earlierOwner = partitions.map { partition in previousOwners[partition].flatMap { id in members.firstIndex { $0.memberId == id } } }
    var best = (squaredLoads: Int.max, maximumLoad: Int.max, fewestMoves: Int.max)
    var load = [Int](repeating: 0, count: members.count)
    func visit(_ index: Int, moves: Int) {
        if index == partitions.count {
            let squares = load.reduce(0) { $0 + $1 * $1 }
            if squares < best.squaredLoads || (squares == best.squaredLoads && moves < best.fewestMoves) {
                best.fewestMoves = moves
            }
            best.squaredLoads = min(best.squaredLoads, squares)
            best.maximumLoad = min(best.maximumLoad, load.max() ?? 0)
            return
        }
        for member in choices[index] {
            load[member] += 1
            visit(index + 1, moves: moves + (earlierOwner[index].map { $0 != member ? 1 : 0 } ?? 0))
            load[member] -= 1
        }
    }
    visit(0, moves: 0)
    return best
}
