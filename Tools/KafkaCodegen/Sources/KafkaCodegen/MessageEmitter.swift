/// Turns one `MessageSpec` into a Swift struct with nested struct types, a memberwise initializer, a decoder
/// (`init(from:version:)`) and an encoder (`encode(to:version:)`). The generated code calls the primitives in
/// `Sources/KafkaProtocol/Wire`.
struct MessageEmitter {
    let message: MessageSpec
    /// Every struct type of the message, in definition order, with the versions it can occur in.
    private(set) var structs: [(name: String, fields: [FieldSpec], versions: VersionRange)] = []

    init(_ message: MessageSpec) throws {
        self.message = message
        for common in message.commonStructs {
            structs.append((common.name, common.fields, message.versions))
        }
        try collectStructs(message.fields)
    }

    private mutating func collectStructs(_ fields: [FieldSpec]) throws {
        for field in fields {
            guard let name = field.type.structName else { continue }
            if field.nullableVersions != nil && !field.type.isArray {
                throw SchemaError(file: message.name, line: 0, message: "nullable struct fields are not supported")
            }
            if field.fields.isEmpty {
                guard structs.contains(where: { $0.name == name }) else {
                    throw SchemaError(file: message.name, line: 0, message: "\(field.name): unknown struct \(name)")
                }
                continue
            }
            if structs.contains(where: { $0.name == name }) {
                throw SchemaError(file: message.name, line: 0, message: "struct \(name) is defined twice")
            }
            structs.append((name, field.fields, field.versions))
            try collectStructs(field.fields)
        }
    }

    func emit(into w: inout CodeWriter) throws {
        let conformance: String = switch message.kind {
        case .request: "KafkaRequest"
        case .response: "KafkaResponse"
        case .header, .data: "KafkaMessage"
        }
        w.line("/// \(documentation)")
        try w.block("public struct \(message.name): \(conformance) {") { w in
            if message.kind == .request {
                w.line("public typealias Response = \(message.name.dropLast("Request".count))Response")
            }
            if let apiKey = message.apiKey {
                w.line("public static let apiKey = ApiKey(rawValue: \(apiKey))")
            }
            w.line("public static let versions: ClosedRange<Int16> = \(message.versions.lower)...\(message.versions.upper!)")
            w.line("public static let firstFlexibleVersion: Int16? = \(message.flexibleVersions.map { "\($0.lower)" } ?? "nil")")
            w.line()
            try emitBody(fields: message.fields, versions: message.versions, topLevel: true, into: &w)
            for nested in structs {
                w.line()
                w.line("/// A `\(nested.name)` entry of ``\(message.name)``.")
                try w.block("public struct \(nested.name): Sendable, Hashable {") { w in
                    try emitBody(fields: nested.fields, versions: nested.versions, topLevel: false, into: &w)
                }
            }
        }
    }

    private var documentation: String {
        let flexible = message.flexibleVersions.map { ", flexible from v\($0.lower)" } ?? ""
        let range = "versions \(message.versions.lower)–\(message.versions.upper!)\(flexible)."
        switch message.kind {
        case .request, .response:
            return "The \(message.kind.rawValue) of API key \(message.apiKey!), \(range)"
        case .header:
            return "The \(message.name == "RequestHeader" ? "request" : "response") header, \(range)"
        case .data:
            return "Consumer-protocol data carried inside group messages, \(range)"
        }
    }

    // MARK: - One struct

