import BerthFiles
import BerthOCI
import Foundation
import Glibc

/// A named volume of the `local` driver: a directory under the root that outlives containers.
public struct Volume: Codable, Hashable, Sendable {
    public var name: String
    public var driver: String
    /// The directory containers see (`<root>/volumes/<name>/_data`).
    public var mountpoint: String
    public var createdAt: Date
    public var labels: [String: String]
    public var options: [String: String]
    /// Made for one container (a 64-hex name), not by name: `volume prune` takes these by default.
    public var anonymous: Bool
}

/// The volumes of a root: `<root>/volumes/<name>/{volume.json,_data}`. A volume is made in a
/// temporary directory and renamed into place, so a crash never leaves half of one.
public struct VolumeStore: Sendable {
    public let directory: String
    private let stateRoot: StateRoot

    public init(root: String) throws {
        stateRoot = StateRoot(root)
        directory = stateRoot.volumes
        try Files.makeDirectories(directory, mode: 0o701)
    }

    /// Docker's rule for local volume names.
    public static func validateName(_ name: String) throws {
        let bytes = Array(name.utf8)
        func isAlphanumeric(_ byte: UInt8) -> Bool {
            (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
        }
        let valid = bytes.count >= 2 && isAlphanumeric(bytes[0]) && bytes.dropFirst().allSatisfy {
            isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
        }
        guard valid else { throw RuntimeError.invalidVolumeName(name) }
    }

    func path(of name: String) -> String { stateRoot.volume(name) }

    /// The volume, made if it does not exist yet (as `docker volume create` and `-v name:/x` do).
    /// `name` nil gives it a random 64-hex name; `anonymous` marks one made for a single container.
    @discardableResult
    public func create(_ name: String?, labels: [String: String] = [:], options: [String: String] = [:],
                       anonymous: Bool = false) throws -> Volume {
        let volumeName = name ?? ContainerID.random()
        try Self.validateName(volumeName)
        if let existing = try volume(volumeName) { return existing }
        let staging = directory + "/.creating-" + ContainerID.random().prefix(16)
        try Files.makeDirectories(staging + "/_data", mode: 0o755)
        let volume = Volume(name: volumeName, driver: "local", mountpoint: path(of: volumeName) + "/_data",
                            createdAt: Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)), labels: labels,
                            options: options, anonymous: anonymous)
        do {
            try Files.writeAtomically(Array(ContainerStore.encoder.encode(volume)), to: staging + "/volume.json", mode: 0o600,
                                      durability: .durable)
            if rename(staging, path(of: volumeName)) != 0 {
                let code = errno
                try? Files.removeTree(staging)
                // Another process made it first: use theirs.
                if code == EEXIST || code == ENOTEMPTY, let existing = try self.volume(volumeName) { return existing }
                throw RuntimeError.io(operation: "rename", path: path(of: volumeName), errno: code)
            }
        } catch {
            try? Files.removeTree(staging)
            throw error
        }
        return volume
    }

    /// The volume named `name`, or nil.
    public func volume(_ name: String) throws -> Volume? {
        let file = path(of: name) + "/volume.json"
        guard Files.exists(file) else { return nil }
        return try ContainerStore.decoder.decode(Volume.self, from: Data(Files.read(file)))
    }

    /// Every volume, by name; leftovers of interrupted creations are cleared on the way.
    public func list() throws -> [Volume] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        var volumes: [Volume] = []
        for name in names.sorted() {
            if name.hasPrefix(".creating-") {
                try? Files.removeTree(directory + "/" + name)
                continue
            }
            if let volume = try? volume(name) { volumes.append(volume) }
        }
        return volumes
    }

    /// Deletes a volume and its data (the caller checks that no container uses it).
    public func remove(_ name: String) throws {
        guard try volume(name) != nil else { throw RuntimeError.noSuchVolume(name) }
        // Rename first, so a crash mid-delete leaves no half volume under its name.
        let doomed = directory + "/.creating-removed-" + ContainerID.random().prefix(16)
        guard rename(path(of: name), doomed) == 0 else { throw RuntimeError.lastIO("rename", path(of: name)) }
        try Files.removeTree(doomed)
    }

    /// Bytes of the regular files in a volume.
    public func size(of name: String) -> Int64 {
        guard let walker = FileManager.default.enumerator(atPath: path(of: name) + "/_data") else { return 0 }
        var total: Int64 = 0
        for case let relative as String in walker {
            var info = stat()
            if lstat(path(of: name) + "/_data/" + relative, &info) == 0, info.st_mode & S_IFMT == S_IFREG {
                total += Int64(info.st_size)
            }
        }
        return total
    }
}
