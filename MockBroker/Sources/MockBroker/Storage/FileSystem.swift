import Foundation
import NIOConcurrencyHelpers

/// Small whole-file helpers for the broker's metadata files (checkpoints, topic metadata).

func listDirectory(_ path: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: path)
}

func readSmallFile(_ path: String) throws -> String {
    try String(contentsOfFile: path, encoding: .utf8)
}

/// Writes through a temporary file and a rename, so a crash leaves the old or the new contents, never half.
func writeSmallFile(_ path: String, contents: String) throws {
    let temporary = path + ".tmp"
    try contents.write(toFile: temporary, atomically: false, encoding: .utf8)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
    try handle.synchronize()
    try handle.close()
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
