import KafkaCompression
import KafkaProtocol
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// Moves batches from the accumulator to the brokers: one Produce request per broker carrying every ready
/// batch (one per partition), up to `max.in.flight.requests.per.connection` requests per broker, and reports
/// each record's outcome.
///
/// All of its state lives on one event loop; `wakeup()` may be called from anywhere.
///
/// `@unchecked Sendable`: the mutable state is touched on `eventLoop` only (public entry points hop there; the
/// work flag `wakeup()` sets is atomic).
final class Sender: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let cluster: ClusterClient
    private let accumulator: RecordAccumulator
    private let memory: MemoryPool
    private let configuration: ProducerConfiguration
    private let events: ProducerEventQueue?
    private let logger: Logger
    private let workspace = CompressionWorkspace()
    private let retryBackoff: ExponentialBackoff
    private let wakeups = CoalescedWakeup()

    private var inFlight: [Int32: Int] = [:]
    private var idempotence: IdempotenceState?
    private var initializingProducerId = false
    private var refreshingMetadata = false
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var stopped = false
    private var lastMetadataError: String?
    /// Reports of batches finished during this turn of the event loop, handed to `events` together at its end:
    /// the application's task reading them is then woken once per turn, not once per batch.
    private var pendingEvents: [ProducerEvent] = []
    /// Batches finished while a response (or a look at the queues) is handled, given back together at its end.
    private var finishing: [ProducerBatch]?

    private let metrics: ProducerMetrics

    init(eventLoop: any EventLoop, cluster: ClusterClient, accumulator: RecordAccumulator, memory: MemoryPool,
         configuration: ProducerConfiguration, events: ProducerEventQueue?, logger: Logger) {
        self.eventLoop = eventLoop
        self.cluster = cluster
        self.accumulator = accumulator
        self.memory = memory
        self.configuration = configuration
        self.events = events
        self.logger = logger
        metrics = ProducerMetrics(clientId: configuration.client.clientId, factory: configuration.client.metrics)
        retryBackoff = ExponentialBackoff(initial: configuration.client.retryBackoff.timeAmount, maximum: configuration.client.retryBackoffMax.timeAmount)
        idempotence = configuration.isIdempotent ? IdempotenceState() : nil
    }

    /// Asks the sender to look at the accumulator soon (coalesced: many calls, one look).
    func wakeup() {
        wakeups.wake(on: eventLoop) { self.run() }
    }

    /// Requests sent and not yet answered, readable from the appending threads.
    private let outstanding = Atomic<Int>(0)
    /// When the sender's timer next makes it look (uptime nanoseconds; `Int64.max` when no timer is set).
    private let nextLook = Atomic<Int64>(.max)

    /// News from an append, from any thread. The sender is woken only when it would not otherwise look in time:
    /// a full batch waits for the answer to a request in flight (the sender looks after every answer, and then
    /// sends as many requests as it may), and a new batch for the sender's timer when that fires before the batch
    /// is due. With small batches at a high rate this spares a wake-up of the event loop (an eventfd write and a
    /// context switch) per batch.
    func notice(_ news: RecordAccumulator.SenderNews) {
        switch news {
        case .none:
            return
        case .batchFull:
            if outstanding.load(ordering: .relaxed) == 0 { wakeup() }
        case .batchStarted(let dueAt):
            if dueAt.uptimeNanoseconds < UInt64(nextLook.load(ordering: .relaxed)) { wakeup() }
        }
    }

    func stop() {
        eventLoop.execute {
            self.stopped = true
            self.timer?.cancel()
        }
    }

    /// Requests still waiting for answers.
    var requestsInFlight: Int {
        eventLoop.preconditionInEventLoop()
        return inFlight.values.reduce(0, +)
    }

    // MARK: - The loop

    private func run() {
        wakeups.begin()
        guard !stopped else { return }
        let now = NIODeadline.now()
        let metadata = cluster.metadata
        let readiness = accumulator.ready(metadata: metadata, memoryExhausted: memory.isExhausted,
                                          deliveryTimeout: configuration.deliveryTimeout.timeAmount, now: now)
        if !readiness.expired.isEmpty {
            finishingTogether {
                for batch in readiness.expired {
                    finish(batch, .failure(.deliveryTimedOut(lastError: batch.lastError ?? lastMetadataError)))
                }
            }
        }
        if !readiness.unknownLeaders.isEmpty || cluster.metadataIsStale {
            refreshMetadata(readiness.unknownLeaders)
        }
        if var state = idempotence {
            if !state.hasProducerId || (state.needsEpochBump && state.inFlightCount == 0) {
                initializeProducerId(bumping: state.hasProducerId ? state : nil)
                state = idempotence!
            }
            if !state.hasProducerId || state.needsEpochBump {
                schedule(at: now + .milliseconds(100))
                return
            }
        }
        for node in readiness.nodes where inFlight[node, default: 0] < configuration.maxInFlightRequestsPerConnection {
            cluster.connection(to: node).hop(to: eventLoop).whenComplete { result in
                switch result {
                case .success(let connection):
                    self.send(to: node, over: connection)
                case .failure(let error):
                    self.logger.debug("no connection to node \(node): \(error)")
                    self.lastMetadataError = "\(error)"
                    self.cluster.invalidateMetadata()
                    self.schedule(at: .now() + self.configuration.client.reconnectBackoff.timeAmount)
                }
            }
        }
        schedule(at: readiness.nextCheck ?? now + .milliseconds(500))
    }

    private func schedule(at deadline: NIODeadline) {
        if let current = timerDeadline, current <= deadline, current > .now() { return }
        timer?.cancel()
        timerDeadline = deadline
        nextLook.store(Int64(clamping: deadline.uptimeNanoseconds), ordering: .relaxed)
        timer = eventLoop.scheduleTask(deadline: deadline) {
            self.timerDeadline = nil
            self.nextLook.store(.max, ordering: .relaxed)
            self.run()
        }
    }

    private func refreshMetadata(_ topics: Set<String>) {
        guard !refreshingMetadata else { return }
        refreshingMetadata = true
        cluster.refreshMetadata(adding: topics).hop(to: eventLoop).whenComplete { result in
            self.refreshingMetadata = false
            if case .failure(let error) = result {
                self.lastMetadataError = "\(error)"
                self.logger.debug("metadata refresh failed: \(error)")
                self.schedule(at: .now() + self.retryBackoff.delay(attempt: 0))
            } else if case .success(let metadata) = result {
                self.lastMetadataError = nil
                // Partitions may have been added: keyless and keyed records spread over the new count.
                self.accumulator.updatePartitionCounts(from: metadata)
                self.run()
            }
        }
    }

    /// InitProducerId: a new producer id, or (KIP-360) the same id with a bumped epoch.
    private func initializeProducerId(bumping current: IdempotenceState?) {
        guard !initializingProducerId else { return }
        initializingProducerId = true
        let node = cluster.metadata.brokers.keys.sorted().first ?? -1
        let request = InitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: -1,
                                            producerId: current?.producerId ?? -1, producerEpoch: current?.epoch ?? -1)
        cluster.connection(to: node).flatMap { connection in
            connection.sendRequest(request, version: (try? connection.version(for: InitProducerIdRequest.self)).map {
                // Only v3+ carries the current id and epoch for a bump.
                current == nil ? $0 : max($0, 3)
            })
        }.hop(to: eventLoop).whenComplete { result in
            self.initializingProducerId = false
            switch result {
            case .success(let response) where response.errorCode == 0:
                self.idempotence?.adopt(producerId: response.producerId, epoch: response.producerEpoch)
                self.logger.debug("producer id \(response.producerId), epoch \(response.producerEpoch)")
                self.run()
            case .success(let response):
                self.logger.debug("InitProducerId failed: \(KafkaErrorCode(rawValue: response.errorCode))")
                self.schedule(at: .now() + self.retryBackoff.delay(attempt: 1))
            case .failure(let error):
                self.logger.debug("InitProducerId failed: \(error)")
                self.cluster.invalidateMetadata()
                self.schedule(at: .now() + self.retryBackoff.delay(attempt: 1))
            }
        }
    }

    // MARK: - Sending

    /// Sends requests to `node` while it has ready batches and room in `max.in.flight.requests.per.connection`: a
    /// partition's batches go one per request, so several requests may be needed at once. They are flushed together
    /// at the end, in one system call: on loopback each write also runs the broker's receive and wakes it, which
    /// with small batches cost more than building the request.
    private func send(to node: Int32, over connection: BrokerConnection) {
        let metadata = cluster.metadata
        var wrote = false
        defer { if wrote { connection.flush() } }
        while !stopped, inFlight[node, default: 0] < configuration.maxInFlightRequestsPerConnection {
            let drained = accumulator.drain(node: node, metadata: metadata, maxRequestSize: configuration.maxRequestSize,
                                            now: .now()) { key, batch in
                idempotence?.canSend(batch, of: key) ?? true
            }
            guard !drained.batches.isEmpty else { return }
            wrote = send(drained.batches, to: node, over: connection) || wrote
            // Nothing else ready: spare the accumulator's lock (which the appending threads are taking) a look.
            guard drained.moreReady else { return }
        }
    }

    /// Writes one request without flushing it; returns whether there was one (a batch that cannot be encoded is
    /// finished here instead).
    private func send(_ batches: [ProducerBatch], to node: Int32, over connection: BrokerConnection) -> Bool {
        var sent: [ProducerBatch] = []
        var topics: [String: [ProduceRequest.PartitionProduceData]] = [:]
        var order: [String] = []
        for batch in batches {
            let key = TopicPartition(topic: batch.topic, partition: batch.partition)
            idempotence?.stamp(batch, of: key)
            do {
                let encoded = try batch.close(compression: configuration.compression, level: configuration.compressionLevel,
                                              workspace: workspace, recycle: memory.recycle)
                metrics.batchSize.record(encoded.byteCount)
                metrics.compressionRatio.record(Double(encoded.byteCount) / Double(max(batch.uncompressedBytes, 1)))
                if topics[batch.topic] == nil { order.append(batch.topic) }
                topics[batch.topic, default: []].append(.init(index: batch.partition, records: encoded))
                sent.append(batch)
            } catch {
                idempotence?.answered(batch, of: key)
                finish(batch, .failure(.broker(.corruptMessage, topic: batch.topic, partition: batch.partition)))
            }
        }
        guard !sent.isEmpty else { return false }
        let batchesSent = sent
        let request = ProduceRequest(acks: configuration.acks.rawValue,
                                     timeoutMs: Int32(configuration.client.requestTimeout.timeAmount.nanoseconds / 1_000_000),
                                     topicData: order.map { .init(name: $0, partitionData: topics[$0]!) })
        inFlight[node, default: 0] += 1
        outstanding.wrappingAdd(1, ordering: .relaxed)
        let started = NIODeadline.now()
        if configuration.acks == .none {
            connection.sendRequestWithoutResponse(request, flush: false).hop(to: eventLoop).whenComplete { result in
                self.inFlight[node, default: 1] -= 1
                self.finishingTogether {
                    switch result {
                    case .success:
                        for batch in batchesSent { self.succeeded(batch, baseOffset: -1, logAppendTime: -1) }
                    case .failure(let error):
                        for batch in batchesSent { self.failed(batch, retriable: true, reason: "\(error)", invalidateMetadata: true) }
                    }
                }
                self.wakeup()
            }
            return true
        }
        connection.sendRequest(request, flush: false).hop(to: eventLoop).whenComplete { result in
            self.inFlight[node, default: 1] -= 1
            self.outstanding.wrappingSubtract(1, ordering: .relaxed)
            self.metrics.requestLatency.recordNanoseconds((NIODeadline.now() - started).nanoseconds)
            self.metrics.requestsInFlight.record(self.outstanding.load(ordering: .relaxed))
            self.finishingTogether {
                switch result {
                case .success(let response):
                    self.handle(response, for: batchesSent)
                case .failure(let error):
                    self.logger.debug("produce to node \(node) failed: \(error)")
                    for batch in batchesSent { self.failed(batch, retriable: true, reason: "\(error)", invalidateMetadata: true) }
                }
            }
            // An answer makes room: the sender looks at once, before the answers read with it are handled, so that
            // the broker always has requests to work on. Waiting to write the requests they all free room for in
            // one system call left the broker idle while the producer handled them: with one-record batches (10 KB
            // records in Java's default 16 KB batch.size) a run took 0.92–0.96 s against 0.73–0.77. After a failure
            // the look waits for the coalesced wake-up, behind the retry's backoff and any metadata refresh.
            if case .success = result {
                self.run()
            } else {
                self.wakeup()
            }
        }
        return true
    }

    private func handle(_ response: ProduceResponse, for batches: [ProducerBatch]) {
        let endpoints = Dictionary(response.nodeEndpoints.map { ($0.nodeId, BrokerAddress(host: $0.host, port: Int($0.port))) },
                                   uniquingKeysWith: { first, _ in first })
        var answers: [TopicPartition: ProduceResponse.PartitionProduceResponse] = [:]
        for topic in response.responses {
            for partition in topic.partitionResponses {
                answers[TopicPartition(topic: topic.name, partition: partition.index)] = partition
            }
        }
        for batch in batches {
            let key = TopicPartition(topic: batch.topic, partition: batch.partition)
            guard let answer = answers[key] else {
                failed(batch, retriable: true, reason: "no answer for \(key)", invalidateMetadata: true)
                continue
            }
            let code = KafkaErrorCode(rawValue: answer.errorCode)
            switch code {
            case .none:
                succeeded(batch, baseOffset: answer.baseOffset, logAppendTime: answer.logAppendTimeMs)
            case .duplicateSequenceNumber:
                // Already written by an earlier attempt whose answer was lost; the broker no longer knows where.
                succeeded(batch, baseOffset: -1, logAppendTime: -1)
            case .messageTooLarge where batch.recordCount > 1:
                split(batch)
            case .messageTooLarge:
                idempotence?.answered(batch, of: key)
                finish(batch, .failure(.recordTooLarge(bytes: batch.sizeInBytes, limit: -1, setting: "the broker's max.message.bytes")))
            case .outOfOrderSequenceNumber, .unknownProducerId:
                if let state = idempotence, state.isOldest(batch, of: key) {
                    // The broker has no record of the batches before this one: start a new epoch (KIP-360) and
                    // send this batch again as its first.
                    logger.debug("broker lost the producer's sequence state (\(code.name)); bumping the epoch",
                                 metadata: ["kafka.topic": "\(key.topic)", "kafka.partition": "\(key.partition)"])
                    idempotence?.needsEpochBump = true
                }
                failed(batch, retriable: true, reason: code.name, invalidateMetadata: false)
            default:
                let leaderMoved: Set<KafkaErrorCode> = [.notLeaderOrFollower, .unknownTopicOrPartition, .leaderNotAvailable,
                                                        .fencedLeaderEpoch, .unknownLeaderEpoch, .kafkaStorageError]
                var invalidate = leaderMoved.contains(code)
                if invalidate, answer.currentLeader.leaderId >= 0 {
                    // The broker named the new leader (KIP-951): use it now rather than waiting for metadata.
                    cluster.learnLeader(topic: batch.topic, partition: batch.partition, leader: answer.currentLeader.leaderId,
                                        epoch: answer.currentLeader.leaderEpoch, address: endpoints[answer.currentLeader.leaderId])
                    invalidate = false
                }
                failed(batch, retriable: code.isRetriable, reason: code.name, code: code, invalidateMetadata: invalidate)
            }
        }
    }

    // MARK: - Outcomes

    private func succeeded(_ batch: ProducerBatch, baseOffset: Int64, logAppendTime: Int64) {
        idempotence?.answered(batch, of: TopicPartition(topic: batch.topic, partition: batch.partition))
        metrics.recordsSent.increment(by: batch.recordCount)
        metrics.bytesSent.increment(by: batch.sizeInBytes)
        finish(batch, .success((baseOffset, logAppendTime)))
    }

    /// Retries within `retries` and `delivery.timeout.ms` when the error allows it; otherwise reports it.
    private func failed(_ batch: ProducerBatch, retriable: Bool, reason: String, code: KafkaErrorCode? = nil, invalidateMetadata: Bool) {
        let key = TopicPartition(topic: batch.topic, partition: batch.partition)
        batch.lastError = reason
        if invalidateMetadata { cluster.invalidateMetadata() }
        let retryAt = NIODeadline.now() + retryBackoff.delay(attempt: batch.attempts)
        if retriable, batch.attempts < configuration.retries, retryAt < batch.createdAt + configuration.deliveryTimeout.timeAmount, !stopped {
            batch.attempts += 1
            metrics.recordRetries.increment(by: batch.recordCount)
            idempotence?.willRetry(batch, of: key)
            logger.debug("\(key): retrying after \(reason) (attempt \(batch.attempts))")
            accumulator.reenqueue(batch, retryAt: retryAt)
            return
        }
        idempotence?.answered(batch, of: key)
        let error: KafkaProducerError = if let code, !retriable {
            .broker(code, topic: batch.topic, partition: batch.partition)
        } else if retryAt >= batch.createdAt + configuration.deliveryTimeout.timeAmount {
            .deliveryTimedOut(lastError: reason)
        } else {
            .broker(code ?? .networkException, topic: batch.topic, partition: batch.partition)
        }
        finish(batch, .failure(error))
    }

    /// A batch the broker found too large is split into batches of about half its size, sent again in order.
    private func split(_ batch: ProducerBatch) {
        let key = TopicPartition(topic: batch.topic, partition: batch.partition)
        idempotence?.willRetry(batch, of: key)
        do {
            let pieces = try accumulator.split(batch, targetBytes: max(batch.sizeInBytes / 2, 1))
            // The pieces carry the records from here; the original's memory goes back now.
            memory.release(batch.reservedBytes)
            logger.debug("\(key): split a batch of \(batch.recordCount) records into \(pieces) batches after MESSAGE_TOO_LARGE")
        } catch {
            idempotence?.answered(batch, of: key)
            finish(batch, .failure(.recordTooLarge(bytes: batch.sizeInBytes, limit: -1, setting: "the broker's max.message.bytes")))
        }
    }

    private func finish(_ batch: ProducerBatch, _ outcome: Result<(baseOffset: Int64, logAppendTime: Int64), KafkaProducerError>) {
        if case .failure(let error) = outcome {
            metrics.recordErrors.increment(by: batch.recordCount)
            // Records no one hears about otherwise (enqueued on a producer without delivery reports) are logged,
            // and the next flush() throws for them: a failure never ends up only in a counter.
            let unobserved = events == nil ? batch.recordCount - batch.waiterCount : 0
            if unobserved > 0 {
                logger.error("\(unobserved) records failed: \(error)",
                             metadata: ["kafka.topic": "\(batch.topic)", "kafka.partition": "\(batch.partition)"])
                accumulator.noteUnobservedFailures(unobserved, error)
            }
        }
        let reports = batch.complete(outcome)
        if finishing != nil {
            finishing!.append(batch)
        } else {
            giveBack([batch])
        }
        if !reports.isEmpty, events != nil {
            if pendingEvents.isEmpty { eventLoop.execute { self.emitReports() } }
            pendingEvents.append(.deliveryReports(reports))
        }
    }

    /// Runs `body`, giving the batches it finishes back to the memory pool and the accumulator together at its
    /// end: one turn of each lock (which the appending threads are taking) per response rather than per batch.
    private func finishingTogether(_ body: () -> Void) {
        let outer = finishing == nil
        if outer { finishing = [] }
        body()
        guard outer, let done = finishing else { return }
        finishing = nil
        if !done.isEmpty { giveBack(done) }
    }

    /// A finished batch's buffer and memory go back to the pool, and it no longer holds up `flush()`.
    private func giveBack(_ batches: [ProducerBatch]) {
        var buffers: [ByteBuffer] = []
        var bytes = 0
        for batch in batches {
            if let buffer = batch.takeEncodedBuffer() { buffers.append(buffer) }
            bytes += batch.reservedBytes
        }
        memory.recycle(buffers)
        memory.release(bytes)
        metrics.bufferAvailable.record(memory.available)
        accumulator.completed(batches)
    }

    private func emitReports() {
        let finished = pendingEvents
        pendingEvents = []
        events?.append(contentsOf: finished)
    }

    /// Fails every queued batch (closing without delivering).
    func abandonQueued() {
        eventLoop.execute {
            for batch in self.accumulator.removeAll() { self.finish(batch, .failure(.producerClosed)) }
        }
    }
}
