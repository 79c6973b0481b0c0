/// Why compressing or decompressing failed.
///
/// Inspect ``reason`` to tell the cases apart:
///
/// ```swift
/// do {
///     try workspace.decompress(bytes, codec: .zstd, maxOutputBytes: limit, into: &out)
/// } catch let error {
///     if case .outputLimitExceeded = error.reason { /* the batch is too large for us */ }
/// }
/// ```
public struct CompressionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of failure.
    public enum Reason: Sendable, Hashable {
        /// The input is not valid data for the codec: truncated, damaged, or not that format at all.
        /// The detail is short and, where the library gave one, carries its message.
        case corruptInput(detail: String)
        /// Decompressing would produce more than `limit` bytes (the `maxOutputBytes` of the call).
        case outputLimitExceeded(limit: Int)
        /// The codec library failed for a reason other than bad input (for example it could not allocate).
        /// `message` is the library's text, `code` its numeric code where it has one, else 0.
        case libraryFailure(message: String, code: Int)
        /// The requested level is outside ``CompressionCodec/supportedLevels``.
        case unsupportedLevel(Int)
        /// The input is larger than this module handles in one call (`Int32.max` bytes, Kafka's own limit).
        case inputTooLarge(byteCount: Int)
    }

    /// The codec that failed.
    public var codec: CompressionCodec
    /// What went wrong.
    public var reason: Reason

    /// Creates an error for `codec` with the given reason.
    public init(codec: CompressionCodec, reason: Reason) {
        self.codec = codec
        self.reason = reason
    }

    /// The input is not valid data for `codec`.
    public static func corruptInput(_ codec: CompressionCodec, _ detail: String) -> CompressionError {
        CompressionError(codec: codec, reason: .corruptInput(detail: detail))
    }

    /// Decompressing would produce more than `limit` bytes.
    public static func outputLimitExceeded(_ codec: CompressionCodec, limit: Int) -> CompressionError {
        CompressionError(codec: codec, reason: .outputLimitExceeded(limit: limit))
    }

    /// The codec library failed with `message` (and `code`, where it has one).
    public static func libraryFailure(_ codec: CompressionCodec, _ message: String, code: Int = 0) -> CompressionError {
        CompressionError(codec: codec, reason: .libraryFailure(message: message, code: code))
    }

    /// The codec and what went wrong, in one line.
    public var description: String {
        switch reason {
        case .corruptInput(let detail):
            "\(codec): corrupt input: \(detail)"
        case .outputLimitExceeded(let limit):
            "\(codec): decompressed data exceeds the limit of \(limit) bytes"
        case .libraryFailure(let message, let code):
            "\(codec): library failure (\(code)): \(message)"
        case .unsupportedLevel(let level):
            "\(codec): unsupported compression level \(level)"
        case .inputTooLarge(let byteCount):
            "\(codec): input of \(byteCount) bytes is too large"
        }
    }
}
