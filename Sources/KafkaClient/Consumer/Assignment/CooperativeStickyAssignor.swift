import NIOCore

/// A balanced assignment that moves as few partitions as it can, handed over with the cooperative protocol
/// (KIP-429): the Java client's `CooperativeStickyAssignor` (name `cooperative-sticky`). This is the default
/// assignor of the consumer.
///
/// The assignment is:
/// - **balanced**: when all members subscribe to the same topics, each gets `⌊N/M⌋` or `⌈N/M⌉` of the `N`
///   partitions. When subscriptions differ, the partition counts are as even as the subscriptions allow (no
///   member could take over a partition, directly or through a chain of exchanges, from a member that has at
///   least two more), and a member never gets a partition of a topic it does not subscribe to.
/// - **sticky**: members keep as many of the partitions they own as balance allows.
/// - **cooperative**: a partition that changes owner is not given to its new owner while its previous owner is
///   still in the group. The previous owner sees the partition missing from its assignment, revokes it and asks
///   for another rebalance, in which the partition goes to its new owner. No partition is ever owned by two
///   members at once, and the group settles in two rebalances.
///
/// Owned partitions are trusted only from members of the latest generation: a member that reports an older
/// generation than another member has missed a rebalance, and its claims are discarded (they still count as
/// owned for the cooperative rule above, since that member may still be consuming them). When two members of
/// the latest generation claim the same partition, the first of them in member order (static members by
/// `group.instance.id`, then dynamic members by member id, as ``RangeAssignor`` orders them) keeps it. When no
/// member reports a generation, every claim is trusted.
///
/// A subscription of consumer protocol v0 or v1 has no generation field; the Java client's cooperative-sticky
/// members then carry it in their user data, as a single big-endian `int32`, which this assignor reads when the
/// field is missing. It writes the same user data, so that leaders which only read it (Java clients before the
/// generation field) still weigh this member's claims by generation.
public struct CooperativeStickyAssignor: ConsumerPartitionAssignor {
    /// Creates the assignor.
    public init() {}

    /// `cooperative-sticky`.
    public var name: String { "cooperative-sticky" }

    /// Cooperative: members keep the partitions that do not move.
    public var rebalanceProtocol: RebalanceProtocol { .cooperative }

    /// The generation as a big-endian `int32`, as the Java client's cooperative-sticky members send it.
    public func subscriptionUserData(topics: Set<String>, ownedPartitions: [TopicPartition], generationId: Int32) -> ByteBuffer? {
        var buffer = ByteBuffer()
        buffer.writeInteger(generationId)
        return buffer
    }

    /// The balanced, sticky assignment, without the partitions that must first be revoked by another member.
    public func assign(members: [GroupMemberSubscription], partitionCounts: [String: Int32]) -> [String: [TopicPartition]] {
        let ordered = GroupMemberSubscription.inAssignmentOrder(members)
        let problem = StickyAssignmentProblem(members: ordered, partitionCounts: partitionCounts)
        let target = problem.balancedAssignment()
        let handedOver = problem.withholdingPartitionsStillOwnedElsewhere(target)
        var assignment = [String: [TopicPartition]](minimumCapacity: ordered.count)
        for (index, member) in ordered.enumerated() {
            assignment[member.memberId] = handedOver[index].map(problem.topicPartition)
        }
        return assignment
    }

    /// The generation a member owned its partitions in: the subscription's, or, when the member did not send one,
    /// the 4-byte big-endian user data the Java client's cooperative-sticky members send; -1 when unknown.
    static func effectiveGeneration(of member: GroupMemberSubscription) -> Int32 {
        if member.generationId >= 0 { return member.generationId }
        if let userData = member.userData, userData.readableBytes == 4,
            let generation = userData.getInteger(at: userData.readerIndex, as: Int32.self)
        {
            return generation
        }
        return -1
    }
}

