import BerthRuntime
import BerthTemplate

extension Event {
    /// The event as `/events` writes it, in dockerd's field order; with `legacyFields` (API
    /// versions before 1.52), container and image events also carry `status`, `id` and `from`.
    public func json(legacyFields: Bool) -> String {
        var fields: [(String, OrderedJSON)] = []
        if legacyFields, type == .container || type == .image {
            fields = [("status", .string(action)), ("id", .string(actor.id))]
            if type == .container { fields.append(("from", .string(actor.attributes["image"] ?? ""))) }
        }
        let attributes = actor.attributes.sorted { $0.key < $1.key }.map { ($0.key, OrderedJSON.string($0.value)) }
        fields += [
            ("Type", .string(type.rawValue)), ("Action", .string(action)),
            ("Actor", .object([("ID", .string(actor.id)), ("Attributes", .object(attributes))])),
            ("scope", .string(scope)), ("time", .int(time)), ("timeNano", .int(timeNano)),
        ]
        return OrderedJSON.object(fields).compact
    }

    /// Whether `filters` (dockerd's `type`, `event`, `container`, `image`, `network`, `volume`,
    /// `daemon`, `label`, `scope`) let this event through: each key present must match.
    public func matches(_ filters: Filters) -> Bool {
        matchesAction(filters)
            && filters.matches("type", type.rawValue)
            && filters.matches("scope", scope)
            && [EventType.daemon, .container, .volume, .network].allSatisfy { matchesName(filters, $0.rawValue) }
            && matchesImage(filters)
            && (!filters.contains("label") || filters.matchesLabels(actor.attributes))
    }

    /// `event=health_status` matches every `health_status: …` action, as do exec_create and
    /// exec_start their variants with a command.
    private func matchesAction(_ filters: Filters) -> Bool {
        let values = filters.values("event")
        guard !values.isEmpty else { return true }
        if values.contains(where: { ["health_status", "exec_create", "exec_start"].contains($0) }) {
            return values.contains { action.hasPrefix($0) }
        }
        return values.contains(action)
    }

    /// `container=x` (and the other object filters) matches by an ID prefix or a name prefix.
    private func matchesName(_ filters: Filters, _ key: String) -> Bool {
        let values = filters.values(key)
        guard !values.isEmpty else { return true }
        let name = actor.attributes["name"] ?? ""
        return values.contains { actor.id.hasPrefix($0) || name.hasPrefix($0) }
    }

    /// `image=x` matches an image's ID or name, or a container's image, with or without its tag.
    private func matchesImage(_ filters: Filters) -> Bool {
        let values = filters.values("image")
        guard !values.isEmpty else { return true }
        let name = actor.attributes[type == .image ? "name" : "image"] ?? ""
        let candidates = [actor.id, name, Self.familiarName(actor.id), Self.familiarName(name)]
        return candidates.contains { values.contains($0) }
    }

    /// An image reference without its tag or digest and without Docker Hub's default prefixes.
    static func familiarName(_ reference: String) -> String {
        guard !reference.hasPrefix("sha256:") else { return reference }
        var name = Substring(reference)
        if let at = name.firstIndex(of: "@") { name = name[..<at] }
        if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") { name = name[..<colon] }
        for prefix in ["docker.io/library/", "docker.io/"] where name.hasPrefix(prefix) {
            return String(name.dropFirst(prefix.count))
        }
        return String(name)
    }
}