    private func emitBody(fields: [FieldSpec], versions: VersionRange, topLevel: Bool, into w: inout CodeWriter) throws {
        let flex = FlexibleMode(message.flexibleVersions, within: versions)
        for field in fields {
            w.line("/// \(fieldDocumentation(field))")
            w.line("public var \(field.name.lowerCamelCase): \(field.swiftType) = \(field.defaultExpression)")
        }
        if message.flexibleVersions != nil {
            w.line("/// Tagged fields this code does not know, kept so that they survive a decode and re-encode.")
            w.line("public var unknownTaggedFields: [TaggedField] = []")
        }
        w.line()

        // Memberwise initializer with the schema's defaults.
        let parameters = fields.map { "\($0.name.lowerCamelCase): \($0.swiftType) = \($0.defaultExpression)" }
        w.line("/// Creates a value with every field at its schema default.")
        w.line("public init() {}")
        if !parameters.isEmpty {
            w.line()
            w.line("/// Creates a value; fields not given keep their schema defaults.")
            w.line("public init(")
            w.indented { w in
                for (index, parameter) in parameters.enumerated() {
                    w.line(parameter + (index == parameters.count - 1 ? "" : ","))
                }
            }
            w.block(") {") { w in
                for field in fields {
                    let name = field.name.lowerCamelCase
                    w.line("self.\(name) = \(name)")
                }
            }
        }
        w.line()

        // Decoder.
        let access = topLevel ? "public " : ""
        w.line("/// Reads the value as written at `version`.")
        try w.block("\(access)init(from buffer: inout ByteBuffer, version: Int16) throws(KafkaWireError) {") { w in
            if topLevel { w.line("try Self.checkVersion(version)") }
            w.line("self.init()")
            if let declaration = flex.declaration { w.line(declaration) }
            for field in fields where field.tag == nil {
                try emitRead(field, within: versions, flex: flex, into: &w)
            }
            try emitReadTaggedFields(fields.filter { $0.tag != nil }, within: versions, flex: flex, into: &w)
        }
        w.line()

        // Encoder.
        w.line("/// Writes the value as `version` lays it out.")
        try w.block("\(access)func encode(to writer: inout WireWriter, version: Int16) throws(KafkaWireError) {") { w in
            if topLevel { w.line("try Self.checkVersion(version)") }
            if let declaration = flex.declaration { w.line(declaration) }
            for field in fields where field.tag == nil {
                try emitWrite(field, within: versions, flex: flex, into: &w)
            }
            try emitWriteTaggedFields(fields.filter { $0.tag != nil }, within: versions, flex: flex, into: &w)
        }
    }

    private func fieldDocumentation(_ field: FieldSpec) -> String {
        var notes = ["`\(field.name)`", field.type.schemaName, "versions \(field.versions)"]
        if let nullable = field.nullableVersions {
            notes.append(nullable == field.versions ? "nullable" : "nullable in \(nullable)")
        }
        if let tag = field.tag { notes.append("tagged field \(tag)") }
        return notes.joined(separator: ", ") + "."
    }

    // MARK: - Reading

    private func emitRead(_ field: FieldSpec, within versions: VersionRange, flex: FlexibleMode, into w: inout CodeWriter) throws {
        let statement = try readStatement(field, compact: flex.compact(for: field), buffer: "buffer")
        if let condition = field.versions.condition(within: versions) {
            w.block("if \(condition) {") { w in w.line(statement) }
        } else {
            w.line(statement)
        }
    }

    /// `self.x = try <read>` with the null checks the field's versions call for.
    private func readStatement(_ field: FieldSpec, compact: String, buffer: String) throws -> String {
        let name = "self.\(field.name.lowerCamelCase)"
        let read = try readExpression(field.type, compact: compact, buffer: buffer, fieldName: field.name)
        guard field.type.canBeNull, !field.type.isStruct else { return "\(name) = \(read)" }
        guard let nullable = field.nullableVersions else {
            return "\(name) = \(read).notNull(\(field.name.swiftLiteral))"
        }
        if let condition = nullable.condition(within: field.versions) {
            return "\(name) = \(read).notNull(\(field.name.swiftLiteral), unless: \(condition))"
        }
        return "\(name) = \(read)"
    }

