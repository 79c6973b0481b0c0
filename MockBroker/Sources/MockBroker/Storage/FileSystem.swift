import Foundation
import NIOConcurrencyHelpers

/// Small whole-file helpers for the broker's metadata files (checkpoints, topic metadata).

func listDirectory(_ path: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: path)
}

func readSmallFile(_ path: String) throws -> String {
    try String(contentsOfFile: path, encoding: .utf8)
}

/// Writes through a temporary file and a rename, so a crash leaves the old or the new contents, never half; the
/// temporary file is fsync'd once before the rename, as Kafka does its checkpoint files. (Foundation's
/// `String.write(toFile:)` fsyncs on its own: writing with it and then syncing again paid for two.)
func writeSmallFile(_ path: String, contents: String) throws {
    let temporary = path + ".tmp"
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw StorageError("open", path: temporary) }
    // The first failure, with its errno (close would overwrite it).
    var failure: StorageError?
    let bytes = Array(contents.utf8)
    bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let result = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if result < 0, errno == EINTR { continue }
            guard result > 0 else {
                failure = StorageError("write", path: temporary)
                return
            }
            offset += result
        }
    }
    if failure == nil, fsync(descriptor) != 0 { failure = StorageError("fsync", path: temporary) }
    close(descriptor)
    if let failure { throw failure }
    guard rename(temporary, path) == 0 else { throw StorageError("rename", path: path) }
}

extension NIOLock {
    /// `withLock` that keeps a typed error type (NIO's is `rethrows`, which widens to `any Error`).
    @inline(__always)
    func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
