import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A port of 127.0.0.1 where connecting is refused: a TCP socket bound to it and not listening.
///
/// A stopped broker's port is not enough: tests run in parallel, and the kernel once gave such a port to the next
/// broker started, so "nothing listens" became a working broker. While this socket is held no other socket can bind
/// the port, so it stays refusing until ``close()``.
public final class RefusingPort: Sendable {
    public let port: Int
    /// The descriptor, -1 once closed (so that a second `close()` cannot close a descriptor reused meanwhile).
    private let socket: NIOLockedValueBox<Int32>

    public struct SetupFailed: Error {}

    /// A free port the system picks.
    public convenience init() throws { try self.init(port: 0) }

    /// `port` itself: a stopped broker's, so that its clients find it refusing for the rest of the test. Only this
    /// one sets `SO_REUSEADDR`, as the broker's connections left in `TIME_WAIT` would otherwise keep the port from
    /// binding; a port the system picks is bound without it, so that nothing else can share it.
    public init(port: Int) throws {
        #if canImport(Glibc)
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let socket = Darwin.socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard socket >= 0 else { throw SetupFailed() }
        if port != 0 {
            var on: Int32 = 1
            _ = setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(socket, address, length) == 0 && getsockname(socket, address, &length) == 0
            }
        }
        guard bound else {
            _ = closeSocket(socket)
            throw SetupFailed()
        }
        self.socket = NIOLockedValueBox(socket)
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Releases the port; again is a no-op.
    public func close() {
        socket.withLockedValue { socket in
            guard socket >= 0 else { return }
            _ = closeSocket(socket)
            socket = -1
        }
    }
}

private func closeSocket(_ socket: Int32) -> Int32 {
    #if canImport(Glibc)
    Glibc.close(socket)
    #else
    Darwin.close(socket)
    #endif
}
