import NIOCore

/// A value a batch refers to instead of holding (``RecordBatchBuilder/append(timestamp:key:referencing:headers:)``):
/// its bytes belong at `offset` bytes into the batch buffer's readable bytes.
public struct ReferencedValue: Sendable {
    public var offset: Int
    public var bytes: ByteBuffer

    public init(offset: Int, bytes: ByteBuffer) {
        self.offset = offset
        self.bytes = bytes
    }
}
