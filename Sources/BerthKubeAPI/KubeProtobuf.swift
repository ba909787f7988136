import BerthTemplate
import Foundation

/// Reads request bodies in Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`),
/// which kubectl's typed clients send (`kubectl create configmap|secret|namespace`, its deletes):
/// the `k8s\0` envelope around a `runtime.Unknown`, whose `raw` is the object's message. Each
/// served kind's message is described by field numbers and turned into the JSON object the rest
/// of the server works on. Answers are always JSON, which those clients accept.
public enum KubeProtobuf {
    public static let contentType = "application/vnd.kubernetes.protobuf"

    indirect enum Field {
        case string
        /// `bytes`, which JSON carries as base64.
        case bytes
        case bool
        case int
        case time
        case stringMap
        case bytesMap
        case strings
        case message([Int: (String, Field)])
        case messages([Int: (String, Field)])
        /// A pointer integer (`*int32`): written only when set, so a zero is kept.
        case optionalInt
        /// A plain `bool`: false is the zero value JSON leaves out.
        case flag
        /// `map<string, Quantity>`: resource amounts, which JSON carries as strings.
        case quantityMap
        /// `IntOrString` (`maxSurge: 25%` or `1`).
        case intOrString
    }

    static let ownerReference: [Int: (String, Field)] = [
        5: ("apiVersion", .string), 1: ("kind", .string), 3: ("name", .string), 4: ("uid", .string),
        6: ("controller", .bool), 7: ("blockOwnerDeletion", .bool),
    ]

    static let objectMeta: [Int: (String, Field)] = [
        1: ("name", .string), 2: ("generateName", .string), 3: ("namespace", .string), 5: ("uid", .string),
        6: ("resourceVersion", .string), 7: ("generation", .int), 8: ("creationTimestamp", .time), 9: ("deletionTimestamp", .time),
        10: ("deletionGracePeriodSeconds", .int), 11: ("labels", .stringMap), 12: ("annotations", .stringMap),
        13: ("ownerReferences", .messages(ownerReference)), 14: ("finalizers", .strings),
    ]

    static let deleteOptions: [Int: (String, Field)] = [
        1: ("gracePeriodSeconds", .int), 2: ("preconditions", .message([1: ("uid", .string), 2: ("resourceVersion", .string)])),
        3: ("orphanDependents", .bool), 4: ("propagationPolicy", .string), 5: ("dryRun", .strings),
    ]

    static let labelSelector: [Int: (String, Field)] = [
        1: ("matchLabels", .stringMap),
        2: ("matchExpressions", .messages([1: ("key", .string), 2: ("operator", .string), 3: ("values", .strings)])),
    ]

    /// The container fields kubectl's generators (`run`, `create deployment|job|cronjob`) fill.
    static let container: [Int: (String, Field)] = [
        1: ("name", .string), 2: ("image", .string), 3: ("command", .strings), 4: ("args", .strings), 5: ("workingDir", .string),
        6: ("ports", .messages([1: ("name", .string), 2: ("hostPort", .int), 3: ("containerPort", .int), 4: ("protocol", .string), 5: ("hostIP", .string)])),
        7: ("env", .messages([1: ("name", .string), 2: ("value", .string)])),
        8: ("resources", .message([1: ("limits", .quantityMap), 2: ("requests", .quantityMap)])),
        9: ("volumeMounts", .messages([1: ("name", .string), 2: ("readOnly", .flag), 3: ("mountPath", .string), 4: ("subPath", .string)])),
        13: ("terminationMessagePath", .string), 14: ("imagePullPolicy", .string), 16: ("stdin", .flag), 17: ("stdinOnce", .flag),
        18: ("tty", .flag), 20: ("terminationMessagePolicy", .string), 24: ("restartPolicy", .string),
    ]

