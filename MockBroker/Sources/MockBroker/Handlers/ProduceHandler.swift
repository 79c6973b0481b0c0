import KafkaProtocol
import NIOCore

/// Produce: validates each partition's batch and appends it. acks=0 gets no response at all (answering would
/// desynchronise clients that pipeline); acks=1 and acks=all are answered once the batch is in the log (with a
/// single replica they mean the same).
struct ProduceHandler: Sendable {
    let state: BrokerState

    func handle(_ request: ProduceRequest, context: RequestContext) -> EventLoopFuture<ProduceResponse?> {
        let now = context.now
        let validAcks = [-1, 0, 1].contains(request.acks)
        var response = ProduceResponse()
        for topic in request.topicData {
            var topicResponse = ProduceResponse.TopicProduceResponse(name: topic.name)
            for partition in topic.partitionData {
                var result = ProduceResponse.PartitionProduceResponse(index: partition.index, baseOffset: -1)
                if !validAcks {
                    result.errorCode = KafkaErrorCode.invalidRequiredAcks.rawValue
                } else if request.transactionalId != nil {
                    result.errorCode = KafkaErrorCode.invalidTxnState.rawValue
                    result.errorMessage = "Transactions are not supported by this broker yet"
                } else {
                    append(partition, topic: topic.name, now: now, into: &result, context: context)
                }
                topicResponse.partitionResponses.append(result)
            }
            response.responses.append(topicResponse)
        }
        return context.eventLoop.makeSucceededFuture(request.acks == 0 ? nil : response)
    }

    private func append(
        _ partition: ProduceRequest.PartitionProduceData, topic: String, now: Int64,
        into result: inout ProduceResponse.PartitionProduceResponse, context: RequestContext
    ) {
        guard let log = state.topics.partition(topic, partition.index) else {
            result.errorCode = KafkaErrorCode.unknownTopicOrPartition.rawValue
            return
        }
        if let injected = state.faults.produceError(topic: topic, partition: partition.index) {
            context.logger.debug("injected \(injected.name) for \(topic)-\(partition.index)")
            result.errorCode = injected.rawValue
            return
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
            return
        }
        do {
            let appended = try log.append(batch, now: now)
            result.baseOffset = appended.baseOffset
            result.logAppendTimeMs = appended.logAppendTime
            result.logStartOffset = appended.logStartOffset
            if !appended.duplicate { state.counters.produced(batch.sizeInBytes) }
        } catch {
            if case .storage(let message) = error { context.logger.error("append to \(topic)-\(partition.index) failed: \(message)") }
            result.errorCode = error.code.rawValue
        }
    }
}
