import BerthTemplate

/// Parses the input as a `--format` template and renders it over a JSON document: the part of the
/// input after a line `%%`, parsed with `OrderedJSON`, or (when there is none) a document shaped
/// like `docker image inspect`'s. A document that parses must parse again from both its encodings
/// to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTemplate(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let separator = Array("\n%%\n".utf8)
    var templateBytes = bytes[...]
    var document = sample
    if let index = firstIndex(of: separator, in: bytes) {
        templateBytes = bytes[..<index]
        let json = Array(bytes[(index + separator.count)...])
        if let parsed = try? OrderedJSON.parse(json) {
            for text in [parsed.compact, parsed.indented()] {
                guard let again = try? OrderedJSON.parse(Array(text.utf8)), again == parsed else {
                    fatalError("JSON does not parse back to itself from \(text)")
                }
            }
            document = parsed
        }
    }
    if let template = try? GoTemplate(String(decoding: templateBytes, as: UTF8.self)) {
        _ = try? template.render(document)
    }
    return 0
}

private let sample = OrderedJSON.object([
    ("Id", .string("sha256:0123456789abcdef")),
    ("RepoTags", .strings(["busybox:latest", "busybox:1.36"])),
    ("Size", .int(4_261_574)),
    ("Config", .object([
        ("Env", .strings(["PATH=/usr/bin:/bin"])), ("Cmd", .strings(["sh"])), ("Entrypoint", .null),
        ("Labels", .object([("org.example", .string("<&>"))])), ("Tty", .bool(false)),
    ])),
])

private func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    return (0...(haystack.count - needle.count)).first { haystack[$0..<$0 + needle.count].elementsEqual(needle) }
}
