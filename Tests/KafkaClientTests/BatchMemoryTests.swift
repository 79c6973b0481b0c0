import KafkaProtocol
import NIOCore
import Testing

@testable import KafkaClient

/// How batches take `buffer.memory`: as they fill, not all of `batch.size` when they start.
@Suite("Batch memory: batches take buffer.memory as they fill")
struct BatchMemoryTests {
    private static let kibibyte = 1024

    /// An accumulator for one topic of `partitions` partitions, all led by broker 1.
    private func accumulator(batchSize: Int = 1_000_000, bufferMemory: Int = 32 * 1024 * 1024,
                             maxRequestSize: Int = 1_048_576, partitions: Int32 = 1) -> (RecordAccumulator, MemoryPool) {
        var configuration = ProducerConfiguration(bootstrapServers: "127.0.0.1:9092")
        configuration.batchSize = batchSize
        configuration.bufferMemory = bufferMemory
        configuration.maxRequestSize = maxRequestSize
        let memory = MemoryPool(capacity: bufferMemory, pooledBufferSize: configuration.batchLimit)
        let accumulator = RecordAccumulator(configuration: configuration, memory: memory)
        var metadata = ClusterMetadata()
        metadata.brokers[1] = BrokerAddress(host: "127.0.0.1", port: 9092)
        metadata.topics["events"] = ClusterMetadata.Topic(
            name: "events", id: KafkaUUID.zero, error: .none,
            partitions: (0..<partitions).map { .init(id: $0, leader: 1, leaderEpoch: 0, error: .none) })
        accumulator.updatePartitionCounts(from: metadata)
        return (accumulator, memory)
    }

    /// Appends a record of `valueBytes` bytes to `partition`, as the producer does when memory is free now.
    private func append(_ accumulator: RecordAccumulator, valueBytes: Int, partition: Int32 = 0) -> RecordAccumulator.AppendResult {
        let record = ProducerRecord(topic: "events", partition: partition, value: String(repeating: "v", count: valueBytes))
        let recordSize = RecordBatchBuilder.encodedSize(keyLength: nil, valueLength: valueBytes, headers: [],
                                                        timestampDelta: Int64(Int32.max), offsetDelta: Int32.max)
        return accumulator.append(record, placement: .explicit(partition), timestamp: 0, recordSize: recordSize,
                                  reservation: nil, waiter: nil, wake: { _ in })
    }

    /// Appends `count` records of `valueBytes` bytes to partition 0; records an issue and returns false at the first
    /// that is not appended.
    private func appendAll(_ accumulator: RecordAccumulator, count: Int, valueBytes: Int) -> Bool {
        for index in 0..<count {
            guard case .appended = append(accumulator, valueBytes: valueBytes) else {
                Issue.record("record \(index) was not appended")
                return false
            }
        }
        return true
    }

    private func batches(_ accumulator: RecordAccumulator, partition: Int32 = 0) -> [ProducerBatch] {
        accumulator.queuedBatches(for: TopicPartition(topic: "events", partition: partition))
    }

    @Test("a batch starts with 16 KiB of buffer.memory and takes more in doubling steps as it fills, never all of batch.size up front")
    func growsAsItFills() throws {
        let (accumulator, memory) = accumulator()
        let capacity = memory.capacity
        guard case .appended = append(accumulator, valueBytes: 100) else { Issue.record("not appended"); return }
        var batch = try #require(batches(accumulator).first)
        #expect(batch.reservedBytes == 16 * Self.kibibyte)
        #expect(memory.available == capacity - 16 * Self.kibibyte)

        var steps: Set<Int> = [batch.reservedBytes]
        for _ in 0..<2000 {
            guard case .appended = append(accumulator, valueBytes: 100) else { Issue.record("not appended"); return }
            batch = try #require(batches(accumulator).first)
            // What the batch holds is covered, and it holds at most twice what it needs (or its first 16 KiB).
            #expect(batch.sizeInBytes <= batch.reservedBytes)
            #expect(batch.reservedBytes <= max(16 * Self.kibibyte, 2 * batch.sizeInBytes))
            steps.insert(batch.reservedBytes)
        }
        #expect(batches(accumulator).count == 1, "2,000 records of 100 bytes fit one batch of 1,000,000 bytes")
        #expect(memory.available == capacity - batch.reservedBytes)
        // 16 KiB, 32, 64, 128 and 256 KiB for about 230 KB: a handful of steps, not one per record.
        #expect(steps.count == 5)
    }

    @Test("a thousand quiet partitions with a record each hold 16 KiB apiece, so none waits for memory (Java's model would need 1 GB)")
    func quietPartitionsHoldLittle() throws {
        let (accumulator, memory) = accumulator(partitions: 1000)
        for partition: Int32 in 0..<1000 {
            guard case .appended = append(accumulator, valueBytes: 100, partition: partition) else {
                Issue.record("partition \(partition) was not appended to")
                return
            }
        }
        #expect(memory.available == memory.capacity - 1000 * 16 * Self.kibibyte)
        #expect(!memory.isExhausted)
    }

    @Test("once a partition's batch has filled, its next batch starts with all of batch.size (and a kept buffer, when there is one)")
    func busyPartitionStartsFull() throws {
        let (accumulator, memory) = accumulator(batchSize: 100_000)
        // 10 KB records: the tenth does not fit the first batch, which closes full; the second starts at batch.size.
        guard appendAll(accumulator, count: 10, valueBytes: 10_000) else { return }
        let queued = batches(accumulator)
        #expect(queued.count == 2)
        #expect(queued[0].isFull && queued[0].recordCount == 9)
        #expect(queued[1].reservedBytes == 100_000)
        #expect(memory.available == memory.capacity - queued[0].reservedBytes - queued[1].reservedBytes)
    }

    @Test("a batch grows until buffer.memory is used up; then the next record must wait for the least a new batch needs")
    func growsUntilMemoryRunsOut() throws {
        let (accumulator, memory) = accumulator(bufferMemory: 64 * Self.kibibyte)
        var appended = 0
        for _ in 0..<100 {
            switch append(accumulator, valueBytes: 1000) {
            case .appended:
                appended += 1
                continue
            case .needsMemory(let bytes):
                #expect(bytes == 16 * Self.kibibyte)
            default:
                Issue.record("neither appended nor waiting for memory")
            }
            break
        }
        let queued = batches(accumulator)
        // The batch took all 64 KiB (16 + 16 + 32) and then closed: it is limited by buffer.memory, not batch.size.
        #expect(queued.count == 1 && queued[0].isFull)
        #expect(queued[0].reservedBytes == 64 * Self.kibibyte && memory.available == 0)
        #expect(appended == queued[0].recordCount && appended > 50)
    }

    @Test("a max.request.size below batch.size caps the batches, so a broker with a small max.message.bytes needs no batch.size set")
    func maxRequestSizeCapsBatches() throws {
        let (accumulator, _) = accumulator(maxRequestSize: 100_000)
        guard appendAll(accumulator, count: 2000, valueBytes: 100) else { return }
        let queued = batches(accumulator)
        #expect(queued.count >= 2)
        #expect(queued.allSatisfy { $0.sizeInBytes <= 100_000 })
        #expect(queued.dropLast().allSatisfy { $0.isFull && $0.sizeInBytes > 90_000 })
    }
}
