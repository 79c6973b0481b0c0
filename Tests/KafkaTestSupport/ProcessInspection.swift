import Foundation

/// What Linux's `/proc` tells about a running process: for tests that check a broker process keeps its memory
/// and descriptors bounded. Nil where `/proc` is not there (not Linux) or the process is gone.
public enum ProcessInspection {
    /// Resident memory (`VmRSS` of `/proc/<pid>/status`), in bytes.
    public static func residentBytes(of pid: Int32) -> Int? {
        guard let status = readProcFile("/proc/\(pid)/status"),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return nil }
        // "VmRSS:     12345 kB"
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 2, let kilobytes = Int(fields[1]) else { return nil }
        return kilobytes * 1024
    }

    /// Open file descriptors (entries of `/proc/<pid>/fd`).
    public static func openDescriptorCount(of pid: Int32) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }

    /// The whole text of a `/proc` file. They report a size of 0 and come in pieces, so this reads until the end
    /// rather than trusting the size.
    public static func readProcFile(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var data = Data()
        while let chunk = try? handle.read(upToCount: 1 << 16), !chunk.isEmpty { data.append(chunk) }
        return String(decoding: data, as: UTF8.self)
    }

    /// Open sockets among them (links to `socket:[inode]`), the listening socket included.
    public static func openSocketCount(of pid: Int32) -> Int? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return nil }
        return entries.count { entry in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(entry)"))?.hasPrefix("socket:") == true
        }
    }

    /// Whether process `pid` itself holds a TCP socket listening on `port` (any local address): the inodes of the
    /// listening sockets of `/proc/net/tcp` and `tcp6` on that port, among the process's descriptors. Unlike a
    /// successful connection, this cannot be fooled by another process that took the port.
    public static func listens(pid: Int32, port: Int) -> Bool {
        let portField = String(format: "%04X", port)
        var inodes: Set<String> = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            for line in (readProcFile(table) ?? "").split(separator: "\n").dropFirst() {
                // "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ..."
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count > 9, fields[3] == "0A", fields[1].hasSuffix(":\(portField)") else { continue }
                inodes.insert("socket:[\(fields[9])]")
            }
        }
        guard !inodes.isEmpty, let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return false }
        return entries.contains { entry in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(entry)")).map(inodes.contains) == true
        }
    }
}
