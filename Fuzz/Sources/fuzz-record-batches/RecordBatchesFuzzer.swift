import KafkaCompression
import KafkaProtocol
import NIOCore

// Input: `mode | rest`, mode (mod 3):
// - 0, records field: `rest` is what a Fetch partition or a Produce request carries, read batch by batch.
// - 1, one batch around `rest`: `attributes (1) | record count (2) | records section`; the harness writes a
//   header with the right length and CRC, so that mutations reach decompression and record framing instead of
//   stopping at the checksum.
// - 2, a codec alone: `codec (1) | compressed bytes`.
// Decompression is limited to `maxDecompressedBytes`, so an input that claims gigabytes costs at most that.

/// Small enough to keep every run's memory low, large enough for the fixtures (about 64 KiB decompressed).
let maxDecompressedBytes = 1 << 20

/// Reused across runs, as a consumer reuses one per fetch loop: stale context state would be a bug too.
nonisolated(unsafe) let workspace = CompressionWorkspace()

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size >= 1 else { return 0 }
    let rest = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    switch data[0] % 3 {
    case 0: readRecordsField(ByteBuffer(bytes: rest))
    case 1: readSynthesizedBatch(rest)
    default: decompressAlone(rest)
    }
    return 0
}

func readRecordsField(_ bytes: ByteBuffer) {
    var reader = RecordBatchReader(bytes)
    // As the consumer does: one array for the fetched partition's records, sized once from the batch headers.
    var all: [Record] = []
    all.reserveCapacity(reader.recordCountAhead)
    // Every batch is at least a header long, so the input's size bounds this loop.
    while let batch = try? reader.next() {
        _ = try? batch.verifyChecksum()
        readRecords(of: batch)
        if let records = try? batch.allRecords(workspace: workspace) { all += records }
    }
}

func readSynthesizedBatch(_ rest: UnsafeRawBufferPointer) {
    guard rest.count >= 3 else { return }
    let attributes = Int16(rest[0])
    let recordCount = Int32(UInt16(rest[1]) << 8 | UInt16(rest[2]))
    let section = UnsafeRawBufferPointer(rebasing: rest[3...])
    var buffer = ByteBuffer()
    buffer.writeInteger(Int64(0))                                           // base offset
    buffer.writeInteger(Int32(RecordBatchLayout.headerSize - RecordBatchLayout.logOverhead + section.count))
    buffer.writeInteger(Int32(-1))                                          // partition leader epoch
    buffer.writeInteger(RecordBatchLayout.currentMagic)
    let crcIndex = buffer.writerIndex
    buffer.writeInteger(UInt32(0))                                          // CRC, filled in below
    buffer.writeInteger(attributes)
    buffer.writeInteger(max(recordCount - 1, 0))                            // last offset delta
    buffer.writeInteger(Int64(1_700_000_000_000))                           // base timestamp
    buffer.writeInteger(Int64(1_700_000_000_000))                           // max timestamp
    buffer.writeInteger(Int64(-1))                                          // producer id
    buffer.writeInteger(Int16(-1))                                          // producer epoch
    buffer.writeInteger(Int32(-1))                                          // base sequence
    buffer.writeInteger(recordCount)
    buffer.writeBytes(section)
    let crc = buffer.withUnsafeReadableBytes {
        CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[RecordBatchLayout.attributes...]))
    }
    buffer.setInteger(crc, at: crcIndex)
    guard let batch = try? RecordBatch(buffer) else { return }
    if (try? batch.verifyChecksum()) == nil { fatalError("a batch with a correct CRC fails verification") }
    readRecords(of: batch)
}

/// Iterates every record and header; when all of them read, rebuilds the batch with the builder and checks the
/// records come back the same.
func readRecords(of batch: RecordBatch) {
    _ = try? batch.controlRecordType()
    guard var iterator = try? batch.records(workspace: workspace, maxDecompressedBytes: maxDecompressedBytes) else {
        return
    }
    var records: [Record] = []
    // The header's count bounds the loop (at most Int32.max, but each record takes at least one byte of input).
    while let record = try? iterator.next() {
        _ = record.headers.count
        records.append(record)
    }
    guard records.count == Int(batch.recordCount), (try? iterator.next()) == nil else { return }
    checkRebuilt(records, compression: batch.compression)
}

func checkRebuilt(_ records: [Record], compression: CompressionCodec) {
    var builder = RecordBatchBuilder()
    for record in records {
        let key = record.key.map { Array($0.readableBytesView) }
        let value = record.value.map { Array($0.readableBytesView) }
        withOptionalBytes(key) { key in
            withOptionalBytes(value) { value in
                builder.append(timestamp: record.timestamp, key: key, value: value, headers: record.headers)
            }
        }
    }
    let rebuilt: [Record]
    do {
        rebuilt = try RecordBatch(builder.build(compression: compression, workspace: workspace)).allRecords(workspace: workspace)
    } catch {
        fatalError("records that read do not build and read back with \(compression): \(error)")
    }
    for (original, copy) in zip(records, rebuilt) where
        original.key != copy.key || original.value != copy.value || original.headers != copy.headers
        || original.timestamp != copy.timestamp {
        fatalError("a record changed when rebuilt with \(compression): \(original) became \(copy)")
    }
}

func withOptionalBytes(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> Void) {
    guard let bytes else { return body(nil) }
    bytes.withUnsafeBytes { body($0) }
}

func decompressAlone(_ rest: UnsafeRawBufferPointer) {
    guard rest.count >= 1, let codec = CompressionCodec(rawValue: Int8(rest[0] % 5)) else { return }
    let compressed = UnsafeRawBufferPointer(rebasing: rest[1...])
    var output = ByteBuffer()
    guard (try? workspace.decompress(compressed, codec: codec, maxOutputBytes: maxDecompressedBytes, into: &output)) != nil
    else {
        if output.readableBytes != 0 { fatalError("\(codec): a failed decompression left \(output.readableBytes) bytes") }
        return
    }
    // What came out must survive our own compression.
    var recompressed = ByteBuffer()
    var again = ByteBuffer()
    do {
        try output.withUnsafeReadableBytes { try workspace.compress($0, codec: codec, into: &recompressed) }
        try recompressed.withUnsafeReadableBytes {
            try workspace.decompress($0, codec: codec, maxOutputBytes: maxDecompressedBytes, into: &again)
        }
    } catch {
        fatalError("\(codec): decompressed bytes do not round-trip: \(error)")
    }
    if again != output { fatalError("\(codec): round trip changed the bytes") }
}
