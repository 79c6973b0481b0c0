import NIOCore

/// The records every benchmark writes: 100-byte values that compress like typical text payloads (words from a
/// small vocabulary) and short keys. A fixed seed makes the bytes, and so the compressed sizes and allocation
/// counts, the same on every run.
public struct Payloads: Sendable {
    public static let recordsPerBatch = 1000
    public static let valueSize = 100
    /// One timestamp for all records: every batch of the same records then has the same size (the timestamp
    /// deltas are all zero), which the consumer benchmarks rely on.
    public static let timestamp: Int64 = 1_700_000_000_000

    public let keys: [ByteBuffer]
    public let values: [ByteBuffer]

    public init(count: Int = Payloads.recordsPerBatch, valueSize: Int = Payloads.valueSize, seed: UInt64 = 0x6b61_666b_61) {
        let words = ["order", "created", "user", "id", "amount", "EUR", "status", "shipped", "sku", "warehouse", "42", "2026"]
        var random = SplitMix64(seed: seed)
        values = (0..<count).map { _ in
            var text = ""
            while text.utf8.count < valueSize { text += words[Int(random.next() % UInt64(words.count))] + " " }
            return ByteBuffer(string: String(text.utf8.prefix(valueSize))!)
        }
        keys = (0..<count).map { ByteBuffer(string: "key-\($0 % 100)") }
    }
}

/// A tiny seeded generator (SplitMix64): the standard library's generators cannot be seeded.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
