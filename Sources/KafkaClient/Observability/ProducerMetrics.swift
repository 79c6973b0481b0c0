import Metrics

/// The producer's swift-metrics instruments. Every one carries the dimension `client_id` (`client.id`); they are
/// updated a batch or a request at a time, never per record. Names and meanings are listed in the README's
/// Observability section.
struct ProducerMetrics: Sendable {
    /// `kafka_producer_records_sent_total`: records the brokers acknowledged.
    let recordsSent: Counter
    /// `kafka_producer_bytes_sent_total`: bytes of the acknowledged batches, as sent (compressed).
    let bytesSent: Counter
    /// `kafka_producer_record_errors_total`: records that failed for good.
    let recordErrors: Counter
    /// `kafka_producer_record_retries_total`: records sent again after a retriable error.
    let recordRetries: Counter
    /// `kafka_producer_batch_size_bytes`: size of each batch sent, compressed.
    let batchSize: Recorder
    /// `kafka_producer_compression_ratio`: compressed size over uncompressed size, per batch (1 without a codec).
    let compressionRatio: Recorder
    /// `kafka_producer_request_latency_seconds`: from a Produce request's write to its answer.
    let requestLatency: Timer
    /// `kafka_producer_buffer_available_bytes`: what is left of `buffer.memory`.
    let bufferAvailable: Gauge
    /// `kafka_producer_requests_in_flight`: Produce requests sent and not yet answered.
    let requestsInFlight: Gauge

    init(clientId: String, factory: any MetricsFactory) {
        let dimensions = [("client_id", clientId)]
        recordsSent = Counter(label: "kafka_producer_records_sent_total", dimensions: dimensions, factory: factory)
        bytesSent = Counter(label: "kafka_producer_bytes_sent_total", dimensions: dimensions, factory: factory)
        recordErrors = Counter(label: "kafka_producer_record_errors_total", dimensions: dimensions, factory: factory)
        recordRetries = Counter(label: "kafka_producer_record_retries_total", dimensions: dimensions, factory: factory)
        batchSize = Recorder(label: "kafka_producer_batch_size_bytes", dimensions: dimensions, factory: factory)
        compressionRatio = Recorder(label: "kafka_producer_compression_ratio", dimensions: dimensions, factory: factory)
        requestLatency = Timer(label: "kafka_producer_request_latency_seconds", dimensions: dimensions, factory: factory)
        bufferAvailable = Gauge(label: "kafka_producer_buffer_available_bytes", dimensions: dimensions, factory: factory)
        requestsInFlight = Gauge(label: "kafka_producer_requests_in_flight", dimensions: dimensions, factory: factory)
    }
}
