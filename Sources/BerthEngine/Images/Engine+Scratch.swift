import BerthFiles
import Foundation
import Glibc

extension Engine {
    /// A new private directory under the state root's `tmp/` for one request's files (an
    /// uploaded build context or image archive, an archive being saved): on the store's file
    /// system, so a large archive does not fill /tmp. The caller removes it; what a killed
    /// process left there (its pid is in the name) goes when the next one is made.
    public func makeScratchDirectory(_ purpose: String) throws -> String {
        let parent = StateRoot(root).scratch
        let path = parent + "/\(purpose)-\(getpid())-\(UUID().uuidString.lowercased())"
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            removeAbandonedScratch(in: parent)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw EngineError(.system, "cannot create a scratch directory under \(parent): \(error.localizedDescription)")
        }
        return path
    }

    /// Removes the scratch directories of processes that no longer run.
    private func removeAbandonedScratch(in parent: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] {
            let fields = name.split(separator: "-")
            guard fields.count > 2, let pid = pid_t(fields[1]), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: parent + "/" + name)
        }
    }
}
