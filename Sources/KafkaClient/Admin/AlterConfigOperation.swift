/// One change for ``KafkaAdmin/incrementalAlterConfigs(_:validateOnly:)`` (Java's `AlterConfigOp`).
public struct AlterConfigOperation: Sendable, Hashable {
    /// What to do with the config, with the wire values of IncrementalAlterConfigs.
    public enum Kind: Int8, Sendable, Hashable {
        /// Set the value.
        case set = 0
        /// Remove the setting, going back to the default.
        case delete = 1
        /// Add to a list-valued config.
        case append = 2
        /// Remove from a list-valued config.
        case subtract = 3
    }

    /// The config's name (`retention.ms`).
    public var name: String
    /// What to do.
    public var kind: Kind
    /// The value (nil for ``Kind/delete``).
    public var value: String?

    /// A change of `name`.
    public init(name: String, kind: Kind, value: String?) {
        self.name = name
        self.kind = kind
        self.value = value
    }

    /// Sets `name` to `value`.
    public static func set(_ name: String, to value: String) -> AlterConfigOperation {
        AlterConfigOperation(name: name, kind: .set, value: value)
    }

    /// Removes the setting of `name`, so the default applies again.
    public static func delete(_ name: String) -> AlterConfigOperation {
        AlterConfigOperation(name: name, kind: .delete, value: nil)
    }
}
