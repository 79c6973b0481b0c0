import KafkaProtocol
import NIOConcurrencyHelpers
import NIOCore

/// Fetch: finds each partition's bytes through the sparse index and answers with file regions of the segments,
/// so record bytes go from the page cache to the socket with `sendfile` and never through this process.
///
/// Limits follow Kafka: `max_bytes` for the response and `partition_max_bytes` per partition, except that the
/// first batch of the first partition with data is sent whole so a consumer always makes progress. When fewer
/// than `min_bytes` are available the request waits (long polling) until an append brings enough or
/// `max_wait_ms` passes.
struct FetchHandler: Sendable {
    let state: BrokerState

    /// One partition's outcome of reading.
    struct Outcome {
        var target: FetchTarget
        var log: PartitionLog?
        var slice: PartitionLog.Slice?
        var offsets: PartitionLog.Offsets?
        var error: KafkaErrorCode = .none
    }

    func handle(_ request: FetchRequest, context: RequestContext) -> EventLoopFuture<FetchResponse?> {
        let version = context.apiVersion
        let targets = request.topics.flatMap { topic in
            topic.partitions.map { partition in
                FetchTarget(key: key(topic: topic.topic, topicId: topic.topicId, partition: partition.partition, version: version),
                            fetchOffset: partition.fetchOffset, maxBytes: partition.partitionMaxBytes,
                            currentLeaderEpoch: partition.currentLeaderEpoch)
            }
        }
        let forgotten = request.forgottenTopicsData.flatMap { topic in
            topic.partitions.map { key(topic: topic.topic, topicId: topic.topicId, partition: $0, version: version) }
        }
        let session: FetchSessionCache.Context = version >= 7
            ? state.fetchSessions.context(sessionId: request.sessionId, epoch: request.sessionEpoch,
                                          targets: targets, forgotten: forgotten)
            : .sessionless(targets)
        if case .error(let code, let sessionId) = session {
            return context.eventLoop.makeSucceededFuture(FetchResponse(errorCode: code.rawValue, sessionId: sessionId))
        }
        let readCommitted = request.isolationLevel == 1
        // A follower's fetch names its broker id (v15+ in ReplicaState).
        let replicaId = version >= 15 ? request.replicaState.replicaId : request.replicaId
        let evaluation = evaluate(session.targets, maxBytes: Int(request.maxBytes), readCommitted: readCommitted,
                                  replicaId: replicaId)
        let bytes = evaluation.reduce(0) { $0 + ($1.slice?.length ?? 0) }
        let hasError = evaluation.contains { $0.error != .none }
        if bytes >= Int(request.minBytes) || request.maxWaitMs <= 0 || hasError || evaluation.isEmpty {
            return context.eventLoop.makeSucceededFuture(respond(evaluation, session: session, version: version,
                                                                 readCommitted: readCommitted))
        }
        let delayed = DelayedFetch(handler: self, request: request, session: session, version: version,
                                   readCommitted: readCommitted, replicaId: replicaId, eventLoop: context.eventLoop,
                                   logs: evaluation.compactMap(\.log))
        return delayed.start()
    }

    private func key(topic: String, topicId: KafkaUUID, partition: Int32, version: Int16) -> FetchTarget.Key {
        if version >= 13 {
            return FetchTarget.Key(topic: state.topics.topic(id: topicId)?.name ?? "", topicId: topicId, partition: partition)
        }
        return FetchTarget.Key(topic: topic, topicId: .zero, partition: partition)
    }

    /// Reads every partition within the limits, without committing to send anything yet. For a follower
    /// (`replicaId` >= 0) the read also records its progress (ISR, high watermark) and reaches the log end.
    func evaluate(_ targets: [FetchTarget], maxBytes: Int, readCommitted: Bool, replicaId: Int32 = -1) -> [Outcome] {
        var remaining = maxBytes
        var minOneBatch = true
        return targets.map { target in
            var outcome = Outcome(target: target)
            guard let log = state.topics.partition(target.key.topic, target.key.partition) else {
                outcome.error = target.key.topicId != .zero && target.key.topic.isEmpty ? .unknownTopicId : .unknownTopicOrPartition
                return outcome
            }
            outcome.log = log
            if let injected = state.faults.partitionError(api: .fetch, topic: target.key.topic, partition: target.key.partition) {
                outcome.error = injected
                outcome.offsets = log.offsets
                return outcome
            }
            let epoch = log.currentLeaderEpoch
            if target.currentLeaderEpoch >= 0 && target.currentLeaderEpoch != epoch {
                outcome.error = target.currentLeaderEpoch > epoch ? .unknownLeaderEpoch : .fencedLeaderEpoch
                outcome.offsets = log.offsets
                return outcome
            }
            do throws(PartitionLog.ReadError) {
                let limit = min(Int(target.maxBytes), remaining)
                if replicaId >= 0 {
                    let read = try log.readForFollower(replicaId: replicaId, fetchOffset: target.fetchOffset, maxBytes: limit,
                                                       minOneBatch: minOneBatch, now: RequestContext.nowMilliseconds())
                    if let isr = read.newIsr { state.isrChanged(log, isr: isr) }
                    outcome.slice = read.slice
                    outcome.offsets = read.offsets
                } else {
                    let (slice, offsets) = try log.read(from: target.fetchOffset, maxBytes: limit, minOneBatch: minOneBatch,
                                                        readCommitted: readCommitted,
                                                        partialLastBatch: state.configuration.fetchPartialBatches)
                    outcome.slice = slice
                    outcome.offsets = offsets
                }
                let slice = outcome.slice
                if let slice {
                    remaining = max(0, remaining - slice.length)
                    minOneBatch = false
                }
            } catch .offsetOutOfRange {
                outcome.error = .offsetOutOfRange
                outcome.offsets = log.offsets
            } catch .notLeader {
                outcome.error = .notLeaderOrFollower
            } catch {
                outcome.error = .kafkaStorageError
                outcome.offsets = log.offsets
            }
            return outcome
        }
    }

