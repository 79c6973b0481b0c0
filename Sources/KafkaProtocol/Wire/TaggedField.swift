import NIOCore

/// One entry of a flexible version's tagged-field section, kept as raw bytes.
public struct TaggedField: Sendable, Hashable {
    public var tag: UInt32
    public var data: ByteBuffer

    public init(tag: UInt32, data: ByteBuffer) {
        self.tag = tag
        self.data = data
    }
}
