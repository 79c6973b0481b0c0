import KafkaClient
import KafkaProtocol
import NIOCore
import Testing

// MARK: - Building inputs

/// `topic-partition`, short.
func atp(_ topic: String, _ partition: Int32) -> TopicPartition {
    TopicPartition(topic: topic, partition: partition)
}

/// `t0p0 t0p1 ...`: every partition of the topics given as `(topic, count)`.
func allPartitions(_ topics: [(String, Int32)]) -> [TopicPartition] {
    topics.flatMap { topic, count in (0..<count).map { atp(topic, $0) } }
}

func assignorMember(
    _ id: String, _ topics: Set<String>, instance: String? = nil, owned: [TopicPartition] = [], generation: Int32 = -1
) -> GroupMemberSubscription {
    GroupMemberSubscription(memberId: id, groupInstanceId: instance, topics: topics, ownedPartitions: owned, generationId: generation)
}

/// A deterministic generator (``SplitMix64``), so that every property test sees the same scenarios on every run.
struct AssignorRandom: RandomNumberGenerator {
    private var source: SplitMix64

    init(seed: UInt64) { source = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { source.next() }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &self) < probability }
}

/// A group to assign: members (without owned partitions) and the cluster's partition counts.
struct AssignorScenario: CustomStringConvertible {
    var members: [GroupMemberSubscription]
    var partitionCounts: [String: Int32]

    var description: String {
        let members = members.map { "\($0.memberId)\($0.groupInstanceId.map { "(\($0))" } ?? ""):\($0.topics.sorted())" }
        return "members \(members) partitions \(partitionCounts.sorted { $0.key < $1.key })"
    }

    /// Every partition of every topic some member subscribes to and that exists.
    var assignablePartitions: Set<TopicPartition> {
        let subscribed = Set(members.flatMap(\.topics))
        return Set(partitionCounts.filter { subscribed.contains($0.key) }.flatMap { topic, count in
            (0..<count).map { atp(topic, $0) }
        })
    }

    /// Random members and topics. Topic names mix cases and digits so that ordering matters; some subscribed
    /// topics do not exist and some have no partitions.
    static func random(
        using random: inout AssignorRandom, maxMembers: Int = 8, maxTopics: Int = 6, maxPartitions: Int = 10,
        identicalSubscriptions: Bool = false, staticMembers: Bool = true, missingTopics: Bool = true
    ) -> AssignorScenario {
        let topicPool = ["t0", "t1", "t2", "t10", "T3", "a.b", "a_b", "a-b", "orders", "Orders", "z"]
        let topicCount = random.int(1...maxTopics)
        let topics = Array(topicPool.shuffled(using: &random).prefix(topicCount))
        var counts: [String: Int32] = [:]
        for topic in topics where !(missingTopics && random.chance(0.1)) {
            counts[topic] = Int32(random.int(random.chance(0.05) ? 0...0 : 1...maxPartitions))
        }
        let memberCount = random.int(1...maxMembers)
        let shared = Set(topics.filter { _ in random.chance(0.6) })
        var members: [GroupMemberSubscription] = []
        var usedIds = Set<String>()
        for index in 0..<memberCount {
            var id: String
            repeat {
                let prefix = ["consumer", "Consumer", "c", "app-1"][random.int(0...3)]
                id = "\(prefix)-\(random.int(0...99))-\(String(random.next() % 0xFFFF, radix: 16))"
            } while !usedIds.insert(id).inserted
            let instance = staticMembers && random.chance(0.3) ? "instance-\(index)-\(random.int(0...9))" : nil
            let subscription = identicalSubscriptions
                ? (shared.isEmpty ? Set([topics[0]]) : shared)
                : Set(topics.filter { _ in random.chance(0.5) })
            members.append(assignorMember(id, subscription, instance: instance))
        }
        return AssignorScenario(members: members, partitionCounts: counts)
    }
}

// MARK: - Checking outputs

