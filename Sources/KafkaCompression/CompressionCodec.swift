/// A compression codec as Kafka names it in the low three bits of a record batch's attributes.
///
/// The raw value is the attributes value itself, so `CompressionCodec(rawValue: Int8(attributes & 0x07))`
/// (or ``init(attributes:)``) decodes it and `rawValue` encodes it.
public enum CompressionCodec: Int8, Sendable, CaseIterable, CustomStringConvertible {
    /// Records are stored as they are.
    case none = 0
    /// gzip (RFC 1952) around deflate.
    case gzip = 1
    /// Snappy, written in the xerial block framing the Java client uses.
    case snappy = 2
    /// The LZ4 frame format with independent 64 KiB blocks.
    case lz4 = 3
    /// Zstandard frames.
    case zstd = 4

    /// The bits of a record batch's attributes that hold the codec.
    public static let attributesMask: Int16 = 0x07

    /// Reads the codec from a record batch's attributes; `nil` for the unassigned values 5–7.
    public init?(attributes: Int16) {
        self.init(rawValue: Int8(truncatingIfNeeded: attributes & Self.attributesMask))
    }

    /// Parses the name Kafka uses in configuration (`compression.type`): "none", "gzip", "snappy", "lz4"
    /// or "zstd", ignoring ASCII case. Returns `nil` for anything else.
    public init?(name: String) {
        switch name.lowercased() {
        case "none": self = .none
        case "gzip": self = .gzip
        case "snappy": self = .snappy
        case "lz4": self = .lz4
        case "zstd": self = .zstd
        default: return nil
        }
    }

    /// The codec's configuration name: "none", "gzip", "snappy", "lz4" or "zstd".
    public var description: String {
        switch self {
        case .none: "none"
        case .gzip: "gzip"
        case .snappy: "snappy"
        case .lz4: "lz4"
        case .zstd: "zstd"
        }
    }

    /// The compression levels the codec accepts, or `nil` when it has no levels (`none`, `snappy`).
    ///
    /// - gzip: `-1...9` (zlib's; `-1` is zlib's default, 6; `0` stores without compressing).
    /// - lz4: `-65537...17`; below 3 uses the fast compressor (negative values trade ratio for speed),
    ///   3 and above the high-compression one, saturating at 12.
    /// - zstd: the linked libzstd's `ZSTD_minCLevel()...ZSTD_maxCLevel()`; `0` means the default, 3.
    public var supportedLevels: ClosedRange<Int>? {
        switch self {
        case .none, .snappy: nil
        case .gzip: GzipDeflater.supportedLevels
        case .lz4: LZ4FrameCompressor.supportedLevels
        case .zstd: ZstdCompressor.supportedLevels
        }
    }
}