    static let podSpec: [Int: (String, Field)] = [
        2: ("containers", .messages(container)), 3: ("restartPolicy", .string), 4: ("terminationGracePeriodSeconds", .optionalInt),
        5: ("activeDeadlineSeconds", .optionalInt), 6: ("dnsPolicy", .string), 7: ("nodeSelector", .stringMap),
        8: ("serviceAccountName", .string), 9: ("serviceAccount", .string), 10: ("nodeName", .string), 11: ("hostNetwork", .flag),
        15: ("imagePullSecrets", .messages([1: ("name", .string)])), 16: ("hostname", .string), 17: ("subdomain", .string),
        19: ("schedulerName", .string), 20: ("initContainers", .messages(container)), 25: ("priority", .optionalInt),
        30: ("enableServiceLinks", .bool), 31: ("preemptionPolicy", .string),
    ]

    static let podTemplate: [Int: (String, Field)] = [1: ("metadata", .message(objectMeta)), 2: ("spec", .message(podSpec))]

    static let deploymentSpec: [Int: (String, Field)] = [
        1: ("replicas", .optionalInt), 2: ("selector", .message(labelSelector)), 3: ("template", .message(podTemplate)),
        4: ("strategy", .message([1: ("type", .string), 2: ("rollingUpdate", .message([1: ("maxUnavailable", .intOrString), 2: ("maxSurge", .intOrString)]))])),
        5: ("minReadySeconds", .int), 6: ("revisionHistoryLimit", .optionalInt), 7: ("paused", .flag), 9: ("progressDeadlineSeconds", .optionalInt),
    ]

    static let jobSpec: [Int: (String, Field)] = [
        1: ("parallelism", .optionalInt), 2: ("completions", .optionalInt), 3: ("activeDeadlineSeconds", .optionalInt),
        4: ("selector", .message(labelSelector)), 5: ("manualSelector", .bool), 6: ("template", .message(podTemplate)),
        7: ("backoffLimit", .optionalInt), 8: ("ttlSecondsAfterFinished", .optionalInt), 9: ("completionMode", .string), 10: ("suspend", .bool),
        14: ("podReplacementPolicy", .string),
    ]

    static let cronJobSpec: [Int: (String, Field)] = [
        1: ("schedule", .string), 2: ("startingDeadlineSeconds", .optionalInt), 3: ("concurrencyPolicy", .string), 4: ("suspend", .bool),
        5: ("jobTemplate", .message([1: ("metadata", .message(objectMeta)), 2: ("spec", .message(jobSpec))])),
        6: ("successfulJobsHistoryLimit", .optionalInt), 7: ("failedJobsHistoryLimit", .optionalInt), 8: ("timeZone", .string),
    ]

    /// The Service fields `kubectl create service` fills.
    static let serviceSpec: [Int: (String, Field)] = [
        1: ("ports", .messages([1: ("name", .string), 2: ("protocol", .string), 6: ("appProtocol", .string), 3: ("port", .int),
                                4: ("targetPort", .intOrString), 5: ("nodePort", .int)])),
        2: ("selector", .stringMap), 3: ("clusterIP", .string), 18: ("clusterIPs", .strings), 4: ("type", .string),
        5: ("externalIPs", .strings), 7: ("sessionAffinity", .string), 8: ("loadBalancerIP", .string),
        9: ("loadBalancerSourceRanges", .strings), 10: ("externalName", .string), 11: ("externalTrafficPolicy", .string),
        13: ("publishNotReadyAddresses", .flag), 14: ("sessionAffinityConfig", .message([1: ("clientIP", .message([1: ("timeoutSeconds", .optionalInt)]))])),
        19: ("ipFamilies", .strings), 17: ("ipFamilyPolicy", .string), 20: ("allocateLoadBalancerNodePorts", .bool),
        21: ("loadBalancerClass", .string), 22: ("internalTrafficPolicy", .string),
    ]

