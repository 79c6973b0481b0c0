import NIOCore

/// Splits a byte stream into Kafka frames (`int32 size` + that many bytes, emitted without the size), refusing
/// a frame larger than `maxFrameSize` before buffering it (a broker's `socket.request.max.bytes`).
public struct KafkaFrameDecoder: ByteToMessageDecoder {
    /// A frame's bytes, without the size prefix.
    public typealias InboundOut = ByteBuffer

    /// Why the stream cannot be read as frames; the connection should be closed.
    public enum FrameError: Error, CustomStringConvertible {
        /// A size prefix above `maxFrameSize`.
        case tooLarge(size: Int, limit: Int)
        /// A negative size prefix.
        case negativeSize(Int32)

        /// What was wrong with the frame, in one line.
        public var description: String {
            switch self {
            case let .tooLarge(size, limit): "frame of \(size) bytes exceeds the limit of \(limit) bytes"
            case let .negativeSize(size): "frame with negative size \(size)"
            }
        }
    }

    /// The largest frame accepted, in bytes.
    public let maxFrameSize: Int

    /// A decoder that refuses frames larger than `maxFrameSize` bytes.
    public init(maxFrameSize: Int) {
        self.maxFrameSize = maxFrameSize
    }

    /// Emits the next frame once all of it has arrived.
    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let size = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return .needMoreData }
        guard size >= 0 else { throw FrameError.negativeSize(size) }
        guard Int(size) <= maxFrameSize else { throw FrameError.tooLarge(size: Int(size), limit: maxFrameSize) }
        guard buffer.readableBytes >= 4 + Int(size) else {
            // Room for the whole frame at once (up to 16 MiB at a time, whatever size a peer claims): otherwise the
            // buffer collecting a large frame grows by doubling, copying what it holds at every step.
            buffer.reserveCapacity(minimumWritableBytes: min(4 + Int(size) - buffer.readableBytes, 16 << 20))
            return .needMoreData
        }
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(size))!))
        return .continue
    }

    /// Emits the frames left complete at the end of the stream; a partial one is dropped.
    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}