    /// An expression reading one value of `type`; null-capable types read as optionals.
    private func readExpression(_ type: FieldType, compact: String, buffer: String, fieldName: String) throws -> String {
        switch type {
        case .bool: return "try \(buffer).readKafkaBool()"
        case .int8, .int16, .uint16, .int32, .uint32, .int64:
            return "try \(buffer).readKafkaInteger(as: \(type.swiftBaseType).self)"
        case .float64: return "try \(buffer).readKafkaFloat64()"
        case .uuid: return "try \(buffer).readKafkaUUID()"
        case .string: return "try \(buffer).readKafkaString(compact: \(compact))"
        case .bytes: return "try \(buffer).readKafkaBytes(compact: \(compact))"
        case .records: return "try \(buffer).readKafkaRecords(compact: \(compact))"
        case .structure(let name): return "try \(name)(from: &\(buffer), version: version)"
        case .array(let element):
            // The closure's parameter shadows the outer buffer: each element reads from the array's own position.
            var elementRead = try readExpression(element, compact: compact, buffer: "buffer", fieldName: fieldName)
            if element.canBeNull && !element.isStruct { elementRead += ".notNull(\(fieldName.swiftLiteral))" }
            let minimum = try minimumSize(of: element, compact: compact)
            return "try \(buffer).readKafkaArray(compact: \(compact), minimumElementSize: \(minimum)) { (buffer: inout ByteBuffer) throws(KafkaWireError) in \(elementRead) }"
        }
    }

    private func emitReadTaggedFields(_ tagged: [FieldSpec], within versions: VersionRange, flex: FlexibleMode, into w: inout CodeWriter) throws {
        guard let guardExpression = flex.taggedSectionCondition else { return }
        try w.block(guardExpression == "true" ? "do {" : "if \(guardExpression) {") { w in
            if tagged.isEmpty {
                w.line("try buffer.readKafkaTaggedFields(unknown: &self.unknownTaggedFields)")
                return
            }
            w.line("let count = try buffer.readKafkaUnsignedVarint()")
            w.line("var previousTag: UInt32?")
            try w.block("for _ in 0..<count {") { w in
                w.line("let tagged = try buffer.readKafkaTaggedField(after: &previousTag)")
                w.line("var field = tagged.data")
                w.line("switch tagged.tag {")
                for field in tagged.sorted(by: { $0.tag! < $1.tag! }) {
                    let condition = field.versions.condition(within: versions).map { " where \($0)" } ?? ""
                    w.line("case \(field.tag!)\(condition):")
                    try w.indented { w in w.line(try readStatement(field, compact: "true", buffer: "field")) }
                }
                w.line("default:")
                w.indented { w in w.line("self.unknownTaggedFields.append(tagged)") }
                w.line("}")
            }
        }
    }

    // MARK: - Writing

    private func emitWrite(_ field: FieldSpec, within versions: VersionRange, flex: FlexibleMode, into w: inout CodeWriter) throws {
        let lines = try writeStatements(field, compact: flex.compact(for: field))
        guard let condition = field.versions.condition(within: versions) else {
            lines.forEach { w.line($0) }
            return
        }
        if field.ignorable {
            w.block("if \(condition) {") { w in lines.forEach { w.line($0) } }
            return
        }
        // Kafka refuses to silently drop a non-default value that the chosen version cannot carry (unless the
        // writer is told to, as a broker answering an older client is).
        w.block("if \(condition) {", closer: "} else if writer.rejectsFieldsMissingFromVersion, self.\(field.name.lowerCamelCase) != \(field.defaultExpression) {") { w in
            lines.forEach { w.line($0) }
        }
        w.indented { w in w.line("throw KafkaWireError.unsupportedField(\(field.name.swiftLiteral), version: version)") }
        w.line("}")
    }