    static func schema(kind: String) -> [Int: (String, Field)]? {
        switch kind {
        case "ConfigMap":
            return [1: ("metadata", .message(objectMeta)), 2: ("data", .stringMap), 3: ("binaryData", .bytesMap), 4: ("immutable", .bool)]
        case "Secret":
            return [1: ("metadata", .message(objectMeta)), 2: ("data", .bytesMap), 3: ("type", .string), 4: ("stringData", .stringMap),
                    5: ("immutable", .bool)]
        case "Namespace":
            return [1: ("metadata", .message(objectMeta)), 2: ("spec", .message([1: ("finalizers", .strings)])),
                    3: ("status", .message([1: ("phase", .string)]))]
        case "DeleteOptions":
            return deleteOptions
        case "Pod":
            return [1: ("metadata", .message(objectMeta)), 2: ("spec", .message(podSpec))]
        case "Deployment":
            return [1: ("metadata", .message(objectMeta)), 2: ("spec", .message(deploymentSpec))]
        case "Job":
            return [1: ("metadata", .message(objectMeta)), 2: ("spec", .message(jobSpec))]
        case "CronJob":
            return [1: ("metadata", .message(objectMeta)), 2: ("spec", .message(cronJobSpec))]
        case "Service":
            return [1: ("metadata", .message(objectMeta)), 2: ("spec", .message(serviceSpec))]
        default:
            return nil
        }
    }

    /// Decodes an enveloped object into JSON with its `apiVersion` and `kind`.
    public static func decode(_ bytes: [UInt8]) throws(KubeAPIError) -> OrderedJSON {
        guard bytes.count >= 4, bytes[0..<4].elementsEqual([0x6B, 0x38, 0x73, 0x00]) else {
            throw .badRequest("the protobuf body does not start with the k8s envelope")
        }
        var reader = Reader(bytes: bytes[4...])
        var apiVersion = "", kind = ""
        var raw: ArraySlice<UInt8> = []
        while let (number, value) = try reader.next() {
            switch (number, value) {
            case (1, .bytes(let typeMeta)):
                var inner = Reader(bytes: typeMeta)
                while let (field, part) = try inner.next() {
                    if case .bytes(let text) = part {
                        if field == 1 { apiVersion = String(decoding: text, as: UTF8.self) }
                        if field == 2 { kind = String(decoding: text, as: UTF8.self) }
                    }
                }
            case (2, .bytes(let bytes)):
                raw = bytes
            default:
                break
            }
        }
        guard let schema = schema(kind: kind) else {
            throw KubeAPIError(code: 415, reason: "UnsupportedMediaType",
                               message: "the body of the request was in an unknown format - accepted media types include: application/json")
        }
        guard case .object(let members) = try message(raw, schema) else { return .object([]) }
        return .object([("kind", .string(kind)), ("apiVersion", .string(apiVersion))] + members)
    }

