import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Holds a port: a TCP socket bound to it and not listening, so that connecting is refused, as it is to a real
/// broker that is down, and so that no other process's port-0 listener (another test's broker, in a suite run in
/// parallel) is given the port and answers clients in the stopped broker's place. ``MockCluster`` holds a stopped
/// broker's port so, and releases it once the broker listens there again: its `SO_REUSEADDR` listener may bind
/// beside this socket, which does not listen, so the port is never free in between. Tests use it for "a port nothing
/// listens on".
public final class PortReservation: Sendable {
    /// The port held (the one the system picked, when asked for port 0).
    public let port: Int
    /// The socket, -1 once released (released at most once, whoever calls first).
    private let descriptor: NIOLockedValueBox<Int32>

    /// Binds `host:port` (port 0: a free one); nil when it cannot (the port already taken, an unknown host). For a
    /// stopped broker the reservation is a safeguard: a broker restarted later reports a port it cannot bind itself.
    public init?(host: String = "127.0.0.1", port: Int) {
        guard port >= 0, port <= 65535 else { return nil }
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
        // A stopped broker's connections may sit in TIME_WAIT on its port; without SO_REUSEADDR they keep it from
        // binding. Held so, the port is still given to no port-0 bind and to no bind without SO_REUSEADDR (Linux,
        // checked); only an explicit SO_REUSEADDR bind, a restarted broker's, may share it.
        var on: Int32 = 1
        _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var bound = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = bind(descriptor, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0
            && withUnsafeMutablePointer(to: &bound) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) == 0 }
            }
        guard ok else {
            _ = close(descriptor)
            return nil
        }
        // sin_port and sin6_port sit at the same offset, in network byte order.
        self.port = Int(UInt16(bigEndian: withUnsafeBytes(of: &bound) { $0.load(fromByteOffset: 2, as: UInt16.self) }))
        self.descriptor = NIOLockedValueBox(descriptor)
    }

    /// Gives the port back; again is a no-op.
    public func release() {
        descriptor.withLockedValue { descriptor in
            guard descriptor >= 0 else { return }
            _ = close(descriptor)
            descriptor = -1
        }
    }

    deinit { release() }
}
