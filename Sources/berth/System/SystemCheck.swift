import ArgumentParser
import BerthStore
import Foundation

/// `berth system check [--repair]`: verifies the store as `git fsck` verifies a repository.
struct SystemCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify every blob against its digest and every snapshot against its record.",
        discussion: """
            Prints one line per problem and exits non-zero while any remains. With --repair, a corrupt \
            blob is removed (the next pull or load stores it again) and a broken snapshot is removed or \
            forgotten (it is unpacked again when needed); a missing blob needs the image pulled or loaded again.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Repair what can be repaired.")
    var repair = false

    func run() throws {
        let report = try global.openEngine().store().check(repair: repair) { print($0) }
        let repaired = report.problems.count - report.remaining
        func count(_ number: Int, _ noun: String) -> String { "\(number) \(noun)\(number == 1 ? "" : "s")" }
        print("checked \(count(report.blobs, "blob")) and \(count(report.snapshots, "snapshot")): "
              + count(report.problems.count, "problem") + (repair ? ", \(repaired) repaired" : ""))
        if report.remaining > 0 { throw ExitCode(1) }
    }
}
