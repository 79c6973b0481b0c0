/// The random numbers the sticky partitioner draws, one per batch: SplitMix64, seeded once from the system.
/// `Int32.random(in:)` with the system generator costs a `getrandom` system call per draw, taken under the
/// accumulator's lock (Java draws from `ThreadLocalRandom` for the same reason).
struct PartitionChooser: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64 = .random(in: .min ... .max)) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A partition in `0..<count`.
    mutating func partition(below count: Int32) -> Int32 { Int32.random(in: 0..<count, using: &self) }
}
