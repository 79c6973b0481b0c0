/// The parsed form of one `.schema` file: Kafka message definitions in our own compact notation
/// (see `Sources/KafkaProtocol/Schema/README.md`).

/// An inclusive range of protocol versions; `upper == nil` means "and every later version".
public struct VersionRange: Hashable, Sendable, CustomStringConvertible {
    public var lower: Int16
    public var upper: Int16?

    public init(_ lower: Int16, _ upper: Int16?) {
        self.lower = lower
        self.upper = upper
    }

    /// Parses `3+`, `0-2` or `5`.
    public init?(parsing text: Substring) {
        if text.hasSuffix("+"), let lower = Int16(text.dropLast()) {
            self.init(lower, nil)
        } else if let dash = text.firstIndex(of: "-"),
                  let lower = Int16(text[..<dash]), let upper = Int16(text[text.index(after: dash)...]), lower <= upper {
            self.init(lower, upper)
        } else if let single = Int16(text) {
            self.init(single, single)
        } else {
            return nil
        }
    }

    public func contains(_ version: Int16) -> Bool {
        version >= lower && (upper.map { version <= $0 } ?? true)
    }

    /// The versions of `self` that also lie in `other`, or nil when they do not meet.
    public func intersection(_ other: VersionRange) -> VersionRange? {
        let lower = max(self.lower, other.lower)
        let upper: Int16? = switch (self.upper, other.upper) {
        case let (a?, b?): min(a, b)
        case let (a?, nil): a
        case let (nil, b?): b
        case (nil, nil): nil
        }
        if let upper, upper < lower { return nil }
        return VersionRange(lower, upper)
    }

    /// True when every version of `other` lies in `self`.
    public func covers(_ other: VersionRange) -> Bool {
        guard lower <= other.lower else { return false }
        guard let upper else { return true }
        guard let otherUpper = other.upper else { return false }
        return otherUpper <= upper
    }

    public var description: String {
        switch upper {
        case nil: "\(lower)+"
        case lower?: "\(lower)"
        case let upper?: "\(lower)-\(upper)"
        }
    }
}

public indirect enum FieldType: Hashable, Sendable {
    case bool, int8, int16, uint16, int32, uint32, int64, float64
    case string, bytes, records, uuid
    case array(FieldType)
    case structure(String)

    init(parsing text: Substring) {
        if text.hasPrefix("[]") {
            self = .array(FieldType(parsing: text.dropFirst(2)))
            return
        }
        switch text {
        case "bool": self = .bool
        case "int8": self = .int8
        case "int16": self = .int16
        case "uint16": self = .uint16
        case "int32": self = .int32
        case "uint32": self = .uint32
        case "int64": self = .int64
        case "float64": self = .float64
        case "string": self = .string
        case "bytes": self = .bytes
        case "records": self = .records
        case "uuid": self = .uuid
        default: self = .structure(String(text))
        }
    }

    /// Types whose values can be null on the wire when the schema allows it.
    var canBeNull: Bool {
        switch self {
        case .string, .bytes, .records, .array, .structure: true
        default: false
        }
    }
}

public struct FieldSpec: Hashable, Sendable {
    public var name: String
    public var type: FieldType
    /// Versions in which the field exists, already clipped to the owning message's versions.
    public var versions: VersionRange
    public var nullableVersions: VersionRange?
    /// The tag number, for a field carried in the tagged-field section.
    public var tag: UInt32?
    public var taggedVersions: VersionRange?
    public var defaultValue: String?
    /// When false, encoding a non-default value at a version without the field is an error.
    public var ignorable: Bool
    /// `flexible=none`: the field keeps its non-compact encoding in flexible versions (the header's client id).
    public var neverFlexible: Bool
    /// Sub-fields, for struct and struct-array fields defined inline.
    public var fields: [FieldSpec]
}

public struct StructSpec: Hashable, Sendable {
    public var name: String
    public var fields: [FieldSpec]
}

public enum MessageKind: String, Hashable, Sendable {
    case request, response, header, data
}

public struct MessageSpec: Hashable, Sendable {
    public var kind: MessageKind
    public var name: String
    public var apiKey: Int16?
    public var versions: VersionRange
    public var flexibleVersions: VersionRange?
    public var fields: [FieldSpec]
    /// Structs declared once and referenced by name from several fields.
    public var commonStructs: [StructSpec]
}

public struct SchemaFile: Hashable, Sendable {
    /// File name without extension, e.g. `Produce`.
    public var name: String
    public var messages: [MessageSpec]
}