/// The group reduced to integers: members are indices in assignment order, partitions indices in (topic,
/// partition) order, topics indices in Java's string order. Only topics that some member subscribes to and that
/// exist are present.
struct StickyAssignmentProblem {
    let memberCount: Int
    let topicNames: [String]
    /// First partition index of each topic; `topicStart[topicNames.count]` is the partition count.
    let topicStart: [Int]
    /// Topic index of each partition.
    let partitionTopic: [Int]
    /// Members subscribed to each topic, ascending.
    let subscribers: [[Int]]
    /// Topics each member subscribes to, ascending.
    let memberTopics: [[Int]]
    /// The member whose claim on each partition is trusted (latest generation, subscribed, first claimant), or -1.
    let validOwner: [Int]
    /// Every member that claims each partition, whatever its generation or subscription.
    let claimants: [[Int]]

    var partitionCount: Int { partitionTopic.count }

    init(members: [GroupMemberSubscription], partitionCounts: [String: Int32]) {
        memberCount = members.count
        let topics = AssignableTopics(members: members, partitionCounts: partitionCounts).topics
        topicNames = topics.map(\.name)
        var topicIndex: [String: Int] = [:]
        var starts: [Int] = [0]
        var partitionTopic: [Int] = []
        for (index, topic) in topics.enumerated() {
            topicIndex[topic.name] = index
            partitionTopic.append(contentsOf: repeatElement(index, count: Int(topic.partitionCount)))
            starts.append(partitionTopic.count)
        }
        topicStart = starts
        self.partitionTopic = partitionTopic

        var subscribers = [[Int]](repeating: [], count: topics.count)
        var memberTopics = [[Int]](repeating: [], count: members.count)
        for (member, subscription) in members.enumerated() {
            memberTopics[member] = subscription.topics.compactMap { topicIndex[$0] }.sorted()
            for topic in memberTopics[member] {
                subscribers[topic].append(member)
            }
        }
        self.subscribers = subscribers
        self.memberTopics = memberTopics

        let generations = members.map(CooperativeStickyAssignor.effectiveGeneration(of:))
        let latestGeneration = generations.max() ?? -1
        var validOwner = [Int](repeating: -1, count: partitionTopic.count)
        var claimants = [[Int]](repeating: [], count: partitionTopic.count)
        for (member, subscription) in members.enumerated() {
            let subscribed = Set(memberTopics[member])
            for claim in subscription.ownedPartitions {
                guard let topic = topicIndex[claim.topic], claim.partition >= 0,
                    Int(claim.partition) < starts[topic + 1] - starts[topic]
                else { continue }
                let partition = starts[topic] + Int(claim.partition)
                if !claimants[partition].contains(member) {
                    claimants[partition].append(member)
                }
                if validOwner[partition] == -1, generations[member] == latestGeneration, subscribed.contains(topic) {
                    validOwner[partition] = member
                }
            }
        }
        self.validOwner = validOwner
        self.claimants = claimants
    }

    func topicPartition(_ partition: Int) -> TopicPartition {
        let topic = partitionTopic[partition]
        return TopicPartition(topic: topicNames[topic], partition: Int32(partition - topicStart[topic]))
    }

    /// Whether every member subscribes to the same (existing) topics.
    var subscriptionsAreIdentical: Bool {
        memberTopics.allSatisfy { $0 == memberTopics.first }
    }

    /// The balanced, sticky target assignment: partition indices per member, ascending.
    func balancedAssignment() -> [[Int]] {
        guard memberCount > 0 else { return [] }
        return subscriptionsAreIdentical ? quotaAssignment() : pathBalancedAssignment()
    }

