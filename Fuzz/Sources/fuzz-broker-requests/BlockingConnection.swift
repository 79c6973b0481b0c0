import Glibc

/// A TCP connection to the broker on loopback, used synchronously, with every wait bounded by `poll` and carried
/// on through signals (libFuzzer's -timeout sets off SIGALRM). The harness talks to the broker exactly as a
/// hostile client would: the broker's pipeline, threads and handlers are the real ones.
final class BlockingConnection {
    private let descriptor: Int32
    /// Bytes received that do not yet make a whole response frame.
    private var pending: [UInt8] = []

    /// How a wait for a response ended.
    enum Outcome: Hashable {
        /// The response with the awaited correlation id arrived.
        case answered
        /// The broker closed the connection (what it does with bytes that are not a request it serves).
        case closed
        /// Nothing conclusive before the deadline (a long-polling fetch, a join waiting for other members).
        case timedOut
    }

    init?(port: Int) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        // Non-blocking, so that a signal (libFuzzer's -timeout alarm) cannot interrupt the connect halfway.
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 || (errno == EINPROGRESS && Self.finishConnecting(descriptor)) else {
            close(descriptor)
            return nil
        }
        var noDelay: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// Waits (up to 10 s) for a non-blocking connect to complete; true if it succeeded.
    private static func finishConnecting(_ descriptor: Int32) -> Bool {
        guard waitFor(Int16(POLLOUT), on: descriptor, timeoutMilliseconds: 10_000) else { return false }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0
    }

    /// `poll` for one descriptor, carrying on after signals; true when it is ready.
    private static func waitFor(_ events: Int16, on descriptor: Int32, timeoutMilliseconds: Int64) -> Bool {
        let deadline = nowMilliseconds() + timeoutMilliseconds
        while true {
            let remaining = deadline - nowMilliseconds()
            guard remaining > 0 else { return false }
            var poller = pollfd(fd: descriptor, events: events, revents: 0)
            let ready = poll(&poller, 1, Int32(remaining))
            if ready < 0 && errno == EINTR { continue }
            return ready == 1
        }
    }

    /// Writes all of `bytes`; false when the broker has closed the connection (or the write would block past
    /// `timeoutMilliseconds`, which means the broker stopped reading).
    func sendAll(_ bytes: [UInt8], timeoutMilliseconds: Int64) -> Bool {
        var offset = 0
        while offset < bytes.count {
            guard Self.waitFor(Int16(POLLOUT), on: descriptor, timeoutMilliseconds: Int64(timeoutMilliseconds)) else {
                return false
            }
            let written = bytes.withUnsafeBytes {
                send(descriptor, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if written < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    /// Reads response frames, discarding them, until the one for `correlationId`, the end of the stream, or
    /// `timeoutMilliseconds`.
    func awaitResponse(correlationId: Int32, timeoutMilliseconds: Int64) -> Outcome {
        let deadline = Self.nowMilliseconds() + timeoutMilliseconds
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            if takeFrames(upTo: correlationId) { return .answered }
            guard Self.waitFor(Int16(POLLIN), on: descriptor, timeoutMilliseconds: deadline - Self.nowMilliseconds()) else {
                return .timedOut
            }
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }
            if count < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            guard count > 0 else { return .closed } // EOF, or a reset
            pending.append(contentsOf: chunk[0..<count])
        }
    }

    /// Drops the whole frames at the front of `pending`; true once one answers `correlationId`.
    private func takeFrames(upTo correlationId: Int32) -> Bool {
        var start = 0
        defer { pending.removeFirst(start) }
        while pending.count - start >= 8 {
            let size = Self.int32(pending, at: start)
            guard size >= 4, pending.count - start - 4 >= Int(size) else { return false }
            let answered = Self.int32(pending, at: start + 4) == correlationId
            start += 4 + Int(size)
            if answered { return true }
        }
        return false
    }

    static func int32(_ bytes: [UInt8], at index: Int) -> Int32 {
        Int32(bitPattern: UInt32(bytes[index]) << 24 | UInt32(bytes[index + 1]) << 16
            | UInt32(bytes[index + 2]) << 8 | UInt32(bytes[index + 3]))
    }

    static func nowMilliseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }
}
