import Foundation
import Testing

/// The image commands' user-visible behaviour (tables, JSON, filters, errors), against the real
/// binary on the busybox root filesystem.
@Suite(.enabled(if: Peers.berth, "needs root and GNU tar"))
struct ImageCommandTests {
    private static let fullID = #/^sha256:[0-9a-f]{64}$/#
    private static let shortID = #/^[0-9a-f]{12}$/#

    /// Cuts a table row at the columns where the header's names start.
    private func cells(_ line: String, at starts: [Int]) -> [String] {
        let characters = Array(line)
        return starts.enumerated().map { index, start in
            let end = index + 1 < starts.count ? starts[index + 1] : characters.count
            guard start < characters.count else { return "" }
            return String(characters[start..<min(end, characters.count)]).trimmingCharacters(in: .whitespaces)
        }
    }

    /// Where each of `names` starts in the header line.
    private func columnStarts(_ header: String, _ names: [String]) throws -> [Int] {
        try names.map { name in
            let range = try #require(header.range(of: name), "header \(header) lacks \(name)")
            return header.distance(from: header.startIndex, to: range.lowerBound)
        }
    }

    @Test func importPrintsTheIDAndImagesListsItInDockersTable() throws {
        let sandbox = try BerthSandbox()
        let id = try sandbox.importBusybox()
        #expect(id.wholeMatch(of: Self.fullID) != nil, "import printed \(id)")

        let lines = try sandbox.ok("images").split(separator: "\n").map(String.init)
        try #require(lines.count == 2, "\(lines)")
        // Docker's tabwriter: columns at least 10 wide, 3 spaces of padding.
        #expect(lines[0].wholeMatch(of: #/REPOSITORY   TAG       IMAGE ID       CREATED +SIZE/#) != nil, "header: \(lines[0])")
        let row = cells(lines[1], at: try columnStarts(lines[0], ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]))
        #expect(row[0] == "busybox")
        #expect(row[1] == "latest")
        #expect(row[2] == String(id.dropFirst("sha256:".count).prefix(12)))
        #expect(row[3].hasSuffix("ago"), "created: \(row[3])")
        #expect(row[4].wholeMatch(of: #/[0-9.]+(B|kB|MB)/#) != nil, "size: \(row[4])")
    }

    @Test func quietDigestsAndJSONListings() throws {
        let sandbox = try BerthSandbox()
        let busybox = try sandbox.importBusybox()
        let other = try sandbox.importBusybox(as: "example.com/team/app:v1", changes: [#"CMD ["true"]"#])

        let quiet = try sandbox.ok("images", "-q").split(separator: "\n").map(String.init)
        #expect(Set(quiet) == Set([busybox, other].map { String($0.dropFirst(7).prefix(12)) }))
        #expect(try sandbox.imageIDs() == [busybox, other])

        let digests = try sandbox.ok("images", "--digests").split(separator: "\n").map(String.init)
        #expect(digests.first?.wholeMatch(of: #/REPOSITORY +TAG +DIGEST +IMAGE ID +CREATED +SIZE/#) != nil,
                "\(digests)")
        #expect(digests.dropFirst().allSatisfy { $0.contains("<none>") }, "loaded/imported images have no repo digest")

        let json = try sandbox.ok("images", "--format", "json").split(separator: "\n")
        try #require(json.count == 2)
        let expectedKeys: Set = ["Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository",
                                 "SharedSize", "Size", "Tag", "UniqueSize", "VirtualSize"]
        var repositories: Set<String> = []
        for line in json {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(Set(object.keys) == expectedKeys)
            repositories.insert("\(object["Repository"] ?? "")")
        }
        #expect(repositories == ["busybox", "example.com/team/app"])

        let template = try sandbox.ok("images", "--format", "{{.Repository}}:{{.Tag}}")
        #expect(Set(template.split(separator: "\n")) == ["busybox:latest", "example.com/team/app:v1"])
    }

    @Test func filtersByDanglingReferenceAndLabel() throws {
        let sandbox = try BerthSandbox()
        let labelled = try sandbox.importBusybox(as: "busybox:labelled",
                                                 changes: [#"CMD ["sh"]"#, "LABEL com.example.team=storage"])
        let dangling = try sandbox.importBusybox(as: nil, changes: [#"CMD ["dangling"]"#])
        let other = try sandbox.importBusybox(as: "tools:1", changes: [#"CMD ["tools"]"#])
        func ids(_ filter: String) throws -> Set<String> {
            Set(try sandbox.ok("images", "-q", "--no-trunc", "--filter", filter).split(separator: "\n").map(String.init))
        }
        #expect(try ids("dangling=true") == [dangling])
        #expect(try ids("dangling=false") == [labelled, other])
        #expect(try ids("reference=busy*") == [labelled])
        #expect(try ids("reference=tools:1") == [other])
        #expect(try ids("label=com.example.team=storage") == [labelled])
        #expect(try ids("label=com.example.team") == [labelled])
        #expect(try ids("label=com.example.team=compute") == [])

        let bad = try sandbox.run("images", "--filter", "colour=blue")
        #expect(!bad.succeeded)
        #expect(bad.err.contains("colour"), "\(bad)")
    }

    @Test func inspectShowsDockersDocument() throws {
        let sandbox = try BerthSandbox()
        let id = try sandbox.importBusybox(changes: [
            #"CMD ["sh"]"#, "ENV PATH=/usr/bin:/bin", "EXPOSE 80/tcp", "LABEL owner=berth",
        ])
        let document = try sandbox.inspect("busybox")
        #expect(document["Id"] as? String == id)
        #expect(document["RepoTags"] as? [String] == ["busybox:latest"])
        let config = try #require(document["Config"] as? [String: Any])
        #expect(config["Cmd"] as? [String] == ["sh"])
        #expect(config["Env"] as? [String] == ["PATH=/usr/bin:/bin"])
        #expect(canonicalJSON(config["ExposedPorts"]) == #"{"80/tcp":{}}"#)
        #expect(config["Labels"] as? [String: String] == ["owner": "berth"])
        let rootfs = try #require(document["RootFS"] as? [String: Any])
        #expect(rootfs["Type"] as? String == "layers")
        let layers = try #require(rootfs["Layers"] as? [String])
        #expect(layers.count == 1 && layers[0].wholeMatch(of: Self.fullID) != nil, "\(layers)")
        #expect(document["Os"] as? String == "linux")

        #expect(try sandbox.ok("inspect", "-f", "{{.Config.Cmd}}", "busybox") == "[sh]\n")
        #expect(try sandbox.ok("image", "inspect", "--format", "{{.Id}}", String(id.dropFirst(7).prefix(12))) == id + "\n")
    }

    @Test func changesSetEveryConfigField() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox(as: "changed:1", changes: [
            #"CMD ["-c", "echo hi"]"#, #"ENTRYPOINT ["/bin/sh"]"#, "ENV A=1 B=two", "ENV C=${A}x",
            "EXPOSE 8080 53/udp", #"LABEL a=b "c d"="e f""#, "USER 33:33", "WORKDIR /srv", "WORKDIR app",
            #"VOLUME ["/data", "/logs"]"#, "STOPSIGNAL SIGINT",
            "HEALTHCHECK --interval=30s --timeout=3s --start-period=1s --retries=2 CMD true",
            "ONBUILD RUN echo child",
        ])
        let config = try #require(try sandbox.inspect("changed:1")["Config"] as? [String: Any])
        #expect(config["Cmd"] as? [String] == ["-c", "echo hi"])
        #expect(config["Entrypoint"] as? [String] == ["/bin/sh"])
        #expect(config["Env"] as? [String] == ["A=1", "B=two", "C=1x"])
        #expect(canonicalJSON(config["ExposedPorts"]) == #"{"53/udp":{},"8080/tcp":{}}"#)
        #expect(config["Labels"] as? [String: String] == ["a": "b", "c d": "e f"])
        #expect(config["User"] as? String == "33:33")
        #expect(config["WorkingDir"] as? String == "/srv/app")
        #expect(canonicalJSON(config["Volumes"]) == #"{"/data":{},"/logs":{}}"#)
        #expect(config["StopSignal"] as? String == "SIGINT")
        #expect(canonicalJSON(config["Healthcheck"])
                == #"{"Interval":30000000000,"Retries":2,"StartPeriod":1000000000,"Test":["CMD-SHELL","true"],"Timeout":3000000000}"#)
        #expect(config["OnBuild"] as? [String] == ["RUN echo child"])

        let bad = try sandbox.run("import", "--change", "RUN echo no", try Fixtures.busyboxRootfs())
        #expect(!bad.succeeded, "RUN is not a --change instruction: \(bad)")
    }

    @Test func importFromStandardInput() throws {
        let sandbox = try BerthSandbox()
        let result = try sandbox.run(["image", "import", "-", "piped:1"], stdin: .file(try Fixtures.busyboxRootfs()))
        #expect(result.succeeded, "\(result)")
        let id = result.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try sandbox.imageIDs() == [id])
        #expect(try sandbox.inspect("piped:1")["Comment"] as? String == "Imported from -")
    }

    /// `docker images [REPOSITORY[:TAG]]` lists only that repository.
    @Test func imagesTakesARepositoryArgument() throws {
        let sandbox = try BerthSandbox()
        let busybox = try sandbox.importBusybox()
        try sandbox.importBusybox(as: "other:1", changes: [#"CMD ["other"]"#])
        #expect(try sandbox.ok("images", "-q", "--no-trunc", "busybox") == busybox + "\n")
        #expect(try sandbox.ok("image", "ls", "-q", "--no-trunc", "busybox:latest") == busybox + "\n")
        #expect(try sandbox.ok("images", "-q", "busybox:other").isEmpty)
        // An image with several names shows only the matching ones, as Docker does.
        #expect(try sandbox.ok("tag", "busybox", "busybox:second").isEmpty)
        #expect(try sandbox.ok("tag", "busybox", "elsewhere:1").isEmpty)
        #expect(try sandbox.ok("images", "--format", "{{.Repository}}:{{.Tag}}", "busybox") == "busybox:latest\nbusybox:second\n"
            || (try sandbox.ok("images", "--format", "{{.Repository}}:{{.Tag}}", "busybox")) == "busybox:second\nbusybox:latest\n")
        #expect(try sandbox.ok("images", "--format", "{{.Repository}}:{{.Tag}}", "elsewhere") == "elsewhere:1\n")
    }

    @Test func tagThenRemoveByTagOnlyUntags() throws {
        let sandbox = try BerthSandbox()
        let id = try sandbox.importBusybox()
        try sandbox.ok("tag", "busybox", "mirror/busybox:stable")
        let rows = try sandbox.ok("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").split(separator: "\n")
        let short = String(id.dropFirst(7).prefix(12))
        #expect(Set(rows) == ["busybox:latest \(short)", "mirror/busybox:stable \(short)"])

        #expect(try sandbox.ok("rmi", "mirror/busybox:stable") == "Untagged: mirror/busybox:stable\n")
        #expect(try sandbox.imageIDs() == [id])
        #expect(try sandbox.inspect(id)["RepoTags"] as? [String] == ["busybox:latest"])

        // The last tag takes the image with it.
        let last = try sandbox.ok("rmi", "busybox")
        #expect(last.contains("Untagged: busybox:latest") && last.contains("Deleted: \(id)"), "\(last)")
        #expect(try sandbox.imageIDs().isEmpty)
    }

    @Test func removeByIDWithTagsInTwoRepositoriesNeedsForce() throws {
        let sandbox = try BerthSandbox()
        let id = try sandbox.importBusybox()
        try sandbox.ok("tag", id, "other:1")
        let refused = try sandbox.run("rmi", String(id.dropFirst(7).prefix(12)))
        #expect(!refused.succeeded)
        #expect(refused.err.contains("must be forced"), "\(refused)")
        #expect(try sandbox.imageIDs() == [id])

        let forced = try sandbox.ok("rmi", "-f", id)
        #expect(forced.contains("Untagged: busybox:latest") && forced.contains("Untagged: other:1"), "\(forced)")
        #expect(forced.contains("Deleted: \(id)"), "\(forced)")
        #expect(try sandbox.imageIDs().isEmpty)
        #expect(sandbox.blobs.isEmpty, "rmi left blobs: \(sandbox.blobs)")
    }

    @Test func pruneRemovesDanglingImages() throws {
        let sandbox = try BerthSandbox()
        let kept = try sandbox.importBusybox()
        let dangling = try sandbox.importBusybox(as: nil, changes: [#"CMD ["old"]"#])
        let blobsBefore = sandbox.blobs

        let output = try sandbox.ok("image", "prune", "-f")
        #expect(output.contains("Deleted Images:\ndeleted: \(dangling)"), "\(output)")
        #expect(output.contains("Total reclaimed space: "), "\(output)")
        #expect(try sandbox.imageIDs() == [kept])
        // The dangling image's config and manifest go; the shared layer stays.
        #expect(sandbox.blobs.isSubset(of: blobsBefore) && blobsBefore.count - sandbox.blobs.count == 2,
                "before \(blobsBefore.sorted()), after \(sandbox.blobs.sorted())")

        let again = try sandbox.ok("image", "prune", "-f")
        #expect(again == "Total reclaimed space: 0B\n", "\(again)")
    }

    @Test func pruneAsksFirstWithoutForce() throws {
        let sandbox = try BerthSandbox()
        let dangling = try sandbox.importBusybox(as: nil)
        let prompt = "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
        let declined = try sandbox.run(["image", "prune"], stdin: .bytes(Data("n\n".utf8)))
        #expect(declined.succeeded && declined.out == prompt, "\(declined)")
        #expect(try sandbox.imageIDs() == [dangling])
        let accepted = try sandbox.run(["image", "prune"], stdin: .bytes(Data("y\n".utf8)))
        #expect(accepted.succeeded && accepted.out.hasPrefix(prompt + "Deleted Images:\ndeleted: \(dangling)\n"),
                "\(accepted)")
        #expect(try sandbox.imageIDs().isEmpty)
    }

    @Test func historyShowsTheImportComment() throws {
        let sandbox = try BerthSandbox()
        let result = try sandbox.run(["import", "-m", "rootfs from busybox-static", try Fixtures.busyboxRootfs(), "hist:1"])
        try #require(result.succeeded, "\(result)")
        let id = result.out.trimmingCharacters(in: .whitespacesAndNewlines)
        let lines = try sandbox.ok("history", "hist:1").split(separator: "\n").map(String.init)
        try #require(lines.count == 2, "\(lines)")
        #expect(lines[0].wholeMatch(of: #/IMAGE +CREATED +CREATED BY +SIZE +COMMENT/#) != nil, "\(lines[0])")
        #expect(lines[1].hasPrefix(String(id.dropFirst(7).prefix(12)) + " "), "\(lines[1])")
        #expect(lines[1].hasSuffix("rootfs from busybox-static"), "\(lines[1])")
        #expect(try sandbox.ok("image", "history", "-q", "hist:1") == String(id.dropFirst(7).prefix(12)) + "\n")
    }

    @Test func invalidReferenceAndUnknownImage() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let bad = try sandbox.run("tag", "busybox", "Bad:Name")
        #expect(!bad.succeeded)
        #expect(bad.err.contains("must be lowercase"), "\(bad)")

        for arguments in [["image", "inspect", "x"], ["rmi", "x"], ["history", "x"], ["tag", "x", "y"], ["save", "-o", sandbox.scratch + "/x.tar", "x"]] {
            let missing = try sandbox.run(arguments)
            #expect(!missing.succeeded, "\(missing)")
            #expect(missing.err.contains("No such image: x"), "\(missing)")
        }
        #expect(access(sandbox.scratch + "/x.tar", F_OK) != 0, "a failed save left its output file")

        for arguments in [["load", "-i", "/nonexistent/image.tar"], ["import", "/nonexistent/image.tar"]] {
            let missing = try sandbox.run(arguments)
            #expect(!missing.succeeded)
            #expect(missing.err.contains("/nonexistent/image.tar") && missing.err.contains("No such file or directory"),
                    "\(missing)")
        }
    }

    @Test func nonTarImportFailsAndLeavesNothing() throws {
        let sandbox = try BerthSandbox()
        let notTar = sandbox.scratch + "/not-a-tar.bin"
        FileManager.default.createFile(atPath: notTar, contents: Data(repeating: 0x41, count: 4096) + Data("hello".utf8))
        let result = try sandbox.run("import", notTar, "nottar:1")
        #expect(!result.succeeded)
        #expect(result.err.contains("tar"), "\(result)")
        #expect(result.err.split(separator: "\n").count == 1, "one line: \(result.err)")
        #expect(try sandbox.imageIDs().isEmpty)
        try sandbox.ok("image", "prune", "-f")
        #expect(sandbox.blobs.isEmpty, "\(sandbox.blobs)")
        #expect(sandbox.entries("ingest").isEmpty)
    }

    /// A saved archive with one changed byte in its layer, a truncated one, and random bytes: each
    /// load fails with one clear line and leaves the store as it was.
    @Test func corruptArchivesFailToLoadAndLeaveNothing() throws {
        let source = try BerthSandbox()
        try source.importBusybox(as: "corrupt:1", changes: [#"CMD ["corrupt"]"#])
        let layer = try #require((try source.inspect("corrupt:1")["RootFS"] as? [String: Any])?["Layers"] as? [String])[0]
        let saved = source.scratch + "/saved.tar"
        try source.ok("save", "-o", saved, "corrupt:1")
        let unpacked = source.scratch + "/unpacked"
        try FileManager.default.createDirectory(atPath: unpacked, withIntermediateDirectories: true)
        try #require(try Command.run("tar", ["-xf", saved, "-C", unpacked]).succeeded)
        let blob = unpacked + "/blobs/sha256/" + layer.dropFirst(7)
        let handle = try #require(FileHandle(forUpdatingAtPath: blob))
        try handle.seek(toOffset: 100_000)
        let byte = try #require(try handle.read(upToCount: 1)).first ?? 0
        try handle.seek(toOffset: 100_000)
        try handle.write(contentsOf: Data([byte ^ 0xFF]))
        try handle.close()
        let flipped = source.scratch + "/flipped.tar"
        try #require(try Command.run("tar", ["-cf", flipped, "-C", unpacked,
                                             "blobs", "index.json", "manifest.json", "oci-layout"]).succeeded)
        let truncated = source.scratch + "/truncated.tar"
        let savedBytes = try #require(FileManager.default.contents(atPath: saved))
        FileManager.default.createFile(atPath: truncated, contents: savedBytes.prefix(savedBytes.count / 2))
        let random = source.scratch + "/random.tar"
        FileManager.default.createFile(atPath: random, contents: Data((0..<300_000).map { _ in UInt8.random(in: 0...255) }))

        let target = try BerthSandbox()
        let existing = try target.importBusybox()
        let blobsBefore = target.blobs
        for archive in [flipped, truncated, random] {
            let result = try target.run("load", "-i", archive)
            #expect(!result.succeeded, "\(archive) loaded: \(result)")
            let message = result.err.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!message.isEmpty && !message.contains("\n"), "one clear line for \(archive): \(result.err)")
            #expect(try target.imageIDs() == [existing])
            try target.ok("image", "prune", "-f")
            #expect(target.blobs == blobsBefore, "\(archive) left blobs \(target.blobs.subtracting(blobsBefore))")
            #expect(target.entries("ingest").isEmpty)
        }
        let flippedLoad = try target.run("load", "-i", flipped)
        #expect(flippedLoad.err.contains("digest") || flippedLoad.err.contains(layer), "\(flippedLoad)")
        // The intact archive still loads.
        #expect(try target.ok("load", "-i", saved) == "Loaded image: corrupt:1\n")
    }

    @Test func rootMayComeBeforeOrAfterTheCommandOrFromTheEnvironment() throws {
        let sandbox = try BerthSandbox()
        let id = try sandbox.importBusybox()
        let short = String(id.dropFirst(7).prefix(12)) + "\n"
        let before = try Command.run(BerthSandbox.binary, ["--root", sandbox.root, "images", "-q"])
        #expect(before.succeeded && before.out == short, "\(before)")
        let after = try Command.run(BerthSandbox.binary, ["images", "-q", "--root", sandbox.root])
        #expect(after.succeeded && after.out == short, "\(after)")
        let management = try Command.run(BerthSandbox.binary, ["--root=\(sandbox.root)", "image", "ls", "-q"])
        #expect(management.succeeded && management.out == short, "\(management)")
        let environment = try Command.run(BerthSandbox.binary, ["images", "-q"], environment: ["BERTH_ROOT": sandbox.root])
        #expect(environment.succeeded && environment.out == short, "\(environment)")
    }
}
