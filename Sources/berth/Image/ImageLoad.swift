import ArgumentParser
import BerthArchive
import BerthEngine
import Foundation

/// `berth load` / `berth image load`.
struct ImageLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load", abstract: "Load an image from a tar archive or STDIN.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Read from tar archive file, instead of STDIN.", valueName: "file"))
    var input: String?

    @Flag(name: .shortAndLong, help: "Suppress the load output.")
    var quiet = false

    func run() throws {
        if input == nil, isatty(0) != 0 {
            throw ValidationError("requested load from stdin, but stdin is empty")
        }
        let engine = try global.openEngine()
        let source: ByteSource = try input.map { try FileSource(path: $0) }
            ?? FileSource(fileDescriptor: 0, closeOnDeinit: false)
        // On a terminal, each layer's "Loading layer" bar as Docker draws it; otherwise (and with
        // -q) only the final lines.
        let display = TransferDisplay(quiet: quiet)
        let lines = try engine.loadImages(from: source, progress: display.show)
        guard !quiet else { return }
        for line in lines { print(line) }
    }
}
