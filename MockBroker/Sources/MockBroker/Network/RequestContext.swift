import KafkaProtocol
import Logging
import NIOCore

/// What a handler knows about the request beyond its body.
struct RequestContext: Sendable {
    let header: RequestHeader
    let eventLoop: any EventLoop
    let remoteAddress: SocketAddress?
    /// The connection's logger, without the request's correlation id.
    let connectionLogger: Logger
    /// Where a Produce puts its appends when the connection handles it together with the produce requests queued
    /// behind it; nil when it is handled alone (it appends at once).
    var appendGroup: AppendGroup? = nil

    /// The connection's logger with the request's correlation id, made when a handler logs: set on every request,
    /// the metadata took 6 % of the broker's time taking produce requests of 16 KB batches (a log handler
    /// such as swift-log's `StreamLogHandler` formats all of a logger's metadata again each time one key is set,
    /// whatever the log level).
    var logger: Logger {
        var logger = connectionLogger
        logger[metadataKey: "correlation"] = "\(header.correlationId)"
        return logger
    }

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
