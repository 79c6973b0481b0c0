@testable import KafkaClient
import Foundation
import KafkaProtocol
import NIOCore
import Testing

/// The membership state machine on its own: coordinator answers in, actions out, no sockets.
@Suite("Group membership as a state machine")
struct GroupMembershipTests {
    let p0 = TopicPartition(topic: "t", partition: 0)
    let p1 = TopicPartition(topic: "t", partition: 1)
    let p2 = TopicPartition(topic: "t", partition: 2)

    /// A member that joined generation `generation` and was given `partitions`.
    func member(_ protocol: RebalanceProtocol, owning partitions: Set<TopicPartition>, generation: Int32 = 1,
                instance: String? = nil) -> GroupMembership {
        var membership = GroupMembership(rebalanceProtocol: `protocol`, groupInstanceId: instance)
        _ = membership.beginJoin()
        membership.joinSent()
        _ = membership.joinAnswered(.none, memberId: "m-1", generationId: generation, leader: "m-1", protocolName: "range",
                                    skipAssignment: false)
        _ = membership.syncAnswered(.none, assigned: partitions, subscriptionChanged: false)
        return membership
    }

    @Test("a cooperative member left with no partitions heartbeats early (50 ms, doubling) to hear of the follow-up round")
    func earlyHeartbeatsWhileWaitingForPartitions() {
        let interval = TimeAmount.seconds(3)
        var waiting = member(.cooperative, owning: [])
        let delays = (0..<8).map { _ in waiting.nextHeartbeatDelay(interval: interval) }
        #expect(delays == [50, 100, 200, 400, 800, 1600, 3000, 3000].map { TimeAmount.milliseconds($0) })
        // Given partitions, it goes back to the interval at once.
        var served = member(.cooperative, owning: [])
        _ = served.nextHeartbeatDelay(interval: interval)
        _ = served.syncAnswered(.none, assigned: [p0], subscriptionChanged: false)
        #expect(served.nextHeartbeatDelay(interval: interval) == interval)
        // A member with partitions, and an eager one without, keep to the interval.
        var owning = member(.cooperative, owning: [p0, p1])
        #expect(owning.nextHeartbeatDelay(interval: interval) == interval)
        var eager = member(.eager, owning: [])
        #expect(eager.nextHeartbeatDelay(interval: interval) == interval)
    }

    @Test("a first join: MEMBER_ID_REQUIRED gives an id to join again with, then the member syncs as leader and takes its partitions")
    func firstJoin() {
        var membership = GroupMembership(rebalanceProtocol: .cooperative, groupInstanceId: nil)
        #expect(membership.shouldJoin(subscribed: true) && !membership.shouldJoin(subscribed: false))
        let (given, owned) = membership.beginJoin()
        #expect(given.isEmpty && owned.isEmpty)
        membership.joinSent()
        #expect(membership.phase == .joining)
        let (retry, _) = membership.joinAnswered(.memberIdRequired, memberId: "m-1", generationId: -1, leader: "",
                                                  protocolName: nil, skipAssignment: false)
        #expect(retry == .joinAgain(memberId: "m-1"))
        let (step, outcome) = membership.joinAnswered(.none, memberId: "m-1", generationId: 3, leader: "m-1",
                                                      protocolName: "cooperative-sticky", skipAssignment: false)
        #expect(step == .sync(isLeader: true) && outcome == .init())
        #expect(membership.phase == .syncing && membership.generationId == 3)
        let synced = membership.syncAnswered(.none, assigned: [p0, p1], subscriptionChanged: false)
        #expect(synced.actions == [.take(added: [p0, p1], assignment: [p0, p1], announce: true)])
        #expect(membership.owned == [p0, p1] && !membership.needsRejoin && membership.phase == .none && membership.isMember)
    }

    @Test("eager members give everything up before joining; cooperative ones keep it and name it in the subscription")
    func eagerAndCooperativeJoins() {
        var eager = member(.eager, owning: [p0, p1])
        let (eagerGiven, eagerNamed) = eager.beginJoin()
        #expect(eagerGiven == [.revoke([p0, p1], .processed)] && eagerNamed.isEmpty && eager.owned.isEmpty)

        var cooperative = member(.cooperative, owning: [p0, p1])
        let (cooperativeGiven, cooperativeNamed) = cooperative.beginJoin()
        #expect(cooperativeGiven.isEmpty && Set(cooperativeNamed) == [p0, p1] && cooperative.owned == [p0, p1])
    }

