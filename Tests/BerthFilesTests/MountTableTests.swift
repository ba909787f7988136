import BerthFiles
import Glibc
import Testing

/// The mount table is read whole, however long: a mount made last (listed last) is found even
/// when the table is far longer than a page.
@Suite(.enabled(if: getuid() == 0, "needs root to mount"))
struct MountTableTests {
    @Test func theNewestOfManyMountsIsListedWithItsOptions() throws {
        let base = "/tmp/mount-table-\(getpid())"
        mkdir(base, 0o755)
        defer { rmdir(base) }
        var targets: [String] = []
        defer {
            for target in targets.reversed() {
                umount2(target, Int32(MNT_DETACH))
                rmdir(target)
            }
        }
        // Sixty tmpfs mounts with long names put the table well past 4 KiB.
        for index in 0..<60 {
            let target = base + "/a-rather-long-mount-point-name-to-fill-the-table-\(index)"
            mkdir(target, 0o755)
            targets.append(target)
            try #require(mount("tmpfs", target, "tmpfs", 0, "size=\(index + 1)m") == 0)
        }
        let entry = try #require(MountTable.entry(at: targets.last!))
        #expect(entry.type == "tmpfs")
        #expect(entry.options.contains("size=61440k"))
        #expect(MountTable.mountPoints().isSuperset(of: targets))
    }
}
