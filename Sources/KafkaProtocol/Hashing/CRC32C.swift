import CKafkaChecksum
import NIOCore

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of record batches.
///
/// Uses the CPU's CRC-32C instruction (SSE4.2 on x86-64, the CRC extension on ARMv8) when it has one, and
/// slice-by-8 in Swift otherwise: eight 256-entry tables fold eight input bytes per step instead of one. On x86-64
/// with carry-less multiplication, inputs of 128 bytes or more are folded with it instead when the library, timing
/// each as it loads, finds that faster (on AMD's first Zen cores it is 1.4-1.7x faster than the instruction), 64
/// bytes to an instruction where the CPU has AVX-512 with VPCLMULQDQ.
public enum CRC32C {
    /// Whether checksums run on the CPU's CRC-32C instruction.
    public static let usesHardware = kafka_crc32c_hardware_available() != 0

    /// Whether longer inputs are checksummed by folding with carry-less multiplication.
    public static let usesFolding = usesHardware && kafka_crc32c_uses_folding() != 0

    /// Whether longer inputs are folded 64 bytes to an instruction (AVX-512 with VPCLMULQDQ).
    public static let usesWideFolding = usesHardware && kafka_crc32c_uses_wide_folding() != 0

    /// The hardware paths, for tests that check each against slice-by-8 whichever this CPU chose.
    enum HardwarePath: CaseIterable {
        case threeStreams
        case folding
        case wideFolding

        var isAvailable: Bool {
            switch self {
            case .threeStreams: CRC32C.usesHardware
            case .folding: CRC32C.usesHardware && kafka_crc32c_folding_available() != 0
            case .wideFolding: CRC32C.usesHardware && kafka_crc32c_wide_folding_available() != 0
            }
        }
    }

    /// The checksum by one hardware path; call only when `path.isAvailable`.
    static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0, path: HardwarePath) -> UInt32 {
        guard let base = bytes.baseAddress else { return crc }
        switch path {
        case .threeStreams: return ~kafka_crc32c_three_streams(~crc, base, bytes.count)
        case .folding: return ~kafka_crc32c_folded(~crc, base, bytes.count)
        case .wideFolding: return ~kafka_crc32c_folded_wide(~crc, base, bytes.count)
        }
    }

    /// The checksum of `bytes`, continuing from `crc` (the checksum of what came before, 0 to start).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard usesHardware, let base = bytes.baseAddress else { return softwareChecksum(bytes, continuing: crc) }
        return ~kafka_crc32c_hardware(~crc, base, bytes.count)
    }

    /// Slice-by-8, the portable path.
    static func softwareChecksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        table.withUnsafeBufferPointer { table in
            var state = ~crc
            var index = 0
            let count = bytes.count
            while count - index >= 8 {
                let low = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt32.self)) ^ state
                let high = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: index + 4, as: UInt32.self))
                state = table[7 &* 256 &+ Int(low & 0xFF)]
                    ^ table[6 &* 256 &+ Int((low >> 8) & 0xFF)]
                    ^ table[5 &* 256 &+ Int((low >> 16) & 0xFF)]
                    ^ table[4 &* 256 &+ Int(low >> 24)]
                    ^ table[3 &* 256 &+ Int(high & 0xFF)]
                    ^ table[2 &* 256 &+ Int((high >> 8) & 0xFF)]
                    ^ table[1 &* 256 &+ Int((high >> 16) & 0xFF)]
                    ^ table[Int(high >> 24)]
                index &+= 8
            }
            while index < count {
                state = table[Int((state ^ UInt32(bytes[index])) & 0xFF)] ^ (state >> 8)
                index &+= 1
            }
            return ~state
        }
    }

    /// The checksum of a buffer's readable bytes.
    public static func checksum(_ buffer: ByteBuffer) -> UInt32 {
        buffer.withUnsafeReadableBytes { checksum($0) }
    }

    /// Table k maps a byte to its contribution k bytes further along.
    private static let table: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            table[byte] = crc
        }
        for slice in 1..<8 {
            for byte in 0..<256 {
                let previous = table[(slice - 1) * 256 + byte]
                table[slice * 256 + byte] = table[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return table
    }()
}
