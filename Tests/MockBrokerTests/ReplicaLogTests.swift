import Foundation
import KafkaProtocol
import KafkaTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import MockBroker

/// Replication at the level of one partition's logs, driven directly and deterministically (time is an argument):
/// the leader-epoch cache, a follower appending the leader's bytes, the high watermark, the ISR, acks=all waiters
/// and truncation.
@Suite("Replica logs")
struct ReplicaLogTests {
    private static func open(_ directory: String, leads: Bool, _ change: (inout LogConfig) -> Void = { _ in }) throws -> PartitionLog {
        try PartitionLog(directory: directory, topic: "t", partition: 0, config: PartitionLogTests.config(change), leaderEpoch: 0,
                         now: 0, leads: leads)
    }

    /// Everything a leader has from `offset`, as one follower fetch would carry it.
    private static func bytes(from offset: Int64, of leader: PartitionLog, follower: Int32, now: Int64) throws -> (ByteBuffer, PartitionLog.Offsets) {
        let read = try leader.readForFollower(replicaId: follower, fetchOffset: offset, maxBytes: 1 << 20, minOneBatch: true, now: now)
        return (try read.slice.map { try leader.bytes(for: $0) } ?? ByteBuffer(), read.offsets)
    }

    private static func files(_ directory: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasSuffix(".log") {
            files[name] = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name)"))
        }
        return files
    }

    @Test("the leader-epoch cache answers as Kafka's endOffsetFor and survives a reopen in leader-epoch-checkpoint")
    func epochCache() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var cache = LeaderEpochCache(directory: directory)
        cache.assign(epoch: 0, startOffset: 0)
        cache.assign(epoch: 2, startOffset: 10)
        cache.assign(epoch: 1, startOffset: 12)          // older than the latest: ignored
        cache.assign(epoch: 5, startOffset: 20)
        #expect(cache.endOffset(for: 5, logEndOffset: 25)! == (5, 25))
        #expect(cache.endOffset(for: 3, logEndOffset: 25)! == (2, 20))
        #expect(cache.endOffset(for: 1, logEndOffset: 25)! == (0, 10))
        #expect(cache.endOffset(for: 6, logEndOffset: 25) == nil)
        #expect(try readSmallFile("\(directory)/leader-epoch-checkpoint") == "0\n3\n0 0\n2 10\n5 20\n")
        #expect(LeaderEpochCache(directory: directory).entries == cache.entries)
        cache.truncate(from: 15)
        #expect(cache.entries.map(\.epoch) == [0, 2])
        cache.truncate(before: 12)
        #expect(cache.entries == [.init(epoch: 2, startOffset: 12)])
    }

    @Test("a follower appends the leader's bytes as they are; the high watermark waits for the ISR; acks=all waiters complete with it")
    func followerAndHighWatermark() throws {
        let leaderDirectory = try makeTemporaryDirectory(), followerDirectory = try makeTemporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: leaderDirectory)
            try? FileManager.default.removeItem(atPath: followerDirectory)
        }
        let leader = try Self.open(leaderDirectory, leads: false), follower = try Self.open(followerDirectory, leads: false)
        defer { leader.close(); follower.close() }
        leader.becomeLeader(epoch: 3, replicas: [1, 2], isr: [1, 2], localId: 1, now: 0)
        follower.becomeFollower(epoch: 3, leaderId: 1)

        let appended = try leader.append(try PartitionLogTests.batch(4, first: 0), now: 0, requiredAcks: -1)
        #expect(appended.lastOffset == 3 && appended.highWatermark == 0, "the follower has not fetched it yet")
        let acknowledged = NIOLockedValueBox<[KafkaErrorCode]>([])
        leader.whenReplicated(through: appended.lastOffset) { code in acknowledged.withLockedValue { $0.append(code) } }
        #expect(acknowledged.withLockedValue { $0 }.isEmpty)
        #expect(try PartitionLogTests.batches(at: 0, in: leader).isEmpty, "consumers see only up to the high watermark")

        let (data, offsets) = try Self.bytes(from: 0, of: leader, follower: 2, now: 10)
        #expect(offsets.highWatermark == 0 && offsets.logEndOffset == 4)
        try follower.appendAsFollower(data, leaderHighWatermark: offsets.highWatermark, leaderLogStartOffset: 0, now: 10)
        #expect(follower.offsets.logEndOffset == 4 && follower.offsets.highWatermark == 0)
        // The next fetch says where the follower is: the high watermark moves, the waiter completes.
        let (empty, after) = try Self.bytes(from: 4, of: leader, follower: 2, now: 20)
        #expect(after.highWatermark == 4 && empty.readableBytes == 0)
        #expect(acknowledged.withLockedValue { $0 } == [.none])
        try follower.appendAsFollower(empty, leaderHighWatermark: after.highWatermark, leaderLogStartOffset: 0, now: 20)
        #expect(follower.offsets.highWatermark == 4)
        #expect(try Self.files(leaderDirectory) == Self.files(followerDirectory))
        #expect(follower.leaderEpochs == [.init(epoch: 3, startOffset: 0)])
        // Only the leader takes writes and serves consumers.
        #expect(throws: PartitionLog.AppendError.notLeader) { try follower.append(try PartitionLogTests.batch(1, first: 9), now: 30) }
        #expect(throws: PartitionLog.ReadError.notLeader) {
            try follower.read(from: 0, maxBytes: 100, minOneBatch: true, readCommitted: false)
        }
    }

    @Test("a follower writes a fetch larger than its segments in order, rolling between batches, and nothing twice when it comes again")
    func followerAppendsAFetchAcrossItsSegments() throws {
        let leaderDirectory = try makeTemporaryDirectory(), followerDirectory = try makeTemporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: leaderDirectory)
            try? FileManager.default.removeItem(atPath: followerDirectory)
        }
        // The leader keeps one segment of 1 MB; the follower's are 4 KB.
        let leader = try Self.open(leaderDirectory, leads: false) { $0.segmentBytes = 1 << 20 }
        let follower = try Self.open(followerDirectory, leads: false)
        defer { leader.close(); follower.close() }
        leader.becomeLeader(epoch: 2, replicas: [1, 2], isr: [1], localId: 1, now: 0)
        follower.becomeFollower(epoch: 2, leaderId: 1)
        let appends = try (0..<40).map { PartitionLog.Append(batch: try PartitionLogTests.batch(3, first: $0 * 3), now: 0) }
        #expect(leader.append(appends).allSatisfy { if case .success = $0 { true } else { false } })

        let (data, offsets) = try Self.bytes(from: 0, of: leader, follower: 2, now: 10)
        #expect(try follower.appendAsFollower(data, leaderHighWatermark: offsets.highWatermark, leaderLogStartOffset: 0, now: 10) == 40)
        #expect(follower.offsets.logEndOffset == 120)
        #expect(follower.segmentBaseOffsets.count >= 3)
        func concatenated(_ directory: String) throws -> Data {
            try Self.files(directory).sorted { $0.key < $1.key }.reduce(into: Data()) { $0.append($1.value) }
        }
        #expect(try concatenated(followerDirectory) == concatenated(leaderDirectory))
        // Fetched again (a retry after a lost answer): nothing is written twice.
        #expect(try follower.appendAsFollower(data, leaderHighWatermark: offsets.highWatermark, leaderLogStartOffset: 0, now: 20) == 0)
        #expect(try concatenated(followerDirectory) == concatenated(leaderDirectory))
        #expect(follower.leaderEpochs == [.init(epoch: 2, startOffset: 0)])
    }

    @Test("a follower that stops fetching leaves the ISR after the lag time, which moves the high watermark; min.insync.replicas then refuses acks=all")
    func isrShrinkAndMinInsync() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let leader = try Self.open(directory, leads: false) { $0.minInsyncReplicas = 2 }
        defer { leader.close() }
        leader.becomeLeader(epoch: 0, replicas: [0, 1, 2], isr: [0, 1, 2], localId: 0, now: 0)
        let appended = try leader.append(try PartitionLogTests.batch(2, first: 0), now: 0, requiredAcks: -1)
        let outcomes = NIOLockedValueBox<[KafkaErrorCode]>([])
        leader.whenReplicated(through: appended.lastOffset) { code in outcomes.withLockedValue { $0.append(code) } }
        _ = try leader.readForFollower(replicaId: 1, fetchOffset: 2, maxBytes: 1000, minOneBatch: true, now: 100)
        #expect(leader.offsets.highWatermark == 0, "broker 2 is in the ISR and has not fetched")
        #expect(leader.shrinkIsr(now: 5_000, lagMax: 10_000) == nil, "not lagging long enough yet")
        _ = try leader.readForFollower(replicaId: 1, fetchOffset: 2, maxBytes: 1000, minOneBatch: true, now: 10_500)
        #expect(leader.shrinkIsr(now: 10_500, lagMax: 10_000) == [0, 1])
        #expect(leader.offsets.highWatermark == 2 && outcomes.withLockedValue { $0 } == [.none])
        // Broker 1 goes quiet too: the ISR is the leader alone, below min.insync.replicas 2.
        #expect(leader.shrinkIsr(now: 30_000, lagMax: 10_000) == [0])
        #expect(throws: PartitionLog.AppendError.notEnoughReplicas) {
            try leader.append(try PartitionLogTests.batch(1, first: 2), now: 30_000, requiredAcks: -1)
        }
        #expect(try leader.append(try PartitionLogTests.batch(1, first: 2), now: 30_000, requiredAcks: 1).baseOffset == 2)
        // Broker 2 catches up to the high watermark: back in the ISR.
        let back = try leader.readForFollower(replicaId: 2, fetchOffset: 3, maxBytes: 1000, minOneBatch: true, now: 31_000)
        #expect(back.newIsr == [0, 2])
    }

    @Test("truncation cuts at a batch boundary, rebuilds the epoch cache and producer state, and the log takes new batches after")
    func truncation() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try Self.open(directory, leads: true)
        defer { log.close() }
        try PartitionLogTests.fill(log, batches: 4)
        log.becomeLeader(epoch: 1, replicas: [], isr: [], localId: -1, now: 0)
        try PartitionLogTests.fill(log, batches: 2)
        #expect(log.offsets.logEndOffset == 18 && log.leaderEpochs.map(\.epoch) == [0, 1])
        try log.truncate(to: 13)
        #expect(log.offsets.logEndOffset == 12, "the batch holding offset 13 goes whole")
        #expect(log.leaderEpochs == [.init(epoch: 0, startOffset: 0)])
        #expect(log.offsets.highWatermark == 12)
        _ = try log.append(try PartitionLogTests.batch(3, first: 100), now: 0)
        #expect(try PartitionLogTests.batches(at: 12, in: log).first?.baseOffset == 12)
    }

    @Test("the group coordinator stamps commits with its injected clock")
    func coordinatorClock() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let group = MultiThreadedEventLoopGroup.singleton
        let topics = TopicRegistry(dataDirectory: directory, defaults: LogConfig())
        defer { topics.close() }
        try topics.create(name: "t", partitions: 1, configs: [:], now: 0)
        let coordinator = try GroupCoordinator(configuration: MockBrokerConfiguration(), dataDirectory: directory, topics: topics,
                                               eventLoop: group.next(), clock: CoordinatorClock { 1_234_567 }, logger: testLogger)
        let entry = GroupCoordinator.CommitEntry(topic: "t", partition: 0, offset: 5, leaderEpoch: -1, metadata: nil)
        let errors = try await coordinator.commitOffsets(GroupCoordinator.CommitParameters(
            groupId: "clocked", generationId: -1, memberId: "", groupInstanceId: nil, retentionTimeMs: -1,
            entries: [entry], version: 8)).get()
        #expect(errors == [.none])
        let committed = try await coordinator.committedOffsets("clocked").get()
        #expect(committed.map(\.commitTimestamp) == [1_234_567])
        await coordinator.shutdown()
    }
}
