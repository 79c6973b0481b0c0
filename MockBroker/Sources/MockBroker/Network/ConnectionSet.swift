import NIOConcurrencyHelpers
import NIOCore

/// The broker's open client connections: admitted within `max.connections` and `max.connections.per.ip`, and
/// closed all together when the broker stops.
final class ConnectionSet: Sendable {
    /// Why a connection was not admitted.
    enum Refusal: Error, CustomStringConvertible {
        case tooManyConnections(limit: Int)
        case tooManyConnectionsFromAddress(String, limit: Int)

        var description: String {
            switch self {
            case .tooManyConnections(let limit):
                "the broker already has the configured maximum of \(limit) connections (max.connections)"
            case let .tooManyConnectionsFromAddress(address, limit):
                "\(address) already has the configured maximum of \(limit) connections (max.connections.per.ip)"
            }
        }
    }

    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var perAddress: [String: Int] = [:]
    }

    private let maxConnections: Int
    private let maxConnectionsPerAddress: Int
    private let state = NIOLockedValueBox(State())

    init(maxConnections: Int, maxConnectionsPerAddress: Int) {
        self.maxConnections = maxConnections
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
    }

    /// Connections open now.
    var count: Int { state.withLockedValue { $0.channels.count } }

    /// Counts `channel` in if both limits allow it; it is counted out when it closes.
    func admit(_ channel: any Channel) throws(Refusal) {
        let id = ObjectIdentifier(channel)
        // Without an IP address (not expected for TCP) connections share one count.
        let address = channel.remoteAddress?.ipAddress ?? "unknown"
        let refusal = state.withLockedValue { state -> Refusal? in
            guard state.channels.count < maxConnections else { return .tooManyConnections(limit: maxConnections) }
            let fromAddress = state.perAddress[address, default: 0]
            guard fromAddress < maxConnectionsPerAddress else {
                return .tooManyConnectionsFromAddress(address, limit: maxConnectionsPerAddress)
            }
            state.channels[id] = channel
            state.perAddress[address] = fromAddress + 1
            return nil
        }
        if let refusal { throw refusal }
        channel.closeFuture.whenComplete { [weak self] _ in
            self?.state.withLockedValue { state in
                guard state.channels.removeValue(forKey: id) != nil else { return }
                let remaining = state.perAddress[address, default: 1] - 1
                state.perAddress[address] = remaining > 0 ? remaining : nil
            }
        }
    }

    func closeAll() async {
        let open = state.withLockedValue { Array($0.channels.values) }
        for channel in open { try? await channel.close() }
    }
}
