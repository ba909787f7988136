import BerthKubeAPI
import BerthTemplate
import Foundation

/// The verbs on one resource type, for one request.
struct ResourceHandler {
    let store: KubeObjectStore
    let resource: KubeResource
    let namespace: String?
    let request: KubeRequest

    func get(_ name: String) throws -> KubeResponse {
        try respond(object: store.get(resource, namespace: namespace, name: name))
    }

    func list() throws -> KubeResponse {
        let page = try store.list(resource, namespace: namespace, options: listOptions())
        if request.wantsTable {
            return .json(KubeTable.table(resource, objects: page.items, resourceVersion: String(page.resourceVersion),
                                         continueToken: page.continueToken, includeObject: includeObject()))
        }
        var metadata: [(String, OrderedJSON)] = [("resourceVersion", .string(String(page.resourceVersion)))]
        if let token = page.continueToken { metadata.append(("continue", .string(token))) }
        return .json(.object([("kind", .string(resource.listKind)), ("apiVersion", .string(resource.apiVersion)),
                              ("metadata", .object(metadata)), ("items", .array(page.items))]))
    }

    /// How often a watch that allows bookmarks gets one (upstream: about every minute).
    static let bookmarkInterval: Duration = .seconds(60)

    /// A chunked stream of watch events, one JSON document per line; it ends after
    /// `timeoutSeconds` when given, or when the client goes away. With `allowWatchBookmarks`,
    /// BOOKMARK events carry the revision the client has seen everything up to, every minute
    /// and just before the timeout ends the watch.
    func watch() throws -> KubeResponse {
        let startRevision = try store.currentResourceVersion()
        let options = try listOptions()
        let events = try store.watch(resource, namespace: namespace, options: options)
        let table = request.wantsTable
        let includeObject = includeObject()
        let resource = resource
        let timeout = request.parameter("timeoutSeconds").flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil }
        let bookmarks = ["true", "1"].contains(request.parameter("allowWatchBookmarks") ?? "")
        var seen = startRevision
        if let given = options.resourceVersion.flatMap(Int64.init), given > 0 { seen = min(given, startRevision) }
        let (chunks, output) = AsyncStream.makeStream(of: [UInt8].self)
        let (merged, input) = AsyncStream.makeStream(of: WatchItem.self)
        let forward = Task {
            for await event in events { input.yield(.event(event)) }
            input.finish()
        }
        let ticks = Task {
            let start = ContinuousClock.now
            var next = start + Self.bookmarkInterval
            while true {
                if let timeout {
                    let end = start + .seconds(timeout)
                    try await Task.sleep(until: min(next, end))
                    if ContinuousClock.now >= end {
                        if bookmarks { input.yield(.bookmark) }
                        input.finish()
                        return
                    }
                } else {
                    try await Task.sleep(until: next)
                }
                if bookmarks { input.yield(.bookmark) }
                next = next + Self.bookmarkInterval
            }
        }
        let pump = Task {
            var first = true
            for await item in merged {
                let event: KubeWatchEvent
                switch item {
                case .event(let change):
                    if let revision = change.object.string("metadata", "resourceVersion").flatMap(Int64.init), change.type != .error {
                        seen = max(seen, revision)
                    }
                    var object = change.object
                    if table {
                        object = KubeTable.table(resource, objects: [change.object], resourceVersion: nil, includeObject: includeObject, includeHeaders: first)
                        first = false
                    }
                    event = KubeWatchEvent(type: change.type, object: object)
                case .bookmark:
                    event = KubeWatchEvent(type: .bookmark, object: .object([
                        ("kind", .string(resource.kind)), ("apiVersion", .string(resource.apiVersion)),
                        ("metadata", .object([("resourceVersion", .string(String(seen))), ("creationTimestamp", .null)])),
                    ]))
                }
                if case .terminated = output.yield(Array((event.json.compact + "\n").utf8)) { break }
            }
            output.finish()
        }
        output.onTermination = { _ in
            pump.cancel()
            forward.cancel()
            ticks.cancel()
            input.finish()
        }
        return .stream(contentType: "application/json", chunks: chunks)
    }

    private enum WatchItem: Sendable {
        case event(KubeWatchEvent)
        case bookmark
    }

    func create() throws -> KubeResponse {
        let dryRun = try isDryRun()
        let (object, warnings) = try fieldValidation().check(try body(), resource)
        return try respond(object: store.create(resource, namespace: namespace, object: tracked(object, live: nil), dryRun: dryRun),
                           status: 201, warnings: warnings)
    }

    /// A client's write to the object itself keeps its stored status; one to `/status` changes
    /// nothing else.
    private var mainScope: KubeWriteScope { resource.hasStatus ? .main : .whole }

    func replace(_ name: String, scope: KubeWriteScope? = nil) throws -> KubeResponse {
        let dryRun = try isDryRun()
        let (object, warnings) = try fieldValidation().check(try body(), resource)
        let live = try store.get(resource, namespace: namespace, name: name)
        return try respond(object: store.replace(resource, namespace: namespace, name: name, object: tracked(object, live: live), dryRun: dryRun,
                                                 scope: scope ?? mainScope), warnings: warnings)
    }

    /// Merge and JSON patches, applied to the stored object and written back with its
    /// resourceVersion as a precondition, so a concurrent write makes this one fail with 409.
    func patch(_ name: String, scope: KubeWriteScope? = nil) throws -> KubeResponse {
        let dryRun = try isDryRun()
        let contentType = (request.headers["content-type"] ?? "").split(separator: ";").first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        if contentType == "application/apply-patch+yaml" { return try serverSideApply(name, scope: scope ?? mainScope) }
        let live = try store.get(resource, namespace: namespace, name: name)
        let patched = try applyPatch(to: live)
        let (checked, warnings) = try fieldValidation().check(patched, resource)
        var precondition = checked
        if (patched.string("metadata", "resourceVersion") ?? "").isEmpty {
            precondition = checked.setting(["metadata", "resourceVersion"], to: live.value(at: ["metadata", "resourceVersion"]))
        }
        return try respond(object: store.replace(resource, namespace: namespace, name: name, object: tracked(precondition, live: live), dryRun: dryRun,
                                                 scope: scope ?? mainScope), warnings: warnings)
    }

    // MARK: The scale subresource

    func getScale(_ name: String) throws -> KubeResponse {
        .json(try KubeScale.scale(of: store.get(resource, namespace: namespace, name: name)))
    }

    func replaceScale(_ name: String) throws -> KubeResponse {
        try writeScale(name, try body())
    }

    func patchScale(_ name: String) throws -> KubeResponse {
        let live = try store.get(resource, namespace: namespace, name: name)
        var patched = try applyPatch(to: try KubeScale.scale(of: live))
        if (patched.string("metadata", "resourceVersion") ?? "").isEmpty {
            patched = patched.setting(["metadata", "resourceVersion"], to: live.value(at: ["metadata", "resourceVersion"]))
        }
        return try writeScale(name, patched)
    }

    /// Writes a Scale's `spec.replicas` into the object's spec; a resourceVersion in the Scale is
    /// a precondition on the object.
    private func writeScale(_ name: String, _ scale: OrderedJSON) throws -> KubeResponse {
        let dryRun = try isDryRun()
        let live = try store.get(resource, namespace: namespace, name: name)
        var updated = try KubeScale.applying(scale, to: live, name: name)
        if let version = scale.string("metadata", "resourceVersion"), !version.isEmpty {
            updated = updated.setting(["metadata", "resourceVersion"], to: .string(version))
        }
        let stored = try store.replace(resource, namespace: namespace, name: name, object: updated, dryRun: dryRun, scope: .main)
        return .json(try KubeScale.scale(of: stored))
    }

    /// The patched form of `live` by the request's patch type.
    private func applyPatch(to live: OrderedJSON) throws -> OrderedJSON {
        let contentType = (request.headers["content-type"] ?? "").split(separator: ";").first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        let patched: OrderedJSON
        switch contentType {
        case "application/merge-patch+json":
            let patch = try body()
            patched = KubePatch.merge(live, patch)
        case "application/json-patch+json":
            patched = try KubePatch.apply(jsonPatch: try body(), to: live)
        case "application/strategic-merge-patch+json":
            patched = try KubeStrategicMerge.apply(try body(), to: live, strategy: KubeSchema.listStrategies(resource))
        default:
            throw KubeAPIError(code: 415, reason: "UnsupportedMediaType",
                               message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json")
        }
        return patched
    }

    /// DELETE: an object that is gone answers a success Status (a pod: its last state); one that
    /// stays for its finalizers or grace period answers its current state.
    func delete(_ name: String) throws -> KubeResponse {
        let (options, warnings) = try deleteOptions()
        let deletion = try store.delete(resource, namespace: namespace, name: name, options: options)
        if !deletion.removed || (resource.group.isEmpty && resource.kind == "Pod") {
            return .json(deletion.object, headers: KubeResponse.warnings(warnings))
        }
        var details: [(String, OrderedJSON)] = [("name", .string(name))]
        if !resource.group.isEmpty { details.append(("group", .string(resource.group))) }
        details.append(("kind", .string(resource.plural)))
        if let uid = deletion.object.string("metadata", "uid") { details.append(("uid", .string(uid))) }
        return .json(.object([("kind", .string("Status")), ("apiVersion", .string("v1")), ("metadata", .object([])),
                              ("status", .string("Success")), ("details", .object(details))]), headers: KubeResponse.warnings(warnings))
    }

    func deleteCollection() throws -> KubeResponse {
        let (options, warnings) = try deleteOptions()
        let deleted = try store.deleteCollection(resource, namespace: namespace, options: listOptions(), deleteOptions: options)
        return .json(.object([("kind", .string(resource.listKind)), ("apiVersion", .string(resource.apiVersion)),
                              ("metadata", .object([("resourceVersion", .string(String(try store.currentResourceVersion())))])),
                              ("items", .array(deleted))]), headers: KubeResponse.warnings(warnings))
    }

    /// `PUT /api/v1/namespaces/<name>/finalize`: the body's `spec.finalizers` become the namespace's.
    func finalize(_ name: String) throws -> KubeResponse {
        let object = try body()
        if let bodyName = object.string("metadata", "name"), bodyName != name {
            throw KubeAPIError.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        let finalizers = (object.value(at: ["spec", "finalizers"]).map { value -> [String] in
            guard case .array(let items) = value else { return [] }
            return items.compactMap { if case .string(let text) = $0 { text } else { nil } }
        }) ?? []
        return try respond(object: store.finalizeNamespace(name, finalizers: finalizers, resourceVersion: object.string("metadata", "resourceVersion"),
                                                           dryRun: try isDryRun()))
    }

    /// DeleteOptions from the body and the query (`propagationPolicy`, `gracePeriodSeconds`,
    /// `orphanDependents`, `preconditions`, `dryRun`), and the warning upstream gives for a Job
    /// deleted without a policy.
    private func deleteOptions() throws -> (KubeDeleteOptions, [String]) {
        let body = request.body.isEmpty ? OrderedJSON.object([]) : try self.body()
        var options = KubeDeleteOptions(preconditionResourceVersion: body.string("preconditions", "resourceVersion"),
                                        preconditionUID: body.string("preconditions", "uid"), dryRun: try isDryRun(body))
        let policyText = body.string("propagationPolicy") ?? request.parameter("propagationPolicy")
        if let policyText, !policyText.isEmpty {
            guard let policy = KubeDeletionPropagation(rawValue: policyText) else {
                throw KubeAPIError.invalid(resource, "", [.init(reason: "FieldValueNotSupported",
                                                                message: "Unsupported value: \"\(policyText)\": supported values: \"Foreground\", \"Background\", \"Orphan\"",
                                                                field: "propagationPolicy")])
            }
            options.propagationPolicy = policy
        }
        let orphan: Bool? = if case .bool(let value)? = body["orphanDependents"] { value } else { request.parameter("orphanDependents").map { $0 == "true" } }
        if let orphan {
            if options.propagationPolicy != nil {
                throw KubeAPIError.invalid(resource, "", [.init(reason: "FieldValueInvalid",
                                                                message: "Invalid value: \"\(options.propagationPolicy?.rawValue ?? "")\": orphanDependents and deletionPropagation cannot be both set",
                                                                field: "propagationPolicy")])
            }
            options.propagationPolicy = orphan ? .orphan : .background
        }
        if let grace = body.value(at: ["gracePeriodSeconds"]).flatMap({ if case .number(let text) = $0 { Int64(text) } else { nil } })
            ?? request.parameter("gracePeriodSeconds").flatMap(Int64.init) {
            options.gracePeriodSeconds = grace
        }
        var warnings: [String] = []
        if resource.group == "batch", resource.kind == "Job", options.propagationPolicy == nil {
            warnings.append("child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning")
        }
        return (options, warnings)
    }

    /// Server-side apply: creates the object when it is missing, else merges the configuration
    /// into it as the field manager's; conflicts with other managers' fields are 409 unless `force`.
    private func serverSideApply(_ name: String, scope: KubeWriteScope) throws -> KubeResponse {
        let dryRun = try isDryRun()
        let manager = request.parameter("fieldManager") ?? ""
        let force = request.parameter("force") == "true"
        let (configuration, warnings) = try fieldValidation().check(try body(), resource)
        if let bodyName = configuration.string("metadata", "name"), bodyName != name {
            throw KubeAPIError.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        let live: OrderedJSON?
        do {
            live = try store.get(resource, namespace: namespace, name: name)
        } catch let error as KubeAPIError where error.code == 404 && scope != .status {
            live = nil
        }
        let applied = try KubeServerSideApply.apply(configuration.setting(["metadata", "name"], to: .string(name)), to: live,
                                                    manager: manager, force: force, resource: resource,
                                                    subresource: scope == .status ? "status" : nil)
        guard let live else {
            return try respond(object: store.create(resource, namespace: namespace, object: applied, dryRun: dryRun), status: 201, warnings: warnings)
        }
        let precondition = applied.setting(["metadata", "resourceVersion"], to: live.value(at: ["metadata", "resourceVersion"]))
        return try respond(object: store.replace(resource, namespace: namespace, name: name, object: precondition, dryRun: dryRun, scope: scope),
                           warnings: warnings)
    }

    /// The written object with the request's field manager's changes recorded in its managed fields.
    private func tracked(_ object: OrderedJSON, live: OrderedJSON?) -> OrderedJSON {
        KubeServerSideApply.recordUpdate(from: live, to: object, manager: fieldManager, resource: resource)
    }

    /// `fieldManager`, or as upstream defaults it: the client's User-Agent up to the first `/`.
    private var fieldManager: String {
        if let manager = request.parameter("fieldManager"), !manager.isEmpty { return manager }
        return String((request.headers["user-agent"] ?? "unknown").split(separator: "/").first ?? "unknown")
    }

    private func respond(object: OrderedJSON, status: Int = 200, warnings: [String] = []) throws -> KubeResponse {
        if request.wantsTable {
            return .json(KubeTable.table(resource, objects: [object], resourceVersion: object.string("metadata", "resourceVersion"),
                                         includeObject: includeObject()), status: status, headers: KubeResponse.warnings(warnings))
        }
        return .json(object, status: status, headers: KubeResponse.warnings(warnings))
    }

    private func fieldValidation() throws -> KubeFieldValidation {
        guard let text = request.parameter("fieldValidation"), !text.isEmpty else { return .warn }
        guard let mode = KubeFieldValidation(rawValue: text) else {
            throw KubeAPIError.badRequest("fieldValidation parameter unsupported: \(text), must be one of Ignore, Warn, Strict")
        }
        return mode
    }

    private func body() throws -> OrderedJSON {
        if (request.headers["content-type"] ?? "").hasPrefix(KubeProtobuf.contentType) {
            return try KubeProtobuf.decode(request.body)
        }
        do {
            return try OrderedJSON.parse(request.body)
        } catch {
            throw KubeAPIError.badRequest("\(resource.kind) in version \"\(resource.version)\" cannot be handled as a \(resource.kind): \(error)")
        }
    }

    private func listOptions() throws -> KubeListOptions {
        KubeListOptions(
            labelSelector: try LabelSelector(parsing: request.parameter("labelSelector") ?? ""),
            fieldSelector: try FieldSelector(parsing: request.parameter("fieldSelector") ?? "", supported: KubeResourceRegistry.selectableFields(resource)),
            limit: request.parameter("limit").flatMap(Int.init),
            continueToken: request.parameter("continue"),
            resourceVersion: request.parameter("resourceVersion"),
            resourceVersionMatch: request.parameter("resourceVersionMatch"))
    }

    private func includeObject() -> KubeTable.IncludeObject {
        request.parameter("includeObject").flatMap(KubeTable.IncludeObject.init(rawValue:)) ?? .metadata
    }

    /// `dryRun=All` (query, or DeleteOptions' `dryRun`): run the write without storing it.
    private func isDryRun(_ options: OrderedJSON? = nil) throws -> Bool {
        var values = request.query["dryRun"] ?? []
        if case .array(let items)? = options?["dryRun"] {
            values += items.compactMap { if case .string(let text) = $0 { text } else { nil } }
        }
        for value in values where value != "All" {
            throw KubeAPIError.badRequest("dryRun: Unsupported value: \"\(value)\": supported values: \"All\"")
        }
        return !values.isEmpty
    }
}
