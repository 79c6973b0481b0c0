import KafkaProtocol
import NIOCore

/// The broker's request framing: ``KafkaFrameDecoder`` (which refuses a size prefix over
/// `socket.request.max.bytes` before buffering anything), plus word to the connection handler when a request frame
/// is left half-sent and when it is finished, so that it can bound how long a client takes
/// (`socket.partial.frame.timeout.ms`, see ``MockBrokerConfiguration/socketPartialFrameTimeout``).
struct BrokerFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    /// User inbound events the decoder fires down the pipeline.
    enum PartialFrame: Sendable {
        /// Bytes of a request frame arrived, but not all of it.
        case started
        /// The frame that was incomplete is complete now (or the connection ended).
        case ended
    }

    private var frames: KafkaFrameDecoder
    private var partial = false

    init(maxFrameSize: Int) {
        frames = KafkaFrameDecoder(maxFrameSize: maxFrameSize)
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let state = try frames.decode(context: context, buffer: &buffer)
        switch state {
        case .continue:
            // A frame went out; whatever is left starts the next one (reported on the next call).
            mark(partial: false, context: context)
        case .needMoreData:
            mark(partial: buffer.readableBytes > 0, context: context)
        }
        return state
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }

    private mutating func mark(partial now: Bool, context: ChannelHandlerContext) {
        guard now != partial else { return }
        partial = now
        context.fireUserInboundEventTriggered(now ? PartialFrame.started : PartialFrame.ended)
    }
}
