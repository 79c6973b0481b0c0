import Foundation

/// Creates a fresh, empty directory under the system's temporary directory and returns its path. The caller
/// removes it (or uses ``withTemporaryDirectory(_:_:)``, which does).
///
/// - Parameter label: The start of the directory's name, to tell what left it behind.
public func makeTemporaryDirectory(_ label: String = "kafka-test") throws -> String {
    let path = NSTemporaryDirectory() + "/\(label)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Runs `body` with a fresh temporary directory and removes the directory afterwards, whatever `body` did.
public func withTemporaryDirectory<T>(_ label: String = "kafka-test", _ body: (String) async throws -> T) async throws -> T {
    let directory = try makeTemporaryDirectory(label)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try await body(directory)
}
