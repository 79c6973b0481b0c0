/// Accumulates indented source lines.
struct CodeWriter {
    private(set) var text = ""
    private var depth = 0

    mutating func line(_ content: String = "") {
        if content.isEmpty {
            text += "\n"
        } else {
            text += String(repeating: "    ", count: depth) + content + "\n"
        }
    }

    /// Writes the body one level deeper.
    mutating func indented(_ body: (inout CodeWriter) throws -> Void) rethrows {
        depth += 1
        try body(&self)
        depth -= 1
    }

    /// Writes `opener`, the body one level deeper, then `closer`.
    mutating func block(_ opener: String, closer: String = "}", _ body: (inout CodeWriter) throws -> Void) rethrows {
        line(opener)
        depth += 1
        try body(&self)
        depth -= 1
        line(closer)
    }
}

extension String {
    /// `ThrottleTimeMs` -> `throttleTimeMs`, escaped when it collides with a Swift keyword.
    var lowerCamelCase: String {
        let lowered = prefix(1).lowercased() + dropFirst()
        return swiftKeywords.contains(lowered) ? "`\(lowered)`" : lowered
    }

    /// Swift string literal for the text.
    var swiftLiteral: String {
        var escaped = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return "\"\(escaped)\""
    }
}

private let swiftKeywords: Set<String> = [
    "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init", "inout",
    "internal", "let", "open", "operator", "private", "protocol", "public", "rethrows", "static", "struct",
    "subscript", "typealias", "var", "break", "case", "continue", "default", "defer", "do", "else", "fallthrough",
    "for", "guard", "if", "in", "repeat", "return", "switch", "where", "while", "as", "catch", "false", "is", "nil",
    "super", "self", "Self", "throw", "throws", "true", "try", "Type", "Protocol", "any", "some",
]