    /// Builds the response: slices become file regions (or copies), grouped by topic in request order; an
    /// incremental session leaves out partitions with nothing new.
    /// Topics are named by name up to v12 and by id from v13; the encoder writes whichever the version has.
    func respond(_ outcomes: [Outcome], session: FetchSessionCache.Context, version: Int16, readCommitted: Bool) -> FetchResponse {
        var response = FetchResponse(errorCode: 0, sessionId: session.sessionId)
        var topicIndex: [FetchTarget.Key: Int] = [:]
        for outcome in outcomes {
            var partition = FetchResponse.PartitionData(partitionIndex: outcome.target.key.partition, errorCode: outcome.error.rawValue)
            if let offsets = outcome.offsets {
                partition.highWatermark = offsets.highWatermark
                partition.lastStableOffset = offsets.lastStableOffset
                partition.logStartOffset = offsets.logStartOffset
            } else {
                partition.highWatermark = -1
            }
            partition.abortedTransactions = readCommitted ? [] : nil
            partition.records = RecordSet()
            if let slice = outcome.slice, let log = outcome.log {
                do {
                    if state.configuration.zeroCopyFetch {
                        partition.records = RecordSet(fileRegion: try log.fileRegion(for: slice))
                    } else {
                        let bytes = try log.bytes(for: slice)
                        state.counters.copied(bytes.readableBytes)
                        partition.records = RecordSet(bytes)
                    }
                } catch {
                    partition.errorCode = KafkaErrorCode.kafkaStorageError.rawValue
                }
            }
            if session.sessionId != 0 {
                let sent = FetchSessionCache.SentState(highWatermark: partition.highWatermark,
                                                       lastStableOffset: partition.lastStableOffset,
                                                       logStartOffset: partition.logStartOffset)
                let changed = state.fetchSessions.update(sessionId: session.sessionId, key: outcome.target.key, sent: sent,
                                                         hasRecords: partition.records?.byteCount ?? 0 > 0,
                                                         hasError: partition.errorCode != 0)
                if case .incremental = session, !changed { continue }
            }
            let topicKey = FetchTarget.Key(topic: outcome.target.key.topic, topicId: outcome.target.key.topicId, partition: 0)
            if let index = topicIndex[topicKey] {
                response.responses[index].partitions.append(partition)
            } else {
                topicIndex[topicKey] = response.responses.count
                response.responses.append(.init(topic: outcome.target.key.topic, topicId: outcome.target.key.topicId,
                                                partitions: [partition]))
            }
        }
        return response
    }
}

/// A fetch waiting for data: woken by appends to its partitions, finished when `min_bytes` are there or when
/// `max_wait_ms` runs out. Lives on its connection's event loop.
final class DelayedFetch {
    private static let nextWaiterId = NIOLockedValueBox<UInt64>(0)

    private let handler: FetchHandler
    private let request: FetchRequest
    private let session: FetchSessionCache.Context
    private let version: Int16
    private let readCommitted: Bool
    private let replicaId: Int32
    private let eventLoop: any EventLoop
    private let logs: [PartitionLog]
    private let promise: EventLoopPromise<FetchResponse?>
    private let waiterId: UInt64
    private var timeout: Scheduled<Void>?
    private var finished = false

    init(handler: FetchHandler, request: FetchRequest, session: FetchSessionCache.Context, version: Int16,
         readCommitted: Bool, replicaId: Int32, eventLoop: any EventLoop, logs: [PartitionLog]) {
        self.replicaId = replicaId
        self.handler = handler
        self.request = request
        self.session = session
        self.version = version
        self.readCommitted = readCommitted
        self.eventLoop = eventLoop
        self.logs = logs
        promise = eventLoop.makePromise(of: FetchResponse?.self)
        waiterId = Self.nextWaiterId.withLockedValue { id in
            id += 1
            return id
        }
    }

    func start() -> EventLoopFuture<FetchResponse?> {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let eventLoop = self.eventLoop
        for log in logs {
            log.addWaiter(waiterId) { eventLoop.execute { bound.value.poke() } }
        }
        let timer = eventLoop.scheduleTask(in: .milliseconds(Int64(request.maxWaitMs))) { bound.value.finish() }
        // Cancelled either by finish() (then a no-op) or by the event loop shutting down with the broker: answer
        // rather than leave the promise pending.
        timer.futureResult.whenFailure { _ in bound.value.finish() }
        timeout = timer
        // Data may have arrived between the first read and the registration.
        poke()
        return promise.futureResult
    }

    private func poke() {
        guard !finished else { return }
        let outcomes = handler.evaluate(session.targets, maxBytes: Int(request.maxBytes), readCommitted: readCommitted,
                                        replicaId: replicaId)
        let bytes = outcomes.reduce(0) { $0 + ($1.slice?.length ?? 0) }
        if bytes >= Int(request.minBytes) || outcomes.contains(where: { $0.error != .none }) {
            finish(outcomes)
        }
    }

    private func finish(_ outcomes: [FetchHandler.Outcome]? = nil) {
        guard !finished else { return }
        finished = true
        timeout?.cancel()
        for log in logs { log.removeWaiter(waiterId) }
        let final = outcomes ?? handler.evaluate(session.targets, maxBytes: Int(request.maxBytes), readCommitted: readCommitted,
                                        replicaId: replicaId)
        promise.succeed(handler.respond(final, session: session, version: version, readCommitted: readCommitted))
    }
}
