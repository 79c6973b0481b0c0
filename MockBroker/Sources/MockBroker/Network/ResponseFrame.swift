import KafkaProtocol
import NIOCore

/// An encoded response: the chunks to write in order. File regions own their descriptor; the connection
/// closes them once written (or when the write fails).
struct ResponseFrame: Sendable {
    var chunks: [WireWriter.Chunk]

    /// Closes the descriptors of the file regions (after they were sent, or instead of sending them).
    func releaseFileRegions() {
        for case .fileRegion(let region) in chunks {
            try? region.fileHandle.close()
        }
    }

    var fileRegionBytes: Int {
        chunks.reduce(0) { total, chunk in
            if case .fileRegion(let region) = chunk { return total + region.readableBytes }
            return total
        }
    }
}
