import BerthOCI
import Foundation

/// Decodes the input as each spec object Berth reads from outside (a manifest, an index, an image
/// config, the probe that tells them apart, any JSON value) and parses it as an image reference,
/// a digest and a timestamp. What decodes must encode and decode again to the same value, and a
/// parsed reference must parse again from its own text to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOCI(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let probe = try? CanonicalJSON.decode(MediaTypeProbe.self, from: bytes) { _ = probe.effectiveMediaType }
    if let manifest = try? CanonicalJSON.decode(Manifest.self, from: bytes) {
        expectRoundTrip(manifest)
        _ = manifest.layers.map { MediaType.isLayer($0.mediaType) }
    }
    if let index = try? CanonicalJSON.decode(Index.self, from: bytes) {
        expectRoundTrip(index)
        for platform in [Platform.current, Platform(architecture: "arm", os: "linux", variant: "v7")] {
            _ = index.manifest(for: platform)
        }
    }
    if let config = try? CanonicalJSON.decode(ImageConfig.self, from: bytes) {
        expectRoundTrip(config)
        _ = config.platform.matches(Platform.current)
        _ = ChainID.chain(config.rootfs.diffIDs)
        if let created = config.created { _ = Timestamp.parse(created) }
    }
    if let value = try? JSONValue.decoded(from: Data(bytes)), let encoded = try? value.encoded() {
        _ = value.setting("key", to: .string("value"))
        guard (try? JSONValue.decoded(from: encoded)) != nil else { fatalError("JSON value does not decode from its own encoding") }
    }

    let text = String(decoding: bytes, as: UTF8.self)
    if let reference = try? Reference(parsing: text) {
        guard let again = try? Reference(parsing: reference.description), again == reference else {
            fatalError("reference \(reference) does not parse back to itself")
        }
        _ = reference.familiarString
        _ = reference.withDefaultTag
    }
    if let digest = try? Digest(parsing: text) {
        guard (try? Digest(parsing: digest.description)) == digest else { fatalError("digest \(digest) does not parse back to itself") }
    }
    if let date = Timestamp.parse(text) { _ = Timestamp.format(date) }
    return 0
}

/// Traps unless `value` encodes and decodes back to itself.
private func expectRoundTrip<T: Codable & Equatable>(_ value: T) {
    guard let encoded = try? CanonicalJSON.encode(value) else { fatalError("\(T.self) that decoded does not encode") }
    guard let decoded = try? CanonicalJSON.decode(T.self, from: encoded), decoded == value else {
        fatalError("\(T.self) does not decode from its own encoding: \(String(decoding: encoded, as: UTF8.self))")
    }
}
