import BerthFiles
import BerthOCI
import Foundation
import Glibc
import Synchronization

/// Container records on disk: one directory per container under `<root>/containers/<id>/`, each
/// holding `container.json` (replaced atomically under the container's lock), the bundle, the
/// overlay upper and work directories and the json-file log.
public final class ContainerStore: Sendable {
    /// Berth's state root.
    public let root: String
    /// Where each part of the state lies under `root`.
    public let stateRoot: StateRoot
    public let directory: String
    /// Records decoded before, by ID, with the stamp of the file they came from: a long-lived
    /// process (`berth serve`) lists a hundred containers without decoding a hundred unchanged
    /// records again. Records are replaced by rename, so a changed record has a new stamp.
    private let decoded = Mutex<[String: (stamp: FileStamp, record: ContainerRecord)]>([:])

    public init(root: String) throws {
        self.root = root
        stateRoot = StateRoot(root)
        directory = stateRoot.containers
        try Files.makeDirectories(directory, mode: 0o710)
    }

    /// The layout of container `id`'s directory.
    public func files(of id: String) -> ContainerDirectory { stateRoot.container(id) }
    public func path(of id: String) -> String { files(of: id).path }
    func recordPath(_ id: String) -> String { files(of: id).record }
    public func logPath(of id: String) -> String { files(of: id).jsonLog }
    func lock(of id: String) -> FileLock { FileLock(files(of: id).lock) }
    func monitorLock(of id: String) -> FileLock { FileLock(files(of: id).monitorLock) }

    /// Every container's ID, in no particular order.
    public func ids() throws -> [String] {
        guard let directory = opendir(directory) else { throw RuntimeError.lastIO("opendir", self.directory) }
        defer { closedir(directory) }
        var ids: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name.utf8.count == 64, name.utf8.allSatisfy({ isHex($0) }) { ids.append(name) }
        }
        return ids
    }

    /// The record of `id`, or nil if it was removed (or never completely created).
    public func record(_ id: String) throws -> ContainerRecord? {
        let path = recordPath(id)
        guard let stamp = FileStamp(path) else {
            decoded.withLock { _ = $0.removeValue(forKey: id) }
            return nil
        }
        if let cached = decoded.withLock({ $0[id] }), cached.stamp == stamp { return cached.record }
        do {
            // Read after the stamp was taken: a record replaced in between is read anew next time.
            let record = try Self.decoder.decode(ContainerRecord.self, from: Data(Files.read(path)))
            decoded.withLock { $0[id] = (stamp, record) }
            return record
        } catch let error as RuntimeError {
            if case .io(_, _, let code) = error, code == ENOENT { return nil }
            throw error
        }
    }

    /// All records, newest first as `docker ps` lists them.
    public func records() throws -> [ContainerRecord] {
        try ids().compactMap { try record($0) }.sorted { $0.created > $1.created }
    }

    /// Finds a container by full ID, unique ID prefix or name (with or without a leading slash).
    public func find(_ reference: String) throws -> ContainerRecord {
        // A full ID names one record: read that alone.
        if reference.utf8.count == 64, reference.allSatisfy(\.isHexDigit), let exact = try record(reference) {
            return exact
        }
        let all = try records()
        if let exact = all.first(where: { $0.id == reference }) { return exact }
        let name = reference.hasPrefix("/") ? String(reference.dropFirst()) : reference
        if let named = all.first(where: { $0.name == name }) { return named }
        let matches = reference.isEmpty ? [] : all.filter { $0.id.hasPrefix(reference) }
        if matches.count > 1 { throw RuntimeError.ambiguousContainer(reference) }
        guard let match = matches.first else { throw RuntimeError.noSuchContainer(reference) }
        return match
    }

    /// Creates the container's directory and first record, claiming its name; names are checked
    /// and claimed under one store-wide lock so two concurrent `run --name x` cannot both win.
    func create(_ record: ContainerRecord) throws {
        try FileLock(stateRoot.containerNamesLock).withLock {
            if let holder = try records().first(where: { $0.name == record.name }) {
                throw RuntimeError.nameInUse(name: record.name, id: holder.id)
            }
            try Files.makeDirectories(path(of: record.id), mode: 0o710)
            try write(record)
        }
    }

    /// Gives a container a new name, checked and claimed under the same lock as `create`.
    func rename(_ id: String, to name: String) throws {
        try FileLock(stateRoot.containerNamesLock).withLock {
            if let holder = try records().first(where: { $0.name == name && $0.id != id }) {
                throw RuntimeError.nameInUse(name: name, id: holder.id)
            }
            try update(id) { $0.name = name }
        }
    }

    /// Generates a Docker-style `adjective_surname` name not used by any container.
    func generateName() throws -> String {
        let taken = Set(try records().map(\.name))
        for attempt in 0..<100 {
            var name = NameGenerator.random()
            if attempt > 10 { name += String(Int.random(in: 0..<10)) }
            if !taken.contains(name) { return name }
        }
        throw RuntimeError.invalidOption("could not generate a unique container name: give one with --name")
    }

    func write(_ record: ContainerRecord) throws {
        // Not synced: a record is rewritten at every state change, and a sync there would
        // be paid by every start and stop.
        try Files.writeAtomically(Array(Self.encoder.encode(record)), to: recordPath(record.id), mode: 0o600,
                                  durability: .atomicOnly)
    }

    /// Read-modify-write of a record under the container's lock.
    @discardableResult
    func update(_ id: String, _ change: (inout ContainerRecord) throws -> Void) throws -> ContainerRecord {
        try lock(of: id).withLock {
            guard var record = try record(id) else { throw RuntimeError.noSuchContainer(id) }
            try change(&record)
            try write(record)
            return record
        }
    }

    /// Whether a monitor process currently holds the container.
    func monitorAlive(_ id: String) -> Bool {
        let lock = monitorLock(of: id)
        guard Files.exists(lock.path) else { return false }
        return (try? lock.tryLock(exclusive: false)) == false
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .rfc3339
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .rfc3339
        return decoder
    }()
}

/// What tells one version of a file from the next: its inode, size and change time.
struct FileStamp: Equatable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let changed: timespec

    init?(_ path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
        size = Int64(status.st_size)
        changed = status.st_ctim
    }

    static func == (lhs: FileStamp, rhs: FileStamp) -> Bool {
        lhs.device == rhs.device && lhs.inode == rhs.inode && lhs.size == rhs.size
            && lhs.changed.tv_sec == rhs.changed.tv_sec && lhs.changed.tv_nsec == rhs.changed.tv_nsec
    }
}

private func isHex(_ byte: UInt8) -> Bool {
    (48...57).contains(byte) || (97...102).contains(byte)
}

/// Random 64-hex-character container IDs, as Docker makes them (never all digits, so an ID never
/// reads as a number).
public enum ContainerID {
    private static let hexDigits = Array("0123456789abcdef")

    public static func random() -> String {
        while true {
            var generator = SystemRandomNumberGenerator()
            let id = String((0..<64).map { _ in Self.hexDigits[Int.random(in: 0..<16, using: &generator)] })
            if id.prefix(12).contains(where: { $0.isLetter }) { return id }
        }
    }
}
