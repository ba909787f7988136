import BerthArchive
import Foundation
import Glibc
import Testing

/// A corpus of Dockerfiles built by `berth build` and by the peer Docker daemon's legacy builder
/// (DOCKER_BUILDKIT=0) from the same base image and context, compared on the image config, the
/// history and the resulting file system (names, kinds, modes, owners, sizes, link targets, with
/// whiteouts applied). Where the legacy builder and BuildKit differ, Berth follows BuildKit's
/// documented behaviour; each such case says so and gives Docker an equivalent Dockerfile, or names
/// the paths where Berth's file is checked against BuildKit's behaviour alone.
@Suite(.serialized, .enabled(if: Peers.docker, "needs root and dockerd"))
struct BuildDifferentialTests {
    /// The busybox rootfs imported with PATH set: the legacy builder leaves Env empty when the base
    /// image has no PATH, where BuildKit writes its default PATH into the config.
    static let base = "berth-diff-base:latest"
    static let baseChanges = [#"CMD ["sh"]"#, "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]

    /// The config keys a Dockerfile sets.
    static let configKeys = ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts", "Volumes",
                             "Healthcheck", "StopSignal", "Shell", "OnBuild"]

    struct Case: Sendable {
        var name: String
        var dockerfile: String
        /// Context files by relative path (a value starting with `->` makes a symbolic link).
        var files: [String: String] = [:]
        var buildArgs: [String] = []
        /// Docker's Dockerfile when the legacy builder lacks a BuildKit feature the case uses; the
        /// history then differs by design and only config and file system are compared.
        var legacyDockerfile: String?
        /// Shell commands run in the context before both builds (making archives).
        var prepare: String?
        /// Paths the legacy builder puts in the image where BuildKit, and so Berth, does not.
        var onlyInLegacy: [String] = []
        /// Paths the legacy builder makes otherwise than BuildKit does, with what Berth must make
        /// there as BuildKit does (a `Node` description); the legacy builder's is not compared.
        var buildKitOnly: [String: String] = [:]
    }

