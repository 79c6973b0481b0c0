import CoreMetrics
import Tracing
import NIOCore

/// A broker address, as given in `bootstrap.servers` or learned from Metadata.
public struct BrokerAddress: Sendable, Hashable, CustomStringConvertible {
    /// A host name or an IP address (IPv6 without brackets).
    public var host: String
    /// The TCP port.
    public var port: Int

    /// An address from its parts.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` (`[v6-address]:port` for IPv6 literals).
    public init?(_ text: String) {
        let trimmed = text.trimmingWhitespace()
        guard let colon = trimmed.lastIndex(of: ":"), let port = Int(trimmed[trimmed.index(after: colon)...]), port > 0, port < 65536 else {
            return nil
        }
        var host = trimmed[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else { return nil }
        self.init(host: String(host), port: port)
    }

    /// `host:port`, with an IPv6 host in brackets.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Settings every client (producer, consumer) shares. Names and defaults follow the Java client.
public struct ClientConfiguration: Sendable {
    /// `bootstrap.servers`: brokers to ask for the cluster's metadata first.
    public var bootstrapServers: [BrokerAddress]
    /// `client.id`, sent in every request.
    public var clientId = "swift-kafka"
    /// `request.timeout.ms`: how long to wait for a response. Default 30 s.
    public var requestTimeout: Duration = .seconds(30)
    /// `socket.connection.setup.timeout.ms`. Default 10 s.
    public var connectionSetupTimeout: Duration = .seconds(10)
    /// `reconnect.backoff.ms`: the first wait before reconnecting to a broker. Default 50 ms.
    public var reconnectBackoff: Duration = .milliseconds(50)
    /// `reconnect.backoff.max.ms`: the longest wait; the backoff doubles up to it, with ±20% jitter. Default 1 s.
    public var reconnectBackoffMax: Duration = .seconds(1)
    /// `retry.backoff.ms`: the first wait before retrying a failed request. Default 100 ms.
    public var retryBackoff: Duration = .milliseconds(100)
    /// `retry.backoff.max.ms`: the longest, reached by doubling with jitter. Default 1 s.
    public var retryBackoffMax: Duration = .seconds(1)
    /// `metadata.max.age.ms`: metadata is refreshed at least this often. Default 5 minutes.
    public var metadataMaxAge: Duration = .seconds(5 * 60)
    /// Largest response frame accepted (a safety bound; Kafka's `fetch.max.bytes` default is 50 MiB).
    public var maxResponseBytes = 512 * 1024 * 1024
    /// `send.buffer.bytes`: the socket send buffer (`SO_SNDBUF`) of each broker connection; -1 (the default)
    /// leaves it to the operating system.
    ///
    /// Java's producer sets 128 KiB by default; this client, like librdkafka (`socket.send.buffer.bytes` 0),
    /// keeps the kernel's automatic sizing, which grows the buffer with the connection's bandwidth and delay: a fixed
    /// 128 KiB made the 10 KB produce benchmark markedly slower (BENCHMARKS.md, "What was tried"). Set it for a link
    /// whose bandwidth × delay the automatic sizing's ceiling (`net.ipv4.tcp_wmem`) does not cover; the kernel caps
    /// a size set here at `net.core.wmem_max`.
    public var sendBufferBytes = -1
    /// `receive.buffer.bytes`: the socket receive buffer (`SO_RCVBUF`) of each broker connection; -1 (the
    /// default) leaves it to the operating system.
    ///
    /// Java sets 32 KiB for its producer and 64 KiB for its consumer; this client, like librdkafka
    /// (`socket.receive.buffer.bytes` 0), keeps the kernel's automatic sizing: a fixed 64 KiB made the consumer's
    /// loopback benchmark markedly slower (BENCHMARKS.md, "What was tried"). The kernel caps a size set here at
    /// `net.core.rmem_max`.
    public var receiveBufferBytes = -1
    /// Where the client's metrics go: nil (the default) for swift-metrics' bootstrapped `MetricsSystem.factory`;
    /// a factory of your own keeps them apart (a test, or one registry per client).
    public var metricsFactory: (any MetricsFactory)?
    /// Traces records (a span per record sent and per record handed out, the context carried in record headers):
    /// with a tracer of your own here, or, when nil (the default), with swift-distributed-tracing's bootstrapped
    /// `InstrumentationSystem.tracer`. Nothing is traced, at no cost per record, while that is the no-op tracer.
    public var tracer: (any Tracer)?

    /// Entries of a `bootstrap.servers` string that are not `host:port`; the producer and consumer refuse the
    /// configuration with the first of them named.
    var unparsableBootstrapServers: [String] = []

    /// Settings for these bootstrap brokers, every other setting at its default.
    public init(bootstrapServers: [BrokerAddress]) {
        self.bootstrapServers = bootstrapServers
    }

    /// `bootstrapServers` as Kafka writes them: `host1:9092,host2:9092`. An entry that is not `host:port` (a
    /// port missing or not a number) makes the producer or consumer refuse the configuration, naming it.
    public init(bootstrapServers: String) {
        var addresses: [BrokerAddress] = []
        var unparsable: [String] = []
        for entry in bootstrapServers.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = entry.trimmingWhitespace()
            if let address = BrokerAddress(trimmed) {
                addresses.append(address)
            } else if !trimmed.isEmpty {
                unparsable.append(trimmed)
            }
        }
        self.init(bootstrapServers: addresses)
        unparsableBootstrapServers = unparsable
    }

    /// Why these settings cannot work, if they cannot.
    var problem: String? {
        if let bad = unparsableBootstrapServers.first {
            return "bootstrap.servers entry \"\(bad)\" is not host:port"
        }
        if bootstrapServers.isEmpty { return "bootstrap.servers is empty" }
        // -1 is the system's default; Java's config also takes 0, which then fails each connect (a socket refuses a
        // zero-byte buffer), so it is refused here, up front.
        if sendBufferBytes < -1 || sendBufferBytes == 0 {
            return "send.buffer.bytes must be -1 or positive, not \(sendBufferBytes)"
        }
        if receiveBufferBytes < -1 || receiveBufferBytes == 0 {
            return "receive.buffer.bytes must be -1 or positive, not \(receiveBufferBytes)"
        }
        return nil
    }

    var connection: BrokerConnection.Configuration {
        var configuration = BrokerConnection.Configuration()
        configuration.clientId = clientId
        configuration.requestTimeout = requestTimeout.timeAmount
        configuration.connectTimeout = connectionSetupTimeout.timeAmount
        configuration.maxResponseBytes = maxResponseBytes
        configuration.sendBufferBytes = sendBufferBytes > 0 ? sendBufferBytes : nil
        configuration.receiveBufferBytes = receiveBufferBytes > 0 ? receiveBufferBytes : nil
        return configuration
    }
}

/// Exponential backoff with ±20% jitter, as the Java client computes `reconnect.backoff` and `retry.backoff`.
struct ExponentialBackoff: Sendable {
    var initial: TimeAmount
    var maximum: TimeAmount

    func delay(attempt: Int) -> TimeAmount {
        let base = Double(initial.nanoseconds) * pow2(min(attempt, 30))
        let capped = min(base, Double(maximum.nanoseconds))
        let jittered = capped * Double.random(in: 0.8...1.2)
        return .nanoseconds(Int64(jittered))
    }

    private func pow2(_ exponent: Int) -> Double { Double(1 << exponent) }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}

extension ClientConfiguration {
    /// The factory the client's metrics are made with.
    var metrics: any MetricsFactory { metricsFactory ?? MetricsSystem.factory }
}

extension ClientConfiguration {
    /// The tracer records are traced with, nil when there is none (the no-op tracer).
    var activeTracer: (any Tracer)? {
        if let tracer { return tracer }
        let bootstrapped = InstrumentationSystem.tracer
        return bootstrapped is NoOpTracer ? nil : bootstrapped
    }
}