    private func writeStatements(_ field: FieldSpec, compact: String) throws -> [String] {
        let name = "self.\(field.name.lowerCamelCase)"
        var value = name
        if field.type.canBeNull, !field.type.isStruct, let nullable = field.nullableVersions,
           let condition = nullable.condition(within: field.versions) {
            value = "try \(name).notNull(\(field.name.swiftLiteral), unless: \(condition))"
        }
        return try writeStatements(field.type, value: value, optional: field.nullableVersions != nil, compact: compact)
    }

    private func writeStatements(_ type: FieldType, value: String, optional: Bool, compact: String) throws -> [String] {
        switch type {
        case .bool: return ["writer.buffer.writeKafkaBool(\(value))"]
        case .int8, .int16, .uint16, .int32, .uint32, .int64: return ["writer.buffer.writeInteger(\(value))"]
        case .float64: return ["writer.buffer.writeKafkaFloat64(\(value))"]
        case .uuid: return ["writer.buffer.writeKafkaUUID(\(value))"]
        case .string: return ["writer.buffer.writeKafkaString(\(value), compact: \(compact))"]
        case .bytes: return ["writer.buffer.writeKafkaBytes(\(value), compact: \(compact))"]
        case .records: return ["writer.writeRecords(\(value), compact: \(compact))"]
        case .structure: return ["try \(value).encode(to: &writer, version: version)"]
        case .array(let element):
            let body = try writeStatements(element, value: "element", optional: false, compact: compact)
            let loop = body.map { "    " + $0 }
            guard optional else {
                return ["writer.buffer.writeKafkaArrayLength(\(value).count, compact: \(compact))", "for element in \(value) {"]
                    + loop + ["}"]
            }
            return ["if let elements = \(value) {",
                    "    writer.buffer.writeKafkaArrayLength(elements.count, compact: \(compact))",
                    "    for element in elements {"]
                + loop.map { "    " + $0 }
                + ["    }", "} else {", "    writer.buffer.writeKafkaArrayLength(nil, compact: \(compact))", "}"]
        }
    }

    private func emitWriteTaggedFields(_ tagged: [FieldSpec], within versions: VersionRange, flex: FlexibleMode, into w: inout CodeWriter) throws {
        guard let guardExpression = flex.taggedSectionCondition else { return }
        try w.block(guardExpression == "true" ? "do {" : "if \(guardExpression) {") { w in
            if tagged.isEmpty {
                w.line("writer.writeTaggedFields([], unknown: self.unknownTaggedFields)")
                return
            }
            w.line("var tagged: [TaggedField] = []")
            for field in tagged.sorted(by: { $0.tag! < $1.tag! }) {
                var condition = "self.\(field.name.lowerCamelCase) != \(field.defaultExpression)"
                if let versionCondition = field.versions.condition(within: versions) {
                    condition = "\(versionCondition), \(condition)"
                }
                try w.block("if \(condition) {") { w in
                    let opener = "tagged.append(try writer.encodeTaggedField(tag: \(field.tag!)) { (writer: inout WireWriter) throws(KafkaWireError) in"
                    try w.block(opener, closer: "})") { w in
                        try writeStatements(field, compact: "true").forEach { w.line($0) }
                    }
                }
            }
            w.line("writer.writeTaggedFields(tagged, unknown: self.unknownTaggedFields)")
        }
    }

    // MARK: - Sizes

    /// The fewest bytes one encoded value of `type` can take; bounds array counts read from hostile input.
    private func minimumSize(of type: FieldType, compact: String) throws -> Int {
        let isCompact = compact != "false"
        switch type {
        case .bool, .int8: return 1
        case .int16, .uint16: return 2
        case .int32, .uint32: return 4
        case .int64, .float64: return 8
        case .uuid: return 16
        case .string: return isCompact ? 1 : 2
        case .bytes, .records, .array: return isCompact ? 1 : 4
        case .structure(let name):
            guard let definition = structs.first(where: { $0.name == name }) else {
                throw SchemaError(file: message.name, line: 0, message: "unknown struct \(name)")
            }
            var smallest = Int.max
            var version = definition.versions.lower
            while version <= definition.versions.upper! {
                let flexible = message.flexibleVersions?.contains(version) ?? false
                var size = flexible ? 1 : 0 // the tagged-field section's count
                for field in definition.fields where field.tag == nil && field.versions.contains(version) {
                    size += try minimumSize(of: field.type, compact: flexible && !field.neverFlexible ? "true" : "false")
                }
                smallest = min(smallest, size)
                version += 1
            }
            return smallest
        }
    }
}