    static let corpus: [Case] = [
        Case(name: "env-arg-workdir-user", dockerfile: """
            FROM \(base)
            ARG GREETING=hello
            ARG UNUSED_DEFAULT=x
            ENV APP_HOME=/srv/app GREETING=$GREETING
            WORKDIR $APP_HOME
            WORKDIR sub
            RUN echo "$GREETING from $(pwd)" > greeting.txt && mkdir -p /data && chown 1000:1000 /data
            USER 1000:1000
            RUN echo "written as $(id -u)" > /data/owned.txt
            """, buildArgs: ["GREETING=hi"]),
        Case(name: "copy-chown-directories-symlinks", dockerfile: """
            FROM \(base)
            RUN echo 'app:x:1001:1002::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1002:' >> /etc/group
            COPY --chown=app:app src/ /opt/src/
            COPY --chown=1003 a.txt /opt/a.txt
            COPY src /opt/plain
            COPY a.txt b.txt /opt/many/
            COPY --chown=app a.txt /srv/deep/er/a.txt
            """, files: ["src/one.txt": "one\n", "src/nested/two.txt": "two two\n", "src/link": "->nested/two.txt",
                         "a.txt": "aaa\n", "b.txt": "bbbbbb\n"],
            // BuildKit makes a destination's missing parents with --chown's owner; the legacy builder
            // does for a file's (/srv/deep/er above, which both make app's) but makes a directory's root's.
            buildKitOnly: ["opt": "directory 755 1001:1002 0B"]),
        // Copies into directories the image has leave them as they are: /tmp stays 1777, /root 0700.
        Case(name: "copy-into-existing-directories", dockerfile: """
            FROM \(base)
            COPY a.txt /tmp/x/a.txt
            COPY tree/ /tmp/
            ADD a.txt /root/
            COPY --chown=1000:1000 a.txt /etc/copied.txt
            COPY tree /var/www
            ADD dot.tar /tmp/
            """, files: ["a.txt": "aaa\n", "tree/b.txt": "b\n", "tree/sub/c.txt": "c\n", "dot/d.txt": "d\n"],
            // An archive whose root entry is `./`, a directory 0700.
            prepare: "chmod 0700 dot && tar --numeric-owner --owner=0 --group=0 -cf dot.tar -C dot ."),
        // A destination (or WORKDIR) through the image's symbolic links goes where they point, leaving
        // them links.
        Case(name: "copy-through-symlinked-destinations", dockerfile: """
            FROM \(base)
            RUN mkdir -p /usr/lib/app && ln -s usr/lib /lib && ln -s /usr/lib/app /app-link && chmod 0750 /usr/lib/app
            COPY a.txt /lib/app/
            COPY a.txt /app-link
            COPY tree/ /lib/tree/
            WORKDIR /lib/work
            """, files: ["a.txt": "aaa\n", "tree/b.txt": "b\n"]),
        // A symbolic link named as a source is followed (its name kept for a file); links inside a
        // copied directory stay links; one wildcard match into a name is a file.
        Case(name: "copy-source-symlinks-and-single-wildcard", dockerfile: """
            FROM \(base)
            COPY file-link /copied.txt
            COPY dir-link /tree/
            COPY dir-link/nested/deep.txt /through-link.txt
            COPY file-link dir-link /many/
            COPY rea*/data.txt /single.txt
            """, files: ["real/data.txt": "data\n", "real/nested/deep.txt": "deep\n", "real/inner-link": "->data.txt",
                         "file-link": "->real/data.txt", "dir-link": "->real"]),
        // Heredocs are BuildKit's: the legacy builder gets the same files from the context and from
        // plain RUN lines, and the file systems are compared.
        Case(name: "heredocs", dockerfile: """
            FROM \(base)
            ARG WHO=world
            ENV WHERE=/srv
            COPY <<greeting <<'literal' /etc/
            hello $WHO in "${WHERE}"
            greeting
            hello $WHO in ${WHERE}
            literal
            COPY <<-EOF /tabs.txt
            \t\tindented
            \tEOF
            RUN <<EOF
            #!/usr/bin/awk -f
            BEGIN { print "from awk" > "/awk.txt" }
            EOF
            RUN <<A sh && cat <<B > /b.txt
            echo a > /a.txt
            A
            b
            B
            """, files: ["greeting": "hello world in \"/srv\"\n", "literal": "hello $WHO in ${WHERE}\n", "tabs.txt": "indented\n"],
            legacyDockerfile: """
            FROM \(base)
            ARG WHO=world
            ENV WHERE=/srv
            COPY greeting literal /etc/
            COPY tabs.txt /tabs.txt
            RUN echo 'from awk' > /awk.txt
            RUN echo a > /a.txt && echo b > /b.txt
            """),
        // --chmod needs BuildKit; the legacy builder gets COPY then RUN chmod, the same file system.
        Case(name: "copy-chmod", dockerfile: """
            FROM \(base)
            COPY --chmod=0640 a.txt /etc/app.conf
            COPY --chmod=755 run.sh /usr/local/bin/run.sh
            """, files: ["a.txt": "conf\n", "run.sh": "#!/bin/sh\necho run\n"],
            legacyDockerfile: """
            FROM \(base)
            COPY a.txt /etc/app.conf
            COPY run.sh /usr/local/bin/run.sh
            RUN chmod 0640 /etc/app.conf && chmod 755 /usr/local/bin/run.sh
            """),
        Case(name: "whiteouts-deleted-file-replaced-directory", dockerfile: """
            FROM \(base)
            RUN mkdir -p /opt/tree/sub && echo 1 > /opt/tree/sub/f && echo 2 > /opt/keep && echo 3 > /opt/gone
            RUN rm -rf /opt/tree /opt/gone /bin/vi && mkdir /opt/tree && echo new > /opt/tree/g && ln -s /opt/keep /opt/tree/k
            """),
        Case(name: "multi-stage-copy-from", dockerfile: """
            FROM \(base) AS build
            RUN mkdir -p /out/lib && echo artifact > /out/lib/a.so && ln -s a.so /out/lib/link.so
            FROM \(base) AS unused
            RUN echo the legacy builder builds every stage, BuildKit only those the target needs > /unused
            FROM \(base)
            COPY --from=build /out /usr/local/
            COPY --from=0 /out/lib/a.so /single.so
            CMD ["/bin/cat", "/single.so"]
            """),
        Case(name: "entrypoint-resets-inherited-cmd", dockerfile: """
            FROM \(base)
            ENTRYPOINT ["/bin/echo", "hello"]
            """),
        Case(name: "cmd-then-entrypoint-shell-forms", dockerfile: """
            FROM \(base)
            CMD echo from cmd
            ENTRYPOINT echo from entrypoint
            """),
        Case(name: "metadata", dockerfile: """
            FROM \(base)
            LABEL org.example.name="diff test" version=1.0
            EXPOSE 80 443/tcp 53/udp
            VOLUME /data /cache
            HEALTHCHECK --interval=30s --timeout=5s --start-period=2s --retries=4 CMD wget -q -O- http://localhost/ || exit 1
            STOPSIGNAL SIGQUIT
            SHELL ["/bin/sh", "-ec"]
            RUN echo shell > /shell.txt
            ONBUILD RUN echo child
            """,
            // The legacy builder's RUN container mounts the volumes, leaving their mount points in the
            // RUN's layer; BuildKit's VOLUME only records them in the config.
            onlyInLegacy: ["data", "cache"]),
        Case(name: "dockerignore-and-local-archive", dockerfile: """
            FROM \(base)
            COPY . /ctx/
            ADD archive.tar /unpacked/
            """, files: [".dockerignore": "*.log\n!keep.log\nsecret/\n.dockerignore\n", "app.log": "no\n", "keep.log": "yes\n",
                         "secret/key": "k\n", "code/main.sh": "echo main\n", "payload/p.txt": "packed\n"],
            prepare: "tar --numeric-owner --owner=0 --group=0 -cf archive.tar payload"),
    ]