    @Test("cooperative: a partition moving away is revoked alone, and the member rejoins for the follow-up round (KIP-429)")
    func cooperativeFollowUp() {
        var membership = member(.cooperative, owning: [p0, p1])
        _ = membership.beginJoin()
        membership.joinSent()
        _ = membership.joinAnswered(.none, memberId: "m-1", generationId: 2, leader: "m-2", protocolName: "cooperative-sticky",
                                    skipAssignment: false)
        let outcome = membership.syncAnswered(.none, assigned: [p0], subscriptionChanged: false)
        #expect(outcome.actions == [.revoke([p1], .processed), .take(added: [], assignment: [p0], announce: false)])
        #expect(membership.needsRejoin && membership.owned == [p0])
        // The follow-up round gives p2: announced.
        _ = membership.beginJoin()
        membership.joinSent()
        _ = membership.joinAnswered(.none, memberId: "m-1", generationId: 3, leader: "m-2", protocolName: "cooperative-sticky",
                                    skipAssignment: false)
        let next = membership.syncAnswered(.none, assigned: [p0, p2], subscriptionChanged: false)
        #expect(next.actions == [.take(added: [p2], assignment: [p0, p2], announce: true)] && !membership.needsRejoin)
    }

    @Test("heartbeat answers: a rebalance asks for a rejoin; an unknown member or stale generation loses its partitions without a commit")
    func heartbeats() {
        var rebalancing = member(.cooperative, owning: [p0])
        let rebalance = rebalancing.heartbeatAnswered(.rebalanceInProgress)
        #expect(rebalance == .init() && rebalancing.needsRejoin && rebalancing.owned == [p0])

        var forgotten = member(.cooperative, owning: [p0, p1])
        let unknown = forgotten.heartbeatAnswered(.unknownMemberId)
        #expect(unknown == .init(actions: [.lose([p0, p1])]))
        #expect(forgotten.memberId.isEmpty && forgotten.generationId == -1 && forgotten.owned.isEmpty && forgotten.needsRejoin)

        var stale = member(.eager, owning: [p2])
        let illegal = stale.heartbeatAnswered(.illegalGeneration)
        #expect(illegal == .init(actions: [.lose([p2])]) && stale.memberId == "m-1")

        var moved = member(.eager, owning: [p2])
        let notCoordinator = moved.heartbeatAnswered(.notCoordinator)
        #expect(notCoordinator == .init(actions: [.findCoordinator]) && moved.isMember)

        var fenced = member(.eager, owning: [p2], instance: "i-1")
        let fencing = fenced.heartbeatAnswered(.fencedInstanceId)
        #expect(fencing.failure == .fenced)
    }

    @Test("JoinGroup and SyncGroup errors: coordinator moves are found again, unknown members lose what they had")
    func roundErrors() {
        var joining = member(.cooperative, owning: [p0])
        _ = joining.beginJoin()
        joining.joinSent()
        let (_, moved) = joining.joinAnswered(.notCoordinator, memberId: "", generationId: -1, leader: "", protocolName: nil,
                                             skipAssignment: false)
        #expect(moved == .init(actions: [.findCoordinator], failure: .coordinatorMoved(.notCoordinator)) && joining.phase == .none)

        var syncing = member(.cooperative, owning: [p0, p1])
        _ = syncing.beginJoin()
        syncing.joinSent()
        _ = syncing.joinAnswered(.none, memberId: "m-1", generationId: 5, leader: "m-9", protocolName: "x", skipAssignment: false)
        let rebalancing = syncing.syncAnswered(.rebalanceInProgress, assigned: [], subscriptionChanged: false)
        #expect(rebalancing == .init())
        #expect(syncing.needsRejoin && syncing.owned == [p0, p1])
        _ = syncing.beginJoin()
        syncing.joinSent()
        _ = syncing.joinAnswered(.none, memberId: "m-1", generationId: 6, leader: "m-9", protocolName: "x", skipAssignment: false)
        let unknown = syncing.syncAnswered(.unknownMemberId, assigned: [], subscriptionChanged: false)
        #expect(unknown == .init(actions: [.lose([p0, p1])], failure: .unknownMember(.unknownMemberId)) && syncing.memberId.isEmpty)
    }

