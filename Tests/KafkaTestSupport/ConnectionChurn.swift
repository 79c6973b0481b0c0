import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Many short-lived connections, opened and dropped with plain blocking sockets (on a thread of their own, so
/// the test's tasks keep running): what a broker sees from a port scanner, a crash-looping client or a load
/// balancer's health checks.
public enum ConnectionChurn {
    public struct Outcome: Sendable, CustomStringConvertible {
        /// Connections that were established (and then dropped).
        public var connected = 0
        /// Attempts the kernel refused or that failed otherwise.
        public var failed = 0

        public init() {}

        public var description: String { "\(connected) connected and dropped, \(failed) failed" }
    }

    /// Opens `count` connections to `127.0.0.1:port`, `wave` at a time, and drops each: a third closed normally
    /// (FIN), a third reset (`SO_LINGER` 0, so RST), a third after sending the first bytes of a request frame.
    /// Before each wave it waits (up to 10 s, a safety bound) for the listener's accept queue to drain, so that the
    /// kernel never drops a handshake (which a client retries only after a second).
    public static func openAndDrop(count: Int, port: Int, wave: Int = 100) async -> Outcome {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: run(count: count, port: port, wave: wave)) }.start()
        }
    }

    private static func run(count: Int, port: Int, wave: Int) -> Outcome {
        var outcome = Outcome()
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        var opened = 0
        // A safety bound for the whole run; what is left is counted as failed.
        let deadline = ContinuousClock.now + .seconds(90)
        while opened < count {
            guard ContinuousClock.now < deadline else {
                outcome.failed += count - opened
                break
            }
            var polls = 0
            while polls < 10_000, (acceptQueueLength(port: port) ?? 0) > 0 {
                polls += 1
                usleep(1000)
            }
            var sockets: [CInt] = []
            for _ in 0..<min(wave, count - opened) {
                opened += 1
                // Close-on-exec: a child process started meanwhile must not hold these connections open.
                #if canImport(Glibc)
                let descriptor = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
                #else
                let descriptor = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)
                #endif
                guard descriptor >= 0 else {
                    outcome.failed += 1
                    continue
                }
                // Linux bounds connect() by the send timeout: a broker that stops accepting fails the attempt
                // after 5 s instead of leaving it to a minute of handshake retries.
                var timeout = timeval(tv_sec: 5, tv_usec: 0)
                setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                guard connected == 0 else {
                    outcome.failed += 1
                    close(descriptor)
                    continue
                }
                outcome.connected += 1
                sockets.append(descriptor)
            }
            for (index, descriptor) in sockets.enumerated() {
                switch index % 3 {
                case 0:
                    break
                case 1:
                    var value = linger(l_onoff: 1, l_linger: 0)
                    setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size))
                default:
                    // A frame of 100 bytes, of which 6 arrive.
                    let partial: [UInt8] = [0, 0, 0, 100, 0, 18]
                    _ = partial.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
                }
                close(descriptor)
            }
        }
        return outcome
    }

    /// Connections waiting in the accept queue of the socket listening on `127.0.0.1:port`: for a listening
    /// socket, Linux shows that count as `rx_queue` in `/proc/net/tcp`. Nil when it cannot tell.
    public static func acceptQueueLength(port: Int) -> Int? {
        guard let table = ProcessInspection.readProcFile("/proc/net/tcp") else { return nil }
        let local = "0100007F:" + String(format: "%04X", port)
        for line in table.split(separator: "\n").dropFirst() {
            // sl local_address rem_address st tx_queue:rx_queue ...
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 4, fields[1] == local, fields[3] == "0A" else { continue }
            return fields[4].split(separator: ":").last.flatMap { Int($0, radix: 16) }
        }
        return nil
    }
}
