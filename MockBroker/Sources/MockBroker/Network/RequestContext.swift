import KafkaProtocol
import Logging
import NIOCore

/// What a handler knows about the request beyond its body.
struct RequestContext: Sendable {
    let header: RequestHeader
    let eventLoop: any EventLoop
    let remoteAddress: SocketAddress?
    var logger: Logger

    var apiVersion: Int16 { header.requestApiVersion }
    var clientId: String? { header.clientId }

    /// Wall-clock milliseconds since the epoch, the unit of Kafka timestamps.
    static func nowMilliseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }

    var now: Int64 { Self.nowMilliseconds() }
}

#if canImport(Glibc)
import Glibc
#endif