/// How a struct's versions relate to the message's flexible versions.
struct FlexibleMode {
    enum Mode { case never, always, from(Int16) }
    let mode: Mode

    init(_ flexible: VersionRange?, within versions: VersionRange) {
        guard let flexible, flexible.lower <= versions.upper! else {
            mode = .never
            return
        }
        mode = flexible.lower <= versions.lower ? .always : .from(flexible.lower)
    }

    /// The local that generated code tests, when the answer depends on the version.
    var declaration: String? {
        if case .from(let first) = mode { return "let flexible = version >= \(first)" }
        return nil
    }

    func compact(for field: FieldSpec) -> String {
        if field.neverFlexible { return "false" }
        switch mode {
        case .never: return "false"
        case .always: return "true"
        case .from: return "flexible"
        }
    }

    var taggedSectionCondition: String? {
        switch mode {
        case .never: nil
        case .always: "true"
        case .from: "flexible"
        }
    }
}

extension VersionRange {
    /// A Swift condition true exactly for the versions of `self`, given that `version` lies in `within`;
    /// nil when no test is needed.
    func condition(within outer: VersionRange) -> String? {
        if covers(outer) { return nil }
        let testsLower = lower > outer.lower
        let testsUpper = upper! < outer.upper!
        switch (testsLower, testsUpper) {
        case (true, true): return lower == upper! ? "version == \(lower)" : "(\(lower)...\(upper!)).contains(version)"
        case (true, false): return "version >= \(lower)"
        case (false, true): return "version <= \(upper!)"
        case (false, false): return nil
        }
    }
}

extension FieldType {
    var swiftBaseType: String {
        switch self {
        case .bool: "Bool"
        case .int8: "Int8"
        case .int16: "Int16"
        case .uint16: "UInt16"
        case .int32: "Int32"
        case .uint32: "UInt32"
        case .int64: "Int64"
        case .float64: "Double"
        case .string: "String"
        case .bytes: "ByteBuffer"
        case .records: "RecordSet"
        case .uuid: "KafkaUUID"
        case .array(let element): "[\(element.swiftBaseType)]"
        case .structure(let name): name
        }
    }

    var schemaName: String {
        switch self {
        case .array(let element): "[]" + element.schemaName
        case .structure(let name): name
        default: "\(self)"
        }
    }

    var structName: String? {
        switch self {
        case .structure(let name): name
        case .array(let element): element.structName
        default: nil
        }
    }

    var isArray: Bool { if case .array = self { true } else { false } }
    var isStruct: Bool { if case .structure = self { true } else { false } }
}

extension FieldSpec {
    var swiftType: String { type.swiftBaseType + (nullableVersions == nil ? "" : "?") }

    /// The schema default as a Swift expression.
    var defaultExpression: String {
        // Java's default for a nullable field is null only when the schema says so, except records: always null.
        if nullableVersions != nil && (defaultValue == "null" || type == .records) { return "nil" }
        switch type {
        case .bool: return defaultValue ?? "false"
        case .int8, .int16, .uint16, .int32, .uint32, .int64, .float64: return defaultValue ?? "0"
        case .string: return (defaultValue ?? "").swiftLiteral
        case .bytes: return "ByteBuffer()"
        case .records: return "RecordSet()"
        case .uuid: return "KafkaUUID.zero"
        case .array: return "[]"
        case .structure(let name): return "\(name)()"
        }
    }
}