    /// For identical subscriptions: each member keeps its owned partitions up to its quota (`⌊N/M⌋`, or
    /// `⌈N/M⌉` for `N % M` of them), and the rest fill the members below quota.
    func quotaAssignment() -> [[Int]] {
        let minimumQuota = partitionCount / memberCount
        var extraSlots = partitionCount % memberCount
        var assignment = [[Int]](repeating: [], count: memberCount)
        for partition in 0..<partitionCount where validOwner[partition] >= 0 {
            assignment[validOwner[partition]].append(partition)
        }
        var taken = [Bool](repeating: false, count: partitionCount)
        for member in 0..<memberCount {
            var keep = assignment[member].count
            if keep > minimumQuota {
                if extraSlots > 0 {
                    keep = minimumQuota + 1
                    extraSlots -= 1
                } else {
                    keep = minimumQuota
                }
            }
            assignment[member].removeLast(assignment[member].count - keep)
            for partition in assignment[member] {
                taken[partition] = true
            }
        }
        let free = (0..<partitionCount).filter { !taken[$0] }
        var next = 0
        for member in 0..<memberCount where assignment[member].count < minimumQuota {
            let needed = minimumQuota - assignment[member].count
            assignment[member].append(contentsOf: free[next..<(next + needed)])
            next += needed
        }
        for member in 0..<memberCount where next < free.count && extraSlots > 0 && assignment[member].count == minimumQuota {
            assignment[member].append(free[next])
            next += 1
            extraSlots -= 1
        }
        assert(next == free.count, "every partition is assigned")
        return assignment.map { $0.sorted() }
    }

    /// For differing subscriptions: members keep their owned partitions, the others go to the least-loaded
    /// subscriber, then partitions shift along chains of members while a member has at least two more than
    /// another it can reach (a chain moves one partition per link, so only the two ends change counts). When
    /// no such chain is left the counts are as even as the subscriptions allow (an optimal "semi-matching").
    /// Of the chains available, the one that moves the fewest owned partitions is taken, so that partitions
    /// already moving in this round move again before owned ones do.
    func pathBalancedAssignment() -> [[Int]] {
        let topicCount = topicNames.count
        var owner = validOwner
        var load = [Int](repeating: 0, count: memberCount)
        var held = [[Int]](repeating: [Int](repeating: 0, count: topicCount), count: memberCount)
        // Partitions a member holds that it did not own: moving them on costs no extra movement.
        var heldMoving = held

        func place(_ partition: Int, on member: Int) {
            let topic = partitionTopic[partition]
            owner[partition] = member
            load[member] += 1
            held[member][topic] += 1
            if validOwner[partition] != member { heldMoving[member][topic] += 1 }
        }
        func remove(_ partition: Int) {
            let member = owner[partition]
            let topic = partitionTopic[partition]
            load[member] -= 1
            held[member][topic] -= 1
            if validOwner[partition] != member { heldMoving[member][topic] -= 1 }
            owner[partition] = -1
        }

        for partition in 0..<partitionCount where validOwner[partition] >= 0 {
            owner[partition] = -1
            place(partition, on: validOwner[partition])
        }
        // Partitions with the fewest possible owners first, each to its least-loaded subscriber.
        let unowned = (0..<partitionCount).filter { owner[$0] < 0 }.sorted {
            let left = subscribers[partitionTopic[$0]].count
            let right = subscribers[partitionTopic[$1]].count
            return left != right ? left < right : $0 < $1
        }
        for partition in unowned {
            let candidates = subscribers[partitionTopic[partition]]
            let member = candidates.min { load[$0] != load[$1] ? load[$0] < load[$1] : $0 < $1 }!
            place(partition, on: member)
        }

        // Each shift lowers the sum of squared loads by at least 2, so this ends; the bound is a safeguard.
        let maximumShifts = partitionCount * partitionCount + 1
        for _ in 0..<maximumShifts {
            guard let chain = cheapestBalancingChain(load: load, held: held, heldMoving: heldMoving) else { break }
            // Walk from the receiving end back, so that each member gives a partition before it gets one.
            for link in chain.reversed() {
                let range = topicStart[link.topic]..<topicStart[link.topic + 1]
                let partition =
                    range.first { owner[$0] == link.from && validOwner[$0] != link.from }
                    ?? range.first { owner[$0] == link.from }!
                remove(partition)
                place(partition, on: link.to)
            }
        }

        var assignment = [[Int]](repeating: [], count: memberCount)
        for partition in 0..<partitionCount where owner[partition] >= 0 {
            assignment[owner[partition]].append(partition)
        }
        return assignment
    }