/// Checks the invariants every assignor's result has: one entry per member, lists sorted by topic then partition,
/// no partition twice, only partitions of existing topics the member subscribes to.
func expectWellFormedAssignment(
    _ assignment: [String: [TopicPartition]], members: [GroupMemberSubscription], partitionCounts: [String: Int32],
    _ context: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(Set(assignment.keys) == Set(members.map(\.memberId)), "\(context())", sourceLocation: sourceLocation)
    var seen = Set<TopicPartition>()
    for subscription in members {
        let partitions = assignment[subscription.memberId] ?? []
        let sorted = partitions.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
        #expect(partitions == sorted, "not sorted: \(partitions) \(context())", sourceLocation: sourceLocation)
        for partition in partitions {
            #expect(seen.insert(partition).inserted, "\(partition) assigned twice \(context())", sourceLocation: sourceLocation)
            #expect(subscription.topics.contains(partition.topic),
                    "\(partition) given to \(subscription.memberId), not subscribed \(context())", sourceLocation: sourceLocation)
            let count = partitionCounts[partition.topic] ?? 0
            #expect(partition.partition >= 0 && partition.partition < count,
                    "\(partition) does not exist \(context())", sourceLocation: sourceLocation)
        }
    }
}

/// Each member's partition count.
func assignmentLoads(_ assignment: [String: [TopicPartition]]) -> [String: Int] {
    assignment.mapValues(\.count)
}

/// Who owns each partition.
func assignmentOwners(_ assignment: [String: [TopicPartition]]) -> [TopicPartition: String] {
    var owners: [TopicPartition: String] = [:]
    for (member, partitions) in assignment {
        for partition in partitions { owners[partition] = member }
    }
    return owners
}

/// Sum of squared loads: the quantity a balanced assignment minimises (an optimal "semi-matching" minimises it and
/// the largest load at the same time).
func squaredLoads(_ assignment: [String: [TopicPartition]]) -> Int {
    assignment.values.reduce(0) { $0 + $1.count * $1.count }
}

// MARK: - Simulating cooperative rebalances

/// One rebalance of a simulated group.
struct RebalanceRound {
    /// What each member owned when it joined.
    var ownedBefore: [String: [TopicPartition]]
    /// What the leader assigned.
    var assignment: [String: [TopicPartition]]
}

/// Runs rebalances of a group with the cooperative protocol: each round, members report what they own (in
/// `generation`), the leader assigns, and each member then revokes what it lost and starts on what it gained.
/// Stops when an assignment leaves every member with what it already owns (nothing to revoke, nothing new), or
/// after `maxRounds`.
///
/// Checks on every round that no member is given a partition another member still owns when the round starts
/// (members apply their assignments independently, so a member may start on a new partition before its previous
/// owner has revoked it).
func simulateCooperativeRebalances(
    _ assignor: some ConsumerPartitionAssignor, members: [GroupMemberSubscription], partitionCounts: [String: Int32],
    maxRounds: Int = 4, sourceLocation: SourceLocation = #_sourceLocation
) -> [RebalanceRound] {
    var group = members
    var rounds: [RebalanceRound] = []
    for _ in 0..<maxRounds {
        let assignment = assignor.assign(members: group, partitionCounts: partitionCounts)
        expectWellFormedAssignment(assignment, members: group, partitionCounts: partitionCounts, "round \(rounds.count + 1)",
                         sourceLocation: sourceLocation)
        let ownedBefore = Dictionary(uniqueKeysWithValues: group.map { ($0.memberId, $0.ownedPartitions) })
        for subscription in group {
            let gained = Set(assignment[subscription.memberId] ?? []).subtracting(subscription.ownedPartitions)
            for other in group where other.memberId != subscription.memberId {
                let stillOwned = gained.intersection(other.ownedPartitions)
                #expect(stillOwned.isEmpty,
                        "round \(rounds.count + 1): \(subscription.memberId) given \(stillOwned) still owned by \(other.memberId)",
                        sourceLocation: sourceLocation)
            }
        }
        rounds.append(RebalanceRound(ownedBefore: ownedBefore, assignment: assignment))
        let settled = group.allSatisfy { Set(assignment[$0.memberId] ?? []) == Set($0.ownedPartitions) }
        if settled { break }
        let generation = (group.map(\.generationId).max() ?? 0) + 1
        for index in group.indices {
            group[index].ownedPartitions = assignment[group[index].memberId] ?? []
            group[index].generationId = generation
        }
    }
    return rounds
}

/// `members` with the given owned partitions, all in `generation`.
func withOwnership(
    _ members: [GroupMemberSubscription], _ assignment: [String: [TopicPartition]], generation: Int32
) -> [GroupMemberSubscription] {
    members.map { subscription in
        var subscription = subscription
        subscription.ownedPartitions = assignment[subscription.memberId] ?? []
        subscription.generationId = generation
        return subscription
    }
}
