import NIOConcurrencyHelpers

/// Hands out producer ids (InitProducerId) that stay unique across restarts: the next id is checkpointed in
/// the data directory in blocks, so a restart skips at most one block. In a cluster each broker hands out ids
/// from its own range (`base`: the broker id times 2^40), as Kafka's controller gives each broker its own blocks,
/// so that two brokers never give two producers one id.
final class ProducerIdManager: Sendable {
    private struct State {
        var next: Int64
        var reservedUpTo: Int64
    }

    private static let blockSize: Int64 = 1000
    private let path: String
    private let state: NIOLockedValueBox<State>

    init(dataDirectory: String, base: Int64 = 0) {
        path = "\(dataDirectory)/producer-id-block"
        let saved = max((try? readSmallFile(path)).flatMap { Int64($0.filter(\.isNumber)) } ?? 1000, base + 1000)
        state = NIOLockedValueBox(State(next: saved, reservedUpTo: saved))
    }

    func nextProducerId() throws -> Int64 {
        try state.withLockedValue { state in
            if state.next >= state.reservedUpTo {
                state.reservedUpTo = state.next + Self.blockSize
                try writeSmallFile(path, contents: "\(state.reservedUpTo)\n")
            }
            defer { state.next += 1 }
            return state.next
        }
    }
}
