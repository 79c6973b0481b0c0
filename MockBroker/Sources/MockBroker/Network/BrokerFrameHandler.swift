import KafkaProtocol
import NIOCore

/// The broker's request framing: a ``KafkaFrameAssembler`` (which refuses a size prefix over
/// `socket.request.max.bytes` before buffering anything), plus word to the connection handler when a request frame
/// is left half-sent and when it is finished, so that it can bound how long a client takes
/// (`socket.partial.frame.timeout.ms`, see ``MockBrokerConfiguration/socketPartialFrameTimeout``).
final class BrokerFrameHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// User inbound events the handler fires down the pipeline.
    enum PartialFrame: Sendable {
        /// Bytes of a request frame arrived, but not all of it.
        case started
        /// The frame that was incomplete is complete now.
        case ended
    }

    private var assembler: KafkaFrameAssembler
    private var partial = false
    private var failed = false

    /// `receiveSlot`: see ``KafkaFrameHandler/init(maxFrameSize:receiveSlot:)``.
    init(maxFrameSize: Int, receiveSlot: FrameReceiveSlot? = nil) {
        assembler = KafkaFrameAssembler(maxFrameSize: maxFrameSize, receiveSlot: receiveSlot)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return } // the stream lost its framing: nothing after the error is a request
        var read = unwrapInboundIn(data)
        do {
            while let frame = try assembler.nextFrame(from: &read) {
                context.fireChannelRead(wrapInboundOut(frame))
                mark(partial: false, context: context)
            }
            mark(partial: assembler.hasPartialFrame, context: context)
        } catch {
            failed = true
            context.fireErrorCaught(error)
        }
    }

    private func mark(partial now: Bool, context: ChannelHandlerContext) {
        guard now != partial else { return }
        partial = now
        context.fireUserInboundEventTriggered(now ? PartialFrame.started : PartialFrame.ended)
    }
}

@available(*, unavailable)
extension BrokerFrameHandler: Sendable {}