    @Test(arguments: corpus.map(\.name))
    func berthMatchesTheLegacyBuilder(_ name: String) throws {
        let testCase = try #require(Self.corpus.first { $0.name == name })
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox(as: Self.base, changes: Self.baseChanges)
        if (try? PeerDocker.checked("image", "inspect", "-f", "{{.Id}}", Self.base)) == nil {
            var arguments = ["import"]
            for change in Self.baseChanges { arguments += ["--change", change] }
            let result = try Command.run("docker", arguments + [try Fixtures.busyboxRootfs(), Self.base],
                                         environment: PeerDocker.environment)
            try #require(result.succeeded, "\(result)")
        }
        let context = sandbox.scratch + "/context"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        for (path, content) in testCase.files {
            let full = context + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            if content.hasPrefix("->") {
                try FileManager.default.createSymbolicLink(atPath: full, withDestinationPath: String(content.dropFirst(2)))
            } else {
                try Data(content.utf8).write(to: URL(fileURLWithPath: full))
            }
        }
        if let prepare = testCase.prepare {
            let result = try Command.shell("cd \(context) && \(prepare)")
            try #require(result.succeeded, "\(result)")
        }
        let tag = "berth-diff-\(name):latest"
        let buildArgs = testCase.buildArgs.flatMap { ["--build-arg", $0] }

        try Data(testCase.dockerfile.utf8).write(to: URL(fileURLWithPath: sandbox.scratch + "/Dockerfile.berth"))
        let berthBuild = try sandbox.run(["build", "-q", "-t", tag, "-f", sandbox.scratch + "/Dockerfile.berth"] + buildArgs
                                         + [context])
        try #require(berthBuild.succeeded, "\(berthBuild)")
        try Data((testCase.legacyDockerfile ?? testCase.dockerfile).utf8)
            .write(to: URL(fileURLWithPath: sandbox.scratch + "/Dockerfile.docker"))
        let dockerBuild = try Command.run("docker", ["build", "-q", "-t", tag, "-f", sandbox.scratch + "/Dockerfile.docker"]
                                          + buildArgs + [context], environment: PeerDocker.environment)
        try #require(dockerBuild.succeeded, "\(dockerBuild)")
        defer { _ = try? PeerDocker.docker("rmi", "-f", tag) }

        // Config.
        let berth = try sandbox.inspect(tag)
        let docker = try DockerInteropTests.dockerInspect(tag)
        let berthConfig = berth["Config"] as? [String: Any] ?? [:]
        let dockerConfig = docker["Config"] as? [String: Any] ?? [:]
        for key in Self.configKeys {
            #expect(canonicalJSON(berthConfig[key]) == canonicalJSON(dockerConfig[key]), "\(name): Config.\(key)")
        }

        // History: the same steps, the same ones empty, the same RUN command lines.
        if testCase.legacyDockerfile == nil {
            let berthHistory = try Self.history(sandbox.ok("history", "--no-trunc", "--format",
                                                           "{{.CreatedBy}}\t{{.Size}}", tag))
            let dockerHistory = try Self.history(PeerDocker.checked("history", "--no-trunc", "--format",
                                                                    "{{.CreatedBy}}\t{{.Size}}", tag))
            #expect(berthHistory == dockerHistory, "\(name): history")
        }

        // File system: both images saved, their layers applied in order.
        let berthArchive = sandbox.scratch + "/berth.tar"
        let dockerArchive = sandbox.scratch + "/docker.tar"
        _ = try sandbox.ok("save", "-o", berthArchive, tag)
        try PeerDocker.checked("save", "-o", dockerArchive, tag)
        let berthTree = try Self.flatten(archive: berthArchive, scratch: sandbox.scratch + "/berth-archive")
        var dockerTree = try Self.flatten(archive: dockerArchive, scratch: sandbox.scratch + "/docker-archive")
        #expect(berthTree.count > 100, "\(name): the flattened tree is the whole image")
        for path in testCase.onlyInLegacy {
            #expect(berthTree[path] == nil && dockerTree[path] != nil, "\(name): \(path) is only in the legacy builder's image")
            dockerTree[path] = nil
        }
        var berthOnly = berthTree
        for (path, expected) in testCase.buildKitOnly {
            #expect(berthTree[path]?.description == expected, "\(name): \(path) as BuildKit makes it")
            berthOnly[path] = nil
            dockerTree[path] = nil
        }
        for path in Set(berthOnly.keys).union(dockerTree.keys).sorted() where berthOnly[path] != dockerTree[path] {
            Issue.record("\(name): \(path): berth \(berthOnly[path]?.description ?? "missing"), docker \(dockerTree[path]?.description ?? "missing")")
        }
    }

