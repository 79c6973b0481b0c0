#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// `--latency`: end-to-end latencies of values stamped `LATENCY:<microseconds since the epoch>` (the format of
/// `kafka-producer --latency` and `rdkafka_performance -l`), from the stamp to the moment the record is handed out.
struct LatencyRecorder {
    struct Percentiles: Sendable {
        var p50: Double
        var p99: Double
        var max: Double
    }

    private let enabled: Bool
    private var microseconds: [Int64] = []

    init(enabled: Bool) {
        self.enabled = enabled
    }

    mutating func add(_ value: ByteBuffer?) {
        guard enabled, let value, let stamp = Self.stamp(in: value) else { return }
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        microseconds.append(Int64(time.tv_sec) * 1_000_000 + Int64(time.tv_nsec) / 1000 - stamp)
    }

    /// The stamped time, when the value starts with `LATENCY:` and digits.
    private static func stamp(in value: ByteBuffer) -> Int64? {
        value.withUnsafeReadableBytes { bytes -> Int64? in
            let prefix: StaticString = "LATENCY:"
            let prefixBytes = UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
            guard bytes.count > prefixBytes.count, bytes.prefix(prefixBytes.count).elementsEqual(prefixBytes) else { return nil }
            var stamp: Int64 = 0
            var digits = 0
            for byte in bytes.dropFirst(prefixBytes.count) {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 18 else { break }
                stamp = stamp * 10 + Int64(byte - UInt8(ascii: "0"))
                digits += 1
            }
            return digits > 0 ? stamp : nil
        }
    }

    /// Milliseconds; nil without measurements.
    func percentiles() -> Percentiles? {
        guard !microseconds.isEmpty else { return nil }
        let sorted = microseconds.sorted()
        func at(_ fraction: Double) -> Double { Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]) / 1000 }
        return Percentiles(p50: at(0.5), p99: at(0.99), max: Double(sorted[sorted.count - 1]) / 1000)
    }
}
