import KafkaProtocol
import NIOCore

/// Produce: validates each partition's batch and appends it on the partition's leader. acks=0 gets no response
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
        var pending: [(topic: Int, partition: Int, log: PartitionLog, lastOffset: Int64)] = []
        for topic in request.topicData {
            var topicResponse = ProduceResponse.TopicProduceResponse(name: topic.name)
            for partition in topic.partitionData {
                var result = ProduceResponse.PartitionProduceResponse(index: partition.index, baseOffset: -1)
                if !validAcks {
                    result.errorCode = KafkaErrorCode.invalidRequiredAcks.rawValue
                } else if request.transactionalId != nil {
                    result.errorCode = KafkaErrorCode.invalidTxnState.rawValue
                    result.errorMessage = "Transactions are not supported by this broker yet"
                } else if let wait = append(partition, topic: topic.name, acks: request.acks, now: now, into: &result,
                                            context: context) {
                    pending.append((response.responses.count, topicResponse.partitionResponses.count, wait.log, wait.lastOffset))
                }
                topicResponse.partitionResponses.append(result)
            }
            response.responses.append(topicResponse)
        }
        if pending.isEmpty {
            return context.eventLoop.makeSucceededFuture(request.acks == 0 ? nil : response)
        }
        return awaitReplication(response, pending: pending, timeoutMs: request.timeoutMs, eventLoop: context.eventLoop)
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

    /// Appends; returns the log and last offset to wait for when acks=all must wait for the ISR.
    private func append(
        _ partition: ProduceRequest.PartitionProduceData, topic: String, acks: Int16, now: Int64,
        into result: inout ProduceResponse.PartitionProduceResponse, context: RequestContext
    ) -> (log: PartitionLog, lastOffset: Int64)? {
        guard let log = state.topics.partition(topic, partition.index) else {
            result.errorCode = KafkaErrorCode.unknownTopicOrPartition.rawValue
            return nil
        }
        if let injected = state.faults.produceError(topic: topic, partition: partition.index) {
            context.logger.debug("injected \(injected.name) for \(topic)-\(partition.index)")
            result.errorCode = injected.rawValue
            return nil
        }
        let batch: RecordBatch
        switch ProduceValidator.validate(partition.records, maxMessageBytes: log.currentConfig.maxMessageBytes) {
        case .success(let valid):
            batch = valid
        case .failure(let rejection):
            context.logger.debug("rejected produce to \(topic)-\(partition.index): \(rejection.message)")
            result.errorCode = rejection.code.rawValue
            result.errorMessage = rejection.message
            if let index = rejection.recordIndex {
                result.recordErrors = [.init(batchIndex: index, batchIndexErrorMessage: rejection.message)]
            }
            return nil
        }
        do {
            let appended = try log.append(batch, now: now, requiredAcks: acks)
            result.baseOffset = appended.baseOffset
            result.logAppendTimeMs = appended.logAppendTime
            result.logStartOffset = appended.logStartOffset
            if !appended.duplicate { state.counters.produced(batch.sizeInBytes) }
            if acks == -1, appended.highWatermark <= appended.lastOffset { return (log, appended.lastOffset) }
        } catch {
            if case .storage(let message) = error { context.logger.error("append to \(topic)-\(partition.index) failed: \(message)") }
            result.errorCode = error.code.rawValue
        }
        return nil
    }
}
