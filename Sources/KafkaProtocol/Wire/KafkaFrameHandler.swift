import NIOCore

/// The first handler of a Kafka connection's pipeline: reads in, frames out (each without its size prefix), by a
/// ``KafkaFrameAssembler``. A frame over the limit or with a negative size is fired as an error
/// (``KafkaFrameAssembler/FrameError``) and everything after it is dropped: the stream has lost its framing.
///
/// Not `ByteToMessageHandler`: that gathers a large frame in a buffer that grows by doubling and is copied again
/// whenever a frame sliced from it is still held when the next read is appended, about two copies of every byte
/// of a fetch response beyond the socket read.
public final class KafkaFrameHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    private var assembler: KafkaFrameAssembler
    private var failed = false

    /// A handler that refuses frames larger than `maxFrameSize` bytes, before buffering any of them; with
    /// `receiveSlot` (``FrameReceiveSlot/installed(on:)`` on this channel, and this handler first in a plaintext
    /// pipeline) the rest of a large frame is read straight into its buffer.
    public init(maxFrameSize: Int, receiveSlot: FrameReceiveSlot? = nil) {
        assembler = KafkaFrameAssembler(maxFrameSize: maxFrameSize, receiveSlot: receiveSlot)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var read = unwrapInboundIn(data)
        do {
            while let frame = try assembler.nextFrame(from: &read) {
                context.fireChannelRead(wrapInboundOut(frame))
            }
        } catch {
            failed = true
            context.fireErrorCaught(error)
        }
    }
}

@available(*, unavailable)
extension KafkaFrameHandler: Sendable {}