    @Test("a subscription changed during the round makes the member join again right after it")
    func subscriptionChangedDuringJoin() {
        var membership = member(.cooperative, owning: [])
        _ = membership.beginJoin()
        membership.joinSent()
        _ = membership.joinAnswered(.none, memberId: "m-1", generationId: 2, leader: "m-1", protocolName: "x", skipAssignment: false)
        _ = membership.syncAnswered(.none, assigned: [p0], subscriptionChanged: true)
        #expect(membership.needsRejoin)
    }

    @Test("leaving: partitions are revoked with the requested commit, then LeaveGroup; a static member keeps its id")
    func leaving() {
        var dynamic = member(.cooperative, owning: [p0])
        #expect(dynamic.leavesOnClose)
        let left = dynamic.leave(committing: .none)
        #expect(left == [.revoke([p0], .none), .sendLeave(memberId: "m-1")])
        #expect(dynamic.memberId.isEmpty && dynamic.generationId == -1 && dynamic.owned.isEmpty)

        var staticMember = member(.cooperative, owning: [p0], instance: "i-1")
        #expect(!staticMember.leavesOnClose, "a static member stays in the group over a restart")
        let staticLeft = staticMember.leave(committing: .handedOut)
        #expect(staticLeft == [.revoke([p0], .handedOut), .sendLeave(memberId: "m-1")])
        #expect(staticMember.memberId == "m-1")
    }

    @Test("max.poll.interval.ms: the member leaves, and rejoins once the application asks for records again")
    func inactivity() {
        var membership = member(.eager, owning: [p1])
        let inactive = membership.leaveForInactivity()
        #expect(inactive == [.revoke([p1], .processed), .sendLeave(memberId: "m-1")])
        #expect(!membership.shouldJoin(subscribed: true), "it does not rejoin on its own")
        let rejoins = membership.polled()
        #expect(rejoins)
        #expect(membership.shouldJoin(subscribed: true))
        let again = membership.polled()
        #expect(!again, "only once")
    }

    @Test("unsubscribing commits everything handed out, leaves, and stops rejoining; commits refused by a rebalance ask for a rejoin")
    func unsubscribeAndRefusedCommits() {
        var membership = member(.cooperative, owning: [p0, p2])
        let unsubscribed = membership.unsubscribed()
        #expect(unsubscribed == [.revoke([p0, p2], .handedOut), .sendLeave(memberId: "m-1")])
        #expect(!membership.needsRejoin && !membership.shouldJoin(subscribed: true))

        var committing = member(.cooperative, owning: [p0])
        committing.needsRejoin = false
        committing.commitRefused(.offsetMetadataTooLarge)
        #expect(!committing.needsRejoin)
        committing.commitRefused(.rebalanceInProgress)
        #expect(committing.needsRejoin)
    }
}

@Suite("Group membership's executor")
struct GroupMembershipExecutorTests {
    @Test("membership runs on its client's event loop, and the tasks it starts stay there: never on Swift's cooperative pool")
    func membershipRunsOnTheEventLoop() async throws {
        var configuration = ConsumerConfiguration(bootstrapServers: "127.0.0.1:9", groupId: "executor")
        configuration.client.requestTimeout = .seconds(1)
        let consumer = try KafkaConsumer(configuration: configuration)
        let group = try #require(consumer.group)
        #expect(await group.isOnItsEventLoop)
        // What the membership loop calls outside the actor (sending requests, awaiting answers) runs on the
        // loop too, because its tasks prefer the loop as their executor.
        let eventLoop = group.loopExecutor.eventLoop
        let nonisolatedWork = Task(executorPreference: group.loopExecutor) { () async -> Bool in
            await Task.yield()
            return eventLoop.inEventLoop
        }
        #expect(await nonisolatedWork.value)
        await consumer.close(timeout: .seconds(1), commitOffsets: false)
    }
}
