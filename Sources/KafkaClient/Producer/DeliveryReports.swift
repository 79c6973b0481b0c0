/// The outcomes of one batch's records, in the order they were enqueued: one element of ``ProducerEvents``.
///
/// A batch is written (or fails) as a whole, so the batch keeps one outcome and the records' ids and timestamps;
/// each record's ``DeliveryReport`` is made when it is read. Reporting a batch of ten thousand records costs no
/// per-record work until the application looks.
public struct DeliveryReports: RandomAccessCollection, Sendable {
    /// The topic of every record here.
    public let topic: String
    /// The partition of every record here.
    public let partition: Int32
    /// Why every record here failed; nil when they were all written.
    public let error: KafkaProducerError?
    /// The offset of the first record (-1 with `acks=0`, or when the broker did not say).
    public let baseOffset: Int64
    /// The broker's append time on `LogAppendTime` topics, else -1 (each record keeps its create time).
    let logAppendTime: Int64
    let ids: [UInt64]
    let timestamps: [Int64]

    init(topic: String, partition: Int32, error: KafkaProducerError?, baseOffset: Int64, logAppendTime: Int64,
         ids: [UInt64], timestamps: [Int64]) {
        self.topic = topic
        self.partition = partition
        self.error = error
        self.baseOffset = baseOffset
        self.logAppendTime = logAppendTime
        self.ids = ids
        self.timestamps = timestamps
    }

    /// The records' ids, in order, without making a report per record.
    public var recordIDs: some RandomAccessCollection<ProducerRecordID> & Sendable {
        ids.lazy.map(ProducerRecordID.init(rawValue:))
    }

    /// 0.
    public var startIndex: Int { 0 }
    /// The number of reports.
    public var endIndex: Int { ids.count }

    /// The report of the record at `position` in the batch.
    public subscript(position: Int) -> DeliveryReport {
        let id = ProducerRecordID(rawValue: ids[position])
        if let error { return DeliveryReport(id: id, result: .failure(error)) }
        return DeliveryReport(id: id, result: .success(metadata(at: position)))
    }

    /// Where the record at `position` was written (for a batch that succeeded).
    func metadata(at position: Int) -> RecordMetadata {
        RecordMetadata(topic: topic, partition: partition, offset: baseOffset < 0 ? -1 : baseOffset + Int64(position),
                       timestamp: logAppendTime >= 0 ? logAppendTime : timestamps[position])
    }
}
