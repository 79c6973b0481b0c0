import KafkaProtocol

/// The random numbers the sticky partitioner draws, one per batch, from a ``SplitMix64`` seeded once from the system.
/// `Int32.random(in:)` with the system generator costs a `getrandom` system call per draw, taken under the
/// accumulator's lock (Java draws from `ThreadLocalRandom` for the same reason).
struct PartitionChooser {
    private var source = SplitMix64(seed: .random(in: .min ... .max))

    /// Any 64 bits.
    mutating func next() -> UInt64 { source.next() }

    /// A partition in `0..<count`.
    mutating func partition(below count: Int32) -> Int32 { Int32.random(in: 0..<count, using: &source) }
}
