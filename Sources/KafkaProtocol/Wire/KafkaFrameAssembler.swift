import NIOCore

/// Splits a byte stream into Kafka frames (`int32 size` + that many bytes, given without the size), copying each
/// byte at most once: a frame that arrived whole inside one read is a slice of that read, and a frame spread over
/// reads is gathered into one buffer allocated at its full size when its size prefix arrives, so it never grows
/// (and copies what it holds) on the way. With a ``FrameReceiveSlot`` the connection reads the rest of such a frame
/// straight into that buffer, and only the part that came with the size prefix is copied.
///
/// A value type with no channel in it: ``KafkaFrameHandler`` (and the mock broker's request handler) feed it reads,
/// and tests feed it bytes directly.
public struct KafkaFrameAssembler: Sendable {
    /// Why the stream cannot be read as frames; the connection should be closed.
    public enum FrameError: Error, Equatable, CustomStringConvertible {
        /// A size prefix above `maxFrameSize`.
        case tooLarge(size: Int, limit: Int)
        /// A negative size prefix.
        case negativeSize(Int32)
        /// A read into a frame's buffer (see ``FrameReceiveSlot``) did not come back: the frame's first part is gone.
        case receiveBufferLost

        /// What was wrong with the frame, in one line.
        public var description: String {
            switch self {
            case let .tooLarge(size, limit): "frame of \(size) bytes exceeds the limit of \(limit) bytes"
            case let .negativeSize(size): "frame with negative size \(size)"
            case .receiveBufferLost: "a read into a partly received frame's buffer did not come back"
            }
        }
    }

    /// The largest frame accepted, in bytes (a broker's `socket.request.max.bytes`, a client's largest response).
    public let maxFrameSize: Int

    /// The most a frame's buffer is given before its bytes arrive: a peer may claim any size up to `maxFrameSize`
    /// with four bytes, so a claim beyond this gets a buffer that grows as the bytes come.
    private static let largestUpfrontCapacity = 16 << 20

    private enum State {
        /// Between frames, holding up to 3 bytes of the next size prefix.
        case header(UInt32, count: Int)
        /// Gathering a frame: `remaining` of its bytes are still to come.
        case body(ByteBuffer, remaining: Int)
        /// A frame of `size` bytes, `received` of them in its buffer, which is in the receive slot or being read into.
        case lent(size: Int, received: Int)
    }

    private var state: State = .header(0, count: 0)
    private let allocator = ByteBufferAllocator()
    private let receiveSlot: FrameReceiveSlot?

    /// An assembler that refuses frames larger than `maxFrameSize` bytes, before buffering any of them; with
    /// `receiveSlot`, the rest of a frame spread over reads is read into the frame's buffer (the reads must then be
    /// the socket's own, from the slot's channel).
    public init(maxFrameSize: Int, receiveSlot: FrameReceiveSlot? = nil) {
        self.maxFrameSize = maxFrameSize
        self.receiveSlot = receiveSlot
    }

    /// Whether some bytes of a frame (or of its size prefix) have arrived but not all of them.
    public var hasPartialFrame: Bool {
        switch state {
        case .header(_, let count): count > 0
        case .body, .lent: true
        }
    }

    /// The next complete frame, taking bytes from `read`; `nil` once `read` is used up with no frame complete (its
    /// bytes are kept for the frame they start). Call until it returns `nil` for each read.
    public mutating func nextFrame(from read: inout ByteBuffer) throws(FrameError) -> ByteBuffer? {
        while true {
            switch state {
            case .body(var frame, let remaining):
                guard read.readableBytes > 0 else { return nil }
                // Released from the state first, so the buffer is uniquely held and the write does not copy it.
                state = .header(0, count: 0)
                let taken = min(remaining, read.readableBytes)
                var part = read.readSlice(length: taken)!
                frame.writeBuffer(&part)
                if taken == remaining { return frame }
                keep(frame, remaining: remaining - taken)
                return nil

            case .lent(let size, let received):
                guard read.readableBytes > 0 else { return nil }
                guard let slot = receiveSlot, !slot.lost else { throw .receiveBufferLost }
                if let frame = slot.takeBack() {
                    // The read went into another buffer: gather it as usual.
                    slot.frameEnded()
                    state = .body(frame, remaining: size - received)
                    continue
                }
                // `read` is the frame's own buffer, this read's bytes after the ones it held.
                guard read.readerIndex == 0, read.writerIndex > received else { throw .receiveBufferLost }
                slot.returned(bytes: read.writerIndex - received)
                if read.writerIndex >= size {
                    state = .header(0, count: 0)
                    slot.frameEnded()
                    if read.writerIndex == size { slot.completedAtReadEnd(size: size) }
                    return read.readSlice(length: size)! // bytes after it (if any) start the next frame
                }
                state = .lent(size: size, received: read.writerIndex)
                slot.lend(read, remaining: size - read.writerIndex)
                read.moveReaderIndex(to: read.writerIndex)
                return nil

            case .header(var prefix, var count):
                let size: Int
                if count == 0, let whole = read.readInteger(as: Int32.self) {
                    size = Int(whole)
                } else {
                    // A size prefix split between reads: rare, byte by byte.
                    while count < 4, let byte = read.readInteger(as: UInt8.self) {
                        prefix = prefix << 8 | UInt32(byte)
                        count += 1
                    }
                    guard count == 4 else {
                        state = .header(prefix, count: count)
                        return nil
                    }
                    state = .header(0, count: 0)
                    size = Int(Int32(bitPattern: prefix))
                }
                guard size >= 0 else { throw .negativeSize(Int32(size)) }
                guard size <= maxFrameSize else { throw .tooLarge(size: size, limit: maxFrameSize) }
                if read.readableBytes >= size {
                    return read.readSlice(length: size)! // whole in this read: no copy
                }
                var frame = Self.buffer(exactly: min(size, Self.largestUpfrontCapacity), allocator: allocator)
                let taken = read.readableBytes
                if taken > 0 {
                    var part = read.readSlice(length: taken)!
                    frame.writeBuffer(&part)
                }
                keep(frame, remaining: size - taken)
                return nil
            }
        }
    }

    /// A buffer of exactly `capacity` bytes. NIO allocates powers of two, and a socket read into a frame's buffer
    /// fills all of its room: the room past the frame's end would take the next frame's first bytes (up to 57 KB behind
    /// a 991 KB produce request, a megabyte behind a 3 MB fetch answer), which then have to be copied out into that
    /// frame's own buffer. A slice of the allocation, the only holder of it, ends where the frame does, so the read
    /// stops there.
    private static func buffer(exactly capacity: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
        var allocation = allocator.buffer(capacity: capacity)
        guard allocation.capacity > capacity else { return allocation }
        allocation.moveWriterIndex(to: capacity)
        var exact = allocation.getSlice(at: 0, length: capacity)!
        exact.moveWriterIndex(to: 0)
        return exact
    }

    /// Waits for the rest of `frame`: in the receive slot when there is one and the buffer has room for the whole
    /// frame.
    private mutating func keep(_ frame: ByteBuffer, remaining: Int) {
        if let slot = receiveSlot, frame.writableBytes >= remaining {
            state = .lent(size: frame.writerIndex + remaining, received: frame.writerIndex)
            slot.lend(frame, remaining: remaining)
        } else {
            state = .body(frame, remaining: remaining)
        }
    }
}
