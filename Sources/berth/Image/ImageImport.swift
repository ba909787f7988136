import ArgumentParser
import BerthArchive
import BerthEngine

/// `berth import` / `berth image import`.
struct ImageImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import the contents from a tarball to create a filesystem image.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp(
        "Apply Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR).",
        valueName: "list"))
    var change: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("Set commit message for imported image.", valueName: "string"))
    var message: String?

    @Option(help: ArgumentHelp("Set platform if server is multi-platform capable (linux/amd64 only).", valueName: "string"))
    var platform: String?

    @Argument(help: ArgumentHelp("Tarball to import (plain, gzip or zstd), or - for STDIN.", valueName: "file|-"))
    var file: String

    @Argument(help: ArgumentHelp("Name for the image.", valueName: "REPOSITORY[:TAG]"))
    var reference: String?

    func run() throws {
        let engine = try global.openEngine()
        let options = ImageImportOptions(changes: change, message: message, platform: platform, reference: reference,
                                         sourceName: file.hasPrefix("http://") || file.hasPrefix("https://") ? file : "-")
        let id = try usageErrors {
            let source: ByteSource = file == "-" || options.sourceName != "-"
                ? FileSource(fileDescriptor: 0, closeOnDeinit: false) : try FileSource(path: file)
            return try engine.importImage(from: source, options: options)
        }
        print(id)
    }
}
