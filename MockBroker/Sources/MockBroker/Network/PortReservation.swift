import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Holds a stopped broker's port: a TCP socket bound to it and not listening, so that connecting is refused, as
/// it would be to a real broker that is down, and so that no other process's port-0 listener (another test's broker,
/// in a suite run in parallel) is given the port and answers its clients in the stopped broker's place. Released
/// once the broker listens on the port again: its `SO_REUSEADDR` listener may bind beside this socket, which does
/// not listen, so the port is never free in between.
final class PortReservation: Sendable {
    /// The socket, -1 once released (released at most once, whoever calls first).
    private let descriptor: NIOLockedValueBox<Int32>

    /// Binds `host:port`; nil when it cannot (the port already taken, an unknown host): the reservation is a
    /// safeguard, and a broker restarted later reports a port it cannot bind by itself.
    init?(host: String, port: Int) {
        guard port > 0 else { return nil }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_flags = AI_PASSIVE
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let address = found else { return nil }
        defer { freeaddrinfo(found) }
        let descriptor = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
        guard descriptor >= 0 else { return nil }
        // The broker's accepted connections may sit in TIME_WAIT on this port; without SO_REUSEADDR they keep it
        // from binding. Held so, the port is still given to no port-0 bind and to no bind without SO_REUSEADDR
        // (Linux, checked); only an explicit SO_REUSEADDR bind, the restarted broker's, may share it.
        var on: Int32 = 1
        _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        guard bind(descriptor, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
            _ = close(descriptor)
            return nil
        }
        self.descriptor = NIOLockedValueBox(descriptor)
    }

    /// Gives the port back.
    func release() {
        descriptor.withLockedValue { descriptor in
            guard descriptor >= 0 else { return }
            _ = close(descriptor)
            descriptor = -1
        }
    }

    deinit { release() }
}