    struct Link {
        var from: Int
        var to: Int
        var topic: Int
    }

    /// The chain of single-partition moves, from a member with load `L` to one with load at most `L - 2`, that
    /// moves the fewest partitions away from their owners; among those, from the most loaded member, to the
    /// least loaded, first in member order. `nil` when there is none (the loads are balanced).
    func cheapestBalancingChain(load: [Int], held: [[Int]], heldMoving: [[Int]]) -> [Link]? {
        guard let lowest = load.min() else { return nil }
        let levels = Set(load).sorted(by: >)
        var best: (cost: Int, chain: [Link])?
        for level in levels {
            guard level - 2 >= lowest else { break }
            // 0-1 breadth-first search from every member at `level` at once.
            let unreached = Int.max
            var cost = [Int](repeating: unreached, count: memberCount)
            var parent = [Link?](repeating: nil, count: memberCount)
            var deque = Deque01()
            for member in 0..<memberCount where load[member] == level {
                cost[member] = 0
                deque.pushFront(member)
            }
            // The lowest cost at which each topic's subscribers were offered a partition of it: offering them one
            // again at that cost or more cannot reach anyone cheaper, so each topic is expanded only a few times.
            var topicReached = [Int](repeating: unreached, count: topicNames.count)
            while let member = deque.popFront() {
                for topic in memberTopics[member] where held[member][topic] > 0 {
                    let step = heldMoving[member][topic] > 0 ? 0 : 1
                    let reached = cost[member] + step
                    guard reached < topicReached[topic] else { continue }
                    topicReached[topic] = reached
                    for next in subscribers[topic] where next != member && reached < cost[next] {
                        cost[next] = reached
                        parent[next] = Link(from: member, to: next, topic: topic)
                        if step == 0 { deque.pushFront(next) } else { deque.pushBack(next) }
                    }
                }
            }
            var target: Int?
            for member in 0..<memberCount where load[member] <= level - 2 && cost[member] != unreached {
                guard let current = target else {
                    target = member
                    continue
                }
                if (cost[member], load[member]) < (cost[current], load[current]) {
                    target = member
                }
            }
            guard let target, best.map({ cost[target] < $0.cost }) ?? true else { continue }
            var chain: [Link] = []
            var member = target
            while let link = parent[member], chain.count < memberCount {
                chain.append(link)
                member = link.from
            }
            best = (cost[target], chain.reversed())
            if cost[target] == 0 { break }
        }
        return best?.chain
    }

    /// The cooperative rule: a partition given to a member that does not claim it, while another member still
    /// claims it, is held back this round; its claimant revokes it and the follow-up rebalance hands it over.
    func withholdingPartitionsStillOwnedElsewhere(_ assignment: [[Int]]) -> [[Int]] {
        assignment.enumerated().map { member, partitions in
            partitions.filter { partition in
                claimants[partition].isEmpty || claimants[partition].contains(member)
            }
        }
    }
}

/// A double-ended queue of member indices for a 0-1 breadth-first search.
private struct Deque01 {
    private var front: [Int] = []  // reversed: the last element is the head
    private var back: [Int] = []
    private var backHead = 0

    mutating func pushFront(_ value: Int) { front.append(value) }
    mutating func pushBack(_ value: Int) { back.append(value) }

    mutating func popFront() -> Int? {
        if let value = front.popLast() { return value }
        guard backHead < back.count else { return nil }
        defer { backHead += 1 }
        return back[backHead]
    }
}
