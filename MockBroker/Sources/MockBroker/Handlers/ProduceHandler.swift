import KafkaProtocol
import NIOCore

/// Produce: validates each partition's batch and appends it on the partition's leader, together with the produce
/// requests that arrived with it on the connection when there are any (``AppendGroup``). acks=0 gets no response
/// at all (answering would desynchronise clients that pipeline); acks=1 is answered once the batch is in the
/// leader's log; acks=all once the high watermark has passed it (every in-sync replica has it), which on a lone
/// broker is at once. acks=all needs `min.insync.replicas` in the ISR (NOT_ENOUGH_REPLICAS before the append,
/// NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below it while waiting); a wait longer than the request's
/// timeout is REQUEST_TIMED_OUT, and a leadership lost while waiting NOT_LEADER_OR_FOLLOWER.
struct ProduceHandler: Sendable {
    let state: BrokerState

    func handle(_ request: ProduceRequest, context: RequestContext) -> EventLoopFuture<ProduceResponse?> {
        let now = context.now
        let validAcks = [-1, 0, 1].contains(request.acks)
        var response = ProduceResponse()
        var appends: [(log: PartitionLog, append: PartitionLog.Append)] = []
        var slots: [(topic: Int, partition: Int)] = []
        for topic in request.topicData {
            var topicResponse = ProduceResponse.TopicProduceResponse(name: topic.name)
            for partition in topic.partitionData {
                var result = ProduceResponse.PartitionProduceResponse(index: partition.index, baseOffset: -1)
                if !validAcks {
                    result.errorCode = KafkaErrorCode.invalidRequiredAcks.rawValue
                } else if request.transactionalId != nil {
                    result.errorCode = KafkaErrorCode.invalidTxnState.rawValue
                    result.errorMessage = "Transactions are not supported by this broker yet"
                } else if let (log, batch) = validate(partition, topic: topic.name, into: &result, context: context) {
                    appends.append((log, .init(batch: batch, requiredAcks: request.acks, now: now)))
                    slots.append((response.responses.count, topicResponse.partitionResponses.count))
                }
                topicResponse.partitionResponses.append(result)
            }
            response.responses.append(topicResponse)
        }
        if appends.isEmpty {
            return context.eventLoop.makeSucceededFuture(request.acks == 0 ? nil : response)
        }
        let answered = context.eventLoop.makePromise(of: ProduceResponse?.self)
        let group = context.appendGroup ?? AppendGroup()
        group.add(appends) { outcomes in
            var response = response
            var pending: [(topic: Int, partition: Int, log: PartitionLog, lastOffset: Int64)] = []
            for ((log, append), (slot, outcome)) in zip(appends, zip(slots, outcomes)) {
                record(outcome, of: append.batch, to: log, in: &response.responses[slot.topic].partitionResponses[slot.partition],
                       context: context)
                if request.acks == -1, case .success(let appended) = outcome, appended.highWatermark <= appended.lastOffset {
                    pending.append((slot.topic, slot.partition, log, appended.lastOffset))
                }
            }
            if pending.isEmpty {
                answered.succeed(request.acks == 0 ? nil : response)
            } else {
                answered.completeWith(awaitReplication(response, pending: pending, timeoutMs: request.timeoutMs,
                                                       eventLoop: context.eventLoop))
            }
        }
        if context.appendGroup == nil { group.commit() }
        return answered.futureResult
    }

    /// Answers once every waiting partition is replicated (or failed), or at the request's timeout.
    private func awaitReplication(_ response: ProduceResponse,
                                  pending: [(topic: Int, partition: Int, log: PartitionLog, lastOffset: Int64)],
                                  timeoutMs: Int32, eventLoop: any EventLoop) -> EventLoopFuture<ProduceResponse?> {
        let promise = eventLoop.makePromise(of: ProduceResponse?.self)
        let waiting = NIOLoopBoundBox(WaitingProduce(response: response, remaining: pending.count), eventLoop: eventLoop)
        let finish: @Sendable () -> Void = {
            guard !waiting.value.answered else { return }
            waiting.value.answered = true
            waiting.value.timer?.cancel()
            promise.succeed(waiting.value.response)
        }
        waiting.value.timer = eventLoop.scheduleTask(in: .milliseconds(Int64(max(timeoutMs, 0)))) {
            for (topic, partition, _, _) in pending where !waiting.value.done.contains([topic, partition]) {
                waiting.value.response.responses[topic].partitionResponses[partition].errorCode = KafkaErrorCode.requestTimedOut.rawValue
            }
            finish()
        }
        for (topic, partition, log, lastOffset) in pending {
            log.whenReplicated(through: lastOffset) { code in
                eventLoop.execute {
                    guard !waiting.value.answered else { return }
                    waiting.value.done.insert([topic, partition])
                    if code != .none {
                        waiting.value.response.responses[topic].partitionResponses[partition].errorCode = code.rawValue
                    }
                    waiting.value.remaining -= 1
                    if waiting.value.remaining == 0 { finish() }
                }
            }
        }
        return promise.futureResult
    }

    /// A produce response waiting for acks=all, confined to its connection's event loop.
    private struct WaitingProduce {
        var response: ProduceResponse
        var remaining: Int
        var done: Set<[Int]> = []
        var answered = false
        var timer: Scheduled<Void>?
    }

    /// Checks a partition's batch before it is appended: the partition exists, no fault stands in for it, the bytes
    /// are one valid batch. Returns the log and the batch, or nil with the error in `result`.
    private func validate(
        _ partition: ProduceRequest.PartitionProduceData, topic: String,
        into result: inout ProduceResponse.PartitionProduceResponse, context: RequestContext
    ) -> (PartitionLog, RecordBatch)? {
        guard let log = state.topics.partition(topic, partition.index) else {
            result.errorCode = KafkaErrorCode.unknownTopicOrPartition.rawValue
            return nil
        }
        if let injected = state.faults.produceError(topic: topic, partition: partition.index) {
            context.logger.debug("injected \(injected.name) for \(topic)-\(partition.index)")
            result.errorCode = injected.rawValue
            return nil
        }
        switch ProduceValidator.validate(partition.records, maxMessageBytes: log.currentConfig.maxMessageBytes) {
        case .success(let batch):
            return (log, batch)
        case .failure(let rejection):
            context.logger.debug("rejected produce to \(topic)-\(partition.index): \(rejection.message)")
            result.errorCode = rejection.code.rawValue
            result.errorMessage = rejection.message
            if let index = rejection.recordIndex {
                result.recordErrors = [.init(batchIndex: index, batchIndexErrorMessage: rejection.message)]
            }
            return nil
        }
    }

    /// Puts an append's outcome into the partition's answer.
    private func record(_ outcome: AppendGroup.Outcome, of batch: RecordBatch, to log: PartitionLog,
                        in result: inout ProduceResponse.PartitionProduceResponse, context: RequestContext) {
        switch outcome {
        case .success(let appended):
            result.baseOffset = appended.baseOffset
            result.logAppendTimeMs = appended.logAppendTime
            result.logStartOffset = appended.logStartOffset
            if !appended.duplicate { state.counters.produced(batch.sizeInBytes) }
        case .failure(let error):
            if case .storage(let message) = error {
                context.logger.error("append to \(log.topic)-\(log.partition) failed: \(message)")
            }
            result.errorCode = error.code.rawValue
        }
    }
}
