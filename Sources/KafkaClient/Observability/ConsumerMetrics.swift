import Metrics
import NIOConcurrencyHelpers

/// The consumer's swift-metrics instruments, each with the dimension `client_id`; lag gauges also carry `topic`
/// and `partition`. Updated a fetch or a batch at a time, never per record. Names and meanings are listed in the
/// README's Observability section.
final class ConsumerMetrics: Sendable {
    /// `kafka_consumer_records_consumed_total`: records handed to the application.
    let recordsConsumed: Counter
    /// `kafka_consumer_bytes_fetched_total`: record bytes fetched (as fetched, compressed).
    let bytesFetched: Counter
    /// `kafka_consumer_fetch_latency_seconds`: from a Fetch request's write to its answer (long polls included).
    let fetchLatency: Timer
    /// `kafka_consumer_rebalances_total`: group rebalances this member went through.
    let rebalances: Counter
    /// `kafka_consumer_commit_latency_seconds`: OffsetCommit round trips.
    let commitLatency: Timer
    private let clientId: String
    private let factory: any MetricsFactory
    /// `kafka_consumer_records_lag`, per partition, made on first use.
    private let lagGauges = NIOLockedValueBox<[TopicPartition: Gauge]>([:])

    init(clientId: String, factory: any MetricsFactory) {
        self.clientId = clientId
        self.factory = factory
        let dimensions = [("client_id", clientId)]
        recordsConsumed = Counter(label: "kafka_consumer_records_consumed_total", dimensions: dimensions, factory: factory)
        bytesFetched = Counter(label: "kafka_consumer_bytes_fetched_total", dimensions: dimensions, factory: factory)
        fetchLatency = Timer(label: "kafka_consumer_fetch_latency_seconds", dimensions: dimensions, factory: factory)
        rebalances = Counter(label: "kafka_consumer_rebalances_total", dimensions: dimensions, factory: factory)
        commitLatency = Timer(label: "kafka_consumer_commit_latency_seconds", dimensions: dimensions, factory: factory)
    }

    /// Records behind the high watermark for `partition` (`kafka_consumer_records_lag`).
    func recordLag(_ lag: Int64, of partition: TopicPartition) {
        let gauge = lagGauges.withLockedValue { gauges in
            if let known = gauges[partition] { return known }
            let made = Gauge(label: "kafka_consumer_records_lag",
                             dimensions: [("client_id", clientId), ("topic", partition.topic), ("partition", "\(partition.partition)")],
                             factory: factory)
            gauges[partition] = made
            return made
        }
        gauge.record(lag)
    }
}
