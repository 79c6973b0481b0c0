import Foundation

/// Rows under a header, each column as wide as its widest cell, two spaces apart (the last column unpadded).
struct Table {
    var header: [String]
    var rows: [[String]] = []

    init(_ header: String...) {
        self.header = header
    }

    mutating func add(_ cells: [String]) {
        rows.append(cells)
    }

    var rendered: String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

extension Optional where Wrapped: CustomStringConvertible {
    /// The value, or `-` when there is none (how tables show a missing value).
    var orDash: String { map(\.description) ?? "-" }
}

/// The value as JSON has it: the value, or null.
func jsonValue(_ value: (some Any)?) -> Any { value.map { $0 as Any } ?? NSNull() }
