import ArgumentParser
import BerthArchive
import BerthBuild
import BerthOCI
import BerthStore
import Foundation

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
        if let platform, platform != Platform.current.description {
            throw ValidationError("platform \(platform) is not supported: this machine runs \(Platform.current)")
        }
        if file.hasPrefix("http://") || file.hasPrefix("https://") {
            throw ValidationError("importing from a URL is not supported; download the tarball and import the file")
        }
        let tag = try reference.map { try Reference(parsing: $0) }
        if let tag, tag.digest != nil {
            throw ValidationError("refusing to create a tag with a digest reference")
        }
        let commands = try change.map(ConfigChanges.parseChange)
        let store = try global.openStore()
        let source: ByteSource = file == "-" ? FileSource(fileDescriptor: 0, closeOnDeinit: false) : try FileSource(path: file)
        let result = try store.importImage(from: source, sourceName: "-", message: message, tag: tag) { config in
            for command in commands {
                let expanded = try command.expanded(with: ConfigChanges.environment(of: config), fileName: "--change")
                try ConfigChanges.apply(expanded, to: &config)
            }
        }
        print(result.id)
    }
}
