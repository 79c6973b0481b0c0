/// Something that has configs: a topic or a broker (Java's `ConfigResource`).
public struct ConfigResource: Sendable, Hashable, CustomStringConvertible {
    /// The kinds of resources, with their wire values.
    public enum Kind: Int8, Sendable, Hashable {
        /// A topic, named by its name.
        case topic = 2
        /// A broker, named by its id (`"1"`).
        case broker = 4
    }

    /// What kind of resource this is.
    public var kind: Kind
    /// The topic's name or the broker's id.
    public var name: String

    /// A resource of `kind` named `name`.
    public init(_ kind: Kind, name: String) {
        self.kind = kind
        self.name = name
    }

    /// The topic `name`.
    public static func topic(_ name: String) -> ConfigResource { ConfigResource(.topic, name: name) }

    /// The broker with id `id`.
    public static func broker(_ id: Int32) -> ConfigResource { ConfigResource(.broker, name: String(id)) }

    /// `topic orders` or `broker 1`.
    public var description: String { "\(kind == .topic ? "topic" : "broker") \(name)" }
}
