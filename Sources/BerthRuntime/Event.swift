/// What an event is about (dockerd's event types that Berth has).
public enum EventType: String, Sendable, Codable, CaseIterable {
    case container, image, network, volume, builder, daemon
}

/// One event, as dockerd's `/events` writes it: `{"Type", "Action", "Actor": {"ID",
/// "Attributes"}, "scope", "time", "timeNano"}`.
public struct Event: Sendable, Equatable, Codable {
    /// The object an event is about: its ID and attributes (a container's name and image, a
    /// network's type, the labels of either).
    public struct Actor: Sendable, Equatable, Codable {
        public let id: String
        public let attributes: [String: String]

        public init(id: String, attributes: [String: String]) {
            self.id = id
            self.attributes = attributes
        }

        enum CodingKeys: String, CodingKey {
            case id = "ID", attributes = "Attributes"
        }
    }

    public let type: EventType
    public let action: String
    public let actor: Actor
    /// "local": every Berth event concerns this host only.
    public let scope: String
    /// When it happened, in Unix seconds.
    public let time: Int64
    /// When it happened, in Unix nanoseconds.
    public let timeNano: Int64

    public init(type: EventType, action: String, actor: Actor, timeNano: Int64) {
        self.type = type
        self.action = action
        self.actor = actor
        scope = "local"
        time = timeNano / 1_000_000_000
        self.timeNano = timeNano
    }

    enum CodingKeys: String, CodingKey {
        case type = "Type", action = "Action", actor = "Actor", scope, time, timeNano
    }
}

extension ContainerRecord {
    /// The attributes of this container's events, as dockerd gives them: its labels, name and image.
    public func eventAttributes(_ more: [String: String] = [:]) -> [String: String] {
        var attributes = config.labels
        attributes["name"] = name
        attributes["image"] = imageName
        return attributes.merging(more) { _, new in new }
    }
}
