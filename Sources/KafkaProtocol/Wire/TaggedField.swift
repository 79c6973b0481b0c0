import NIOCore

/// One entry of a flexible version's tagged-field section, kept as raw bytes.
public struct TaggedField: Sendable, Hashable {
    /// The field's tag.
    public var tag: UInt32
    /// The field's encoded value.
    public var data: ByteBuffer

    /// A tagged field with its raw value.
    public init(tag: UInt32, data: ByteBuffer) {
        self.tag = tag
        self.data = data
    }
}
