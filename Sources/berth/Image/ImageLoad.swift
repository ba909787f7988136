import ArgumentParser
import BerthArchive
import BerthStore
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
        let store = try global.openStore()
        let source: ByteSource = try input.map { try FileSource(path: $0) }
            ?? FileSource(fileDescriptor: 0, closeOnDeinit: false)
        let loaded = try store.load(from: source)
        guard !quiet else { return }
        for image in loaded {
            for change in image.tags {
                if let previous = change.previousImage, try store.images().first(where: { $0.id == previous })?.tags.isEmpty == true {
                    print("The image \(change.reference.familiarString) already exists, renaming the old one with ID \(previous) to empty string")
                }
                print("Loaded image: \(change.reference.familiarString)")
            }
            if image.tags.isEmpty { print("Loaded image ID: \(image.id)") }
        }
    }
}
