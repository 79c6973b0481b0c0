import KafkaClient
import KafkaTestSupport
import MetricsTestKit
import MockBroker
import Testing

@Suite("Client metrics")
struct MetricsTests {
    @Test("producer and consumer report records, bytes, batches, latencies, lag, rebalances and connections, labelled with client.id")
    func reported() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("measured", partitions: 2)
            let metrics = TestMetrics()
            let producer = try KafkaProducer(configuration: producerConfiguration(broker) {
                $0.client.clientId = "measured-producer"
                $0.client.metricsFactory = metrics
                $0.compression = .lz4
            }, logger: testLogger)
            for index in 0..<100 {
                try await producer.enqueue(ProducerRecord(topic: "measured", partition: Int32(index % 2), value: String(repeating: "v", count: 100)))
            }
            try await producer.flush()
            let producerLabel = [("client_id", "measured-producer")]
            #expect(try metrics.expectCounter("kafka_producer_records_sent_total", producerLabel).totalValue == 100)
            #expect(try metrics.expectCounter("kafka_producer_bytes_sent_total", producerLabel).totalValue > 0)
            #expect(try !metrics.expectRecorder("kafka_producer_batch_size_bytes", producerLabel).values.isEmpty)
            let ratios = try metrics.expectRecorder("kafka_producer_compression_ratio", producerLabel).values
            #expect(!ratios.isEmpty && ratios.allSatisfy { $0 > 0 && $0 < 1 }, "lz4 shrinks repeated bytes: \(ratios)")
            #expect(try !metrics.expectTimer("kafka_producer_request_latency_seconds", producerLabel).values.isEmpty)
            #expect(try metrics.expectGauge("kafka_producer_buffer_available_bytes", producerLabel).lastValue == Double(32 * 1024 * 1024))
            #expect(try (metrics.expectGauge("kafka_client_connections", producerLabel).lastValue ?? 0) >= 1)
            await producer.shutdown()

            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "measuring") {
                $0.client.clientId = "measured-consumer"
                $0.client.metricsFactory = metrics
            }, logger: testLogger)
            try consumer.subscribe(topics: ["measured"])
            _ = try await consume(consumer, count: 100)
            try await consumer.commit()
            await consumer.close()
            let consumerLabel = [("client_id", "measured-consumer")]
            #expect(try metrics.expectCounter("kafka_consumer_records_consumed_total", consumerLabel).totalValue == 100)
            #expect(try metrics.expectCounter("kafka_consumer_bytes_fetched_total", consumerLabel).totalValue > 0)
            #expect(try !metrics.expectTimer("kafka_consumer_fetch_latency_seconds", consumerLabel).values.isEmpty)
            #expect(try metrics.expectCounter("kafka_consumer_rebalances_total", consumerLabel).totalValue >= 1)
            #expect(try !metrics.expectTimer("kafka_consumer_commit_latency_seconds", consumerLabel).values.isEmpty)
            for partition in 0..<2 {
                let lag = try metrics.expectGauge("kafka_consumer_records_lag",
                                                  consumerLabel + [("topic", "measured"), ("partition", "\(partition)")])
                #expect(lag.lastValue == 0, "partition \(partition) read to its end")
            }
        }
    }
}

@Suite("Broker metrics")
struct BrokerMetricsTests {
    @Test("the mock broker reports requests by API, bytes in and out, bytes sent by sendfile, connections, groups and members")
    func reported() async throws {
        let metrics = TestMetrics()
        try await withGroupBroker({ $0.metricsFactory = metrics; $0.nodeId = 7 }) { broker in
            try broker.createTopic("observed", partitions: 1)
            let producer = try KafkaProducer(configuration: producerConfiguration(broker), logger: testLogger)
            for index in 0..<50 { try await producer.enqueue(ProducerRecord(topic: "observed", value: "value \(index)")) }
            try await producer.flush()
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "observers"), logger: testLogger)
            try consumer.subscribe(topics: ["observed"])
            _ = try await consume(consumer, count: 50)
            let broker7 = [("broker_id", "7")]
            #expect(try metrics.expectCounter("mock_broker_requests_total", broker7 + [("api", "Produce")]).totalValue >= 1)
            #expect(try metrics.expectCounter("mock_broker_requests_total", broker7 + [("api", "Fetch")]).totalValue >= 1)
            #expect(try metrics.expectCounter("mock_broker_bytes_in_total", broker7).totalValue > 50 * 7)
            #expect(try metrics.expectCounter("mock_broker_bytes_out_total", broker7).totalValue > 50 * 7)
            #expect(try metrics.expectCounter("mock_broker_fetch_bytes_total", broker7 + [("path", "file_region")]).totalValue > 0)
            #expect(try metrics.expectCounter("mock_broker_produced_bytes_total", broker7).totalValue > 0)
            #expect(try (metrics.expectGauge("mock_broker_connections", broker7).lastValue ?? 0) >= 2)
            #expect(try metrics.expectGauge("mock_broker_groups", broker7).lastValue == 1)
            #expect(try metrics.expectGauge("mock_broker_group_members", broker7).lastValue == 1)
            await consumer.close()
            await producer.shutdown()
            #expect(try metrics.expectGauge("mock_broker_group_members", broker7).lastValue == 0, "the member left")
        }
    }
}
