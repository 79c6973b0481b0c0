import KafkaProtocol
import NIOCore

/// InitProducerId for idempotent producers: a fresh producer id with epoch 0, or, when the producer names its
/// current id and epoch (KIP-360), the same id with the epoch bumped.
struct InitProducerIdHandler: Sendable {
    let state: BrokerState

    func handle(_ request: InitProducerIdRequest, context: RequestContext) -> EventLoopFuture<InitProducerIdResponse?> {
        var response = InitProducerIdResponse(producerId: -1, producerEpoch: -1)
        if request.transactionalId != nil {
            response.errorCode = KafkaErrorCode.coordinatorNotAvailable.rawValue
            context.logger.info("InitProducerId for a transactional id: transactions are not supported by this broker yet")
        } else if request.producerId >= 0 && request.producerEpoch >= 0 && request.producerEpoch < Int16.max - 1 {
            response.producerId = request.producerId
            response.producerEpoch = request.producerEpoch + 1
        } else {
            do {
                response.producerId = try state.producerIds.nextProducerId()
                response.producerEpoch = 0
            } catch {
                context.logger.error("could not allocate a producer id: \(error)")
                response.errorCode = KafkaErrorCode.kafkaStorageError.rawValue
            }
        }
        return context.eventLoop.makeSucceededFuture(response)
    }
}
