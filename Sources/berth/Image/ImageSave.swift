import ArgumentParser
import BerthArchive
import BerthEngine
import BerthFiles
import Foundation

/// `berth save` / `berth image save`.
struct ImageSave: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "save",
        abstract: "Save one or more images to a tar archive (streamed to STDOUT by default).",
        discussion: "The archive is both a docker-archive (docker load) and an OCI image layout (skopeo oci-archive:, umoci).")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Write to a file, instead of STDOUT.", valueName: "file"))
    var output: String?

    @Argument(help: ArgumentHelp("Images to save.", valueName: "image"))
    var images: [String]

    func run() throws {
        let engine = try global.openEngine()
        guard let output else {
            guard isatty(1) == 0 else {
                throw ValidationError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
            }
            try engine.saveImages(images, to: FileSink(fileDescriptor: 1, closeOnDeinit: false))
            return
        }
        // A device or a pipe (`-o /dev/null`) is written to, never replaced by a regular file.
        var info = stat()
        if stat(output, &info) == 0, (info.st_mode & S_IFMT) != S_IFREG, (info.st_mode & S_IFMT) != S_IFDIR {
            try engine.saveImages(images, to: FileSink(path: output))
            return
        }
        // Write beside the target and rename, so a failed save never leaves a truncated archive.
        let temporary = output + ".berth-tmp-\(getpid())"
        do {
            let sink = try FileSink(path: temporary)
            try engine.saveImages(images, to: sink)
            try AtomicFile.commit(temporary, to: output, durability: .durable)
        } catch {
            unlink(temporary)
            throw error
        }
    }
}