    /// Several sources, or a wildcard matching several, into a destination without a trailing
    /// slash: both builders refuse the build with Docker's message (Berth's names the line).
    @Test func severalSourcesIntoANameAreRefusedAsDockerRefusesThem() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox(as: Self.base, changes: Self.baseChanges)
        let context = sandbox.scratch + "/context"
        try FileManager.default.createDirectory(atPath: context + "/dir", withIntermediateDirectories: true)
        for name in ["a.txt", "b.txt", "dir/c.txt"] { try Data("x\n".utf8).write(to: URL(fileURLWithPath: context + "/" + name)) }
        for (keyword, sources, destination) in [("COPY", "a.txt b.txt", "/dest"), ("COPY", "*.txt", "/dest"),
                                                ("ADD", "a.txt dir", ".")] {
            let dockerfile = "FROM \(Self.base)\nENV X=1\n\(keyword) \(sources) \(destination)\n"
            try Data(dockerfile.utf8).write(to: URL(fileURLWithPath: context + "/Dockerfile"))
            let message = "When using \(keyword) with more than one source file, the destination must be a directory and end with a /"
            let berth = try sandbox.run(["build", "-q", context])
            let docker = try Command.run("docker", ["build", "-q", context], environment: PeerDocker.environment)
            #expect(!berth.succeeded && berth.err.contains("Dockerfile:3: \(message)"), "\(dockerfile): \(berth)")
            #expect(!docker.succeeded && docker.err.contains(message), "\(dockerfile): \(docker)")
            #expect(berth.status == docker.status, "\(dockerfile): \(berth) vs \(docker)")
        }
    }

    /// One history line as both builders can be compared: the instruction keyword and, for RUN,
    /// the command line; plus whether the step made a layer. The legacy builder writes
    /// `/bin/sh -c #(nop)  ENV …` and `/bin/sh -c <command>`; BuildKit `ENV …` and
    /// `RUN /bin/sh -c <command> # buildkit`, and its COPY lines name sources where the legacy
    /// builder names content hashes.
    struct Step: Equatable, CustomStringConvertible {
        var keyword: String
        var command: String
        var empty: Bool
        var description: String { "\(keyword) \(command)\(empty ? " (empty)" : "")" }
    }

    static func history(_ text: String) -> [Step] {
        text.split(separator: "\n").map { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            var createdBy = String(fields[0])
            let empty = fields.count > 1 && fields[1] == "0B"
            if createdBy.hasSuffix(" # buildkit") { createdBy.removeLast(" # buildkit".count) }
            if let nop = createdBy.range(of: " #(nop) ") {
                // After SHELL, the legacy builder's prefix is that shell's.
                createdBy = String(createdBy[nop.upperBound...]).trimmingCharacters(in: .whitespaces)
            } else if !createdBy.isEmpty, !createdBy.hasPrefix("RUN "),
                      createdBy.hasPrefix("/") || createdBy.hasPrefix("|") {
                createdBy = "RUN " + createdBy
            }
            let keyword = createdBy.split(separator: " ").first.map(String.init) ?? ""
            let command = keyword == "RUN" ? String(createdBy.dropFirst(4)) : ""
            return Step(keyword: keyword, command: command, empty: empty)
        }
    }

    /// What the comparison sees of a file: kind, permission bits, owner, size, link target.
    struct Node: Equatable, CustomStringConvertible {
        var kind: String
        var mode: UInt32
        var owner: String
        var size: Int64
        var link: String
        var description: String { "\(kind) \(String(mode, radix: 8)) \(owner) \(size)B\(link.isEmpty ? "" : " -> \(link)")" }
    }

    /// A saved image's file system: its manifest's layers applied in order with OCI whiteouts.
    static func flatten(archive: String, scratch: String) throws -> [String: Node] {
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let untar = try Command.run("tar", ["-xf", archive, "-C", scratch])
        try #require(untar.succeeded, "\(untar)")
        let manifestData = try Data(contentsOf: URL(fileURLWithPath: scratch + "/manifest.json"))
        let manifest = try #require((try JSONSerialization.jsonObject(with: manifestData) as? [[String: Any]])?.first)
        let layers = try #require(manifest["Layers"] as? [String])
        var tree: [String: Node] = [:]
        for layer in layers {
            let reader = TarReader(try DecompressingSource(FileSource(path: scratch + "/" + layer)))
            var added: [String: Node] = [:]
            var whiteouts: [String] = []
            var opaque: [String] = []
            while let entry = try reader.next() {
                var path = entry.path
                while path.hasPrefix("./") { path.removeFirst(2) }
                while path.hasSuffix("/") { path.removeLast() }
                if path.isEmpty || path == "." { continue }
                let name = (path as NSString).lastPathComponent
                let parent = (path as NSString).deletingLastPathComponent
                if name == ".wh..wh..opq" {
                    opaque.append(parent)
                } else if name.hasPrefix(".wh.") {
                    whiteouts.append(parent.isEmpty ? String(name.dropFirst(4)) : parent + "/" + name.dropFirst(4))
                } else {
                    added[path] = Node(kind: "\(entry.kind)", mode: entry.mode & 0o7777, owner: "\(entry.uid):\(entry.gid)",
                                       size: entry.kind == .file ? entry.size : 0,
                                       link: entry.kind == .symlink || entry.kind == .hardlink ? entry.linkName : "")
                }
            }
            for directory in opaque {
                tree = tree.filter { !$0.key.hasPrefix(directory + "/") }
            }
            for path in whiteouts {
                tree = tree.filter { $0.key != path && !$0.key.hasPrefix(path + "/") }
            }
            tree.merge(added) { _, new in new }
        }
        return tree
    }
}
