/// Parses our schema notation. One message per block:
///
///     request ProduceRequest apiKey=0 versions=3-11 flexible=9+
///       TransactionalId string nullable default=null
///       TopicData []TopicProduceData
///         Name string
///
/// A field line is `Name type [versions] [nullable[=R]] [tag=N[@R]] [default=V] [ignorable] [flexible=none]`;
/// indentation (two spaces a level) nests the fields of a struct. `struct Name` at the first level declares a
/// struct that fields reference by type name. `#` starts a comment line.
public struct SchemaError: Error, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { "\(file):\(line): \(message)" }
}

public enum SchemaParser {
    public static func parse(_ text: String, fileName: String) throws -> SchemaFile {
        var parser = LineParser(fileName: fileName)
        var messages: [MessageSpec] = []
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap {
            (index, line) -> (Int, Int, Substring)? in
            let trimmed = line.drop(while: { $0 == " " })
            if trimmed.isEmpty || trimmed.hasPrefix("#") { return nil }
            return (index + 1, line.count - trimmed.count, trimmed)
        }[...]
        while let (number, indent, content) = lines.first {
            parser.line = number
            guard indent == 0 else { throw parser.error("expected a message header, found an indented line") }
            lines = lines.dropFirst()
            var message = try parser.header(content)
            var body: [(Int, Int, Substring)] = []
            while let next = lines.first, next.1 > 0 {
                body.append(next)
                lines = lines.dropFirst()
            }
            var rest = body[...]
            while let (lineNumber, level, line) = rest.first {
                parser.line = lineNumber
                guard level == 2 else { throw parser.error("unexpected indentation") }
                if line.hasPrefix("struct ") {
                    rest = rest.dropFirst()
                    let name = String(line.dropFirst("struct ".count).split(separator: " ")[0])
                    let fields = try parser.fields(&rest, level: 4, within: message.versions)
                    message.commonStructs.append(StructSpec(name: name, fields: fields))
                } else {
                    message.fields += try parser.fields(&rest, level: 2, within: message.versions)
                }
            }
            messages.append(message)
        }
        return SchemaFile(name: fileName, messages: messages)
    }
}

private struct LineParser {
    var fileName: String
    var line = 0

    func error(_ message: String) -> SchemaError {
        SchemaError(file: fileName, line: line, message: message)
    }

    func header(_ content: Substring) throws -> MessageSpec {
        let words = content.split(separator: " ")
        guard words.count >= 3, let kind = MessageKind(rawValue: String(words[0])) else {
            throw error("expected `request|response|header|data Name ...`")
        }
        var message = MessageSpec(
            kind: kind, name: String(words[1]), apiKey: nil, versions: VersionRange(0, 0),
            flexibleVersions: nil, fields: [], commonStructs: []
        )
        var sawVersions = false
        for word in words.dropFirst(2) {
            let (key, value) = try keyValue(word)
            switch key {
            case "apiKey":
                guard let apiKey = Int16(value) else { throw error("bad apiKey \(value)") }
                message.apiKey = apiKey
            case "versions":
                message.versions = try range(value)
                sawVersions = true
            case "flexible":
                message.flexibleVersions = value == "none" ? nil : try range(value)
            default:
                throw error("unknown message attribute \(key)")
            }
        }
        guard sawVersions else { throw error("missing versions=") }
        if (kind == .request || kind == .response) && message.apiKey == nil { throw error("missing apiKey=") }
        return message
    }

    /// Reads consecutive field lines at `level`, with their nested lines; stops at a `struct` line.
    mutating func fields(
        _ lines: inout ArraySlice<(Int, Int, Substring)>, level: Int, within parent: VersionRange
    ) throws -> [FieldSpec] {
        var result: [FieldSpec] = []
        while let (number, indent, content) = lines.first, indent == level {
            line = number
            if content.hasPrefix("struct ") { break }
            lines = lines.dropFirst()
            var field = try field(content, within: parent)
            if let next = lines.first, next.1 > level {
                guard next.1 == level + 2 else { line = next.0; throw error("unexpected indentation") }
                field.fields = try fields(&lines, level: level + 2, within: field.versions)
            }
            result.append(field)
        }
        return result
    }

    func field(_ content: Substring, within parent: VersionRange) throws -> FieldSpec {
        let words = content.split(separator: " ")
        guard words.count >= 2 else { throw error("a field needs a name and a type") }
        var field = FieldSpec(
            name: String(words[0]), type: FieldType(parsing: words[1]), versions: parent, nullableVersions: nil,
            tag: nil, taggedVersions: nil, defaultValue: nil, ignorable: false, neverFlexible: false, fields: []
        )
        for word in words.dropFirst(2) {
            if let versions = VersionRange(parsing: word) {
                guard let clipped = versions.intersection(parent) else { throw error("versions outside the parent's") }
                field.versions = clipped
                continue
            }
            switch word {
            case "nullable": field.nullableVersions = field.versions; continue
            case "ignorable": field.ignorable = true; continue
            default: break
            }
            let (key, value) = try keyValue(word)
            switch key {
            case "nullable":
                field.nullableVersions = try range(value).intersection(field.versions)
            case "tag":
                let parts = value.split(separator: "@", maxSplits: 1)
                guard let tag = UInt32(parts[0]) else { throw error("bad tag \(value)") }
                field.tag = tag
                field.taggedVersions = parts.count == 2 ? try range(parts[1]).intersection(field.versions) : field.versions
                guard field.taggedVersions == field.versions else {
                    throw error("a tagged field must be tagged in every version it exists in")
                }
            case "default":
                field.defaultValue = String(value)
            case "flexible":
                guard value == "none" else { throw error("only flexible=none is supported on a field") }
                field.neverFlexible = true
            default:
                throw error("unknown field attribute \(key)")
            }
        }
        if field.nullableVersions != nil && !field.type.canBeNull {
            throw error("\(field.name): this type cannot be nullable")
        }
        return field
    }

    func keyValue(_ word: Substring) throws -> (Substring, Substring) {
        guard let equals = word.firstIndex(of: "=") else { throw error("expected key=value, found \(word)") }
        return (word[..<equals], word[word.index(after: equals)...])
    }

    func range(_ text: Substring) throws -> VersionRange {
        guard let range = VersionRange(parsing: text) else { throw error("bad version range \(text)") }
        return range
    }
}