    /// Go's protobuf encoder writes every non-pointer field, zero values included; JSON leaves
    /// those out (`omitempty`), so they are skipped here too.
    private static func message(_ bytes: ArraySlice<UInt8>, _ schema: [Int: (String, Field)]) throws(KubeAPIError) -> OrderedJSON {
        var reader = Reader(bytes: bytes)
        var result = OrderedJSON.object([])
        while let (number, value) = try reader.next() {
            guard let (name, field) = schema[number] else { continue }
            switch (field, value) {
            case (.string, .bytes(let text)) where text.isEmpty:
                continue
            case (.int, .varint(0)):
                continue
            case (.string, .bytes(let text)):
                result = result.setting([name], to: .string(String(decoding: text, as: UTF8.self)))
            case (.bytes, .bytes(let data)):
                result = result.setting([name], to: .string(Data(data).base64EncodedString()))
            case (.bool, .varint(let number)):
                result = result.setting([name], to: .bool(number != 0))
            case (.int, .varint(let number)), (.optionalInt, .varint(let number)):
                result = result.setting([name], to: .int(Int64(bitPattern: number)))
            case (.flag, .varint(0)):
                continue
            case (.flag, .varint):
                result = result.setting([name], to: .bool(true))
            case (.quantityMap, .bytes(let entry)):
                var inner = Reader(bytes: entry)
                var key = "", amount = ""
                while let (field, part) = try inner.next() {
                    guard case .bytes(let data) = part else { continue }
                    if field == 1 { key = String(decoding: data, as: UTF8.self) }
                    if field == 2, case .bytes(let text)?? = try? { var quantity = Reader(bytes: data); return try quantity.next()?.1 }() {
                        amount = String(decoding: text, as: UTF8.self)
                    }
                }
                result = result.setting([name, key], to: .string(amount))
            case (.intOrString, .bytes(let data)):
                var inner = Reader(bytes: data)
                var isString = false, number: Int64 = 0, text = ""
                while let (field, part) = try inner.next() {
                    switch (field, part) {
                    case (1, .varint(let type)): isString = type == 1
                    case (2, .varint(let value)): number = Int64(Int32(truncatingIfNeeded: value))
                    case (3, .bytes(let value)): text = String(decoding: value, as: UTF8.self)
                    default: break
                    }
                }
                result = result.setting([name], to: isString ? .string(text) : .int(number))
            case (.time, .bytes(let data)):
                var inner = Reader(bytes: data)
                var seconds: Int64 = 0
                while let (field, part) = try inner.next() {
                    if field == 1, case .varint(let number) = part { seconds = Int64(bitPattern: number) }
                }
                if seconds == 0 { continue }
                result = result.setting([name], to: .string(Date(timeIntervalSince1970: TimeInterval(seconds)).formatted(.iso8601)))
            case (.stringMap, .bytes(let entry)), (.bytesMap, .bytes(let entry)):
                var inner = Reader(bytes: entry)
                var key = "", text: ArraySlice<UInt8> = []
                while let (field, part) = try inner.next() {
                    if case .bytes(let data) = part {
                        if field == 1 { key = String(decoding: data, as: UTF8.self) }
                        if field == 2 { text = data }
                    }
                }
                let entryValue: OrderedJSON
                if case .bytesMap = field {
                    entryValue = .string(Data(text).base64EncodedString())
                } else {
                    entryValue = .string(String(decoding: text, as: UTF8.self))
                }
                result = result.setting([name, key], to: entryValue)
            case (.strings, .bytes(let text)):
                let existing = if case .array(let items)? = result[name] { items } else { [OrderedJSON]() }
                result = result.setting([name], to: .array(existing + [.string(String(decoding: text, as: UTF8.self))]))
            case (.message(let inner), .bytes(let data)):
                result = result.setting([name], to: try message(data, inner))
            case (.messages(let inner), .bytes(let data)):
                let existing = if case .array(let items)? = result[name] { items } else { [OrderedJSON]() }
                result = result.setting([name], to: .array(existing + [try message(data, inner)]))
            default:
                throw .badRequest("the protobuf body has an unexpected wire type for field \(name)")
            }
        }
        return result
    }

    enum Value {
        case varint(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed
    }

    /// The protobuf wire format: (field number, value) pairs.
    struct Reader {
        var bytes: ArraySlice<UInt8>

        mutating func next() throws(KubeAPIError) -> (Int, Value)? {
            guard !bytes.isEmpty else { return nil }
            let tag = try varint()
            let number = Int(tag >> 3)
            switch tag & 7 {
            case 0:
                return (number, .varint(try varint()))
            case 1:
                try skip(8)
                return (number, .fixed)
            case 2:
                let length = Int(try varint())
                guard length <= bytes.count else { throw truncated }
                let value = bytes.prefix(length)
                bytes = bytes.dropFirst(length)
                return (number, .bytes(value))
            case 5:
                try skip(4)
                return (number, .fixed)
            default:
                throw .badRequest("the protobuf body has an unsupported wire type")
            }
        }

        private var truncated: KubeAPIError { .badRequest("the protobuf body is truncated") }

        private mutating func skip(_ count: Int) throws(KubeAPIError) {
            guard bytes.count >= count else { throw truncated }
            bytes = bytes.dropFirst(count)
        }

        private mutating func varint() throws(KubeAPIError) -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while let byte = bytes.first {
                bytes = bytes.dropFirst()
                result |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
                guard shift < 64 else { break }
            }
            throw truncated
        }
    }
}
