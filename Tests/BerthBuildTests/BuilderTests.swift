import BerthBuild
import BerthOCI
import Foundation
import Glibc
import Testing

/// Builds through the library on a temporary store with busybox imported. Tests with RUN steps
/// need root and runc and say SKIPPED when they cannot run.
@Suite(.serialized) struct BuilderTests {
    static let seedDockerfile = """
        FROM busybox
        LABEL maintainer="Katie Gamanji"
        COPY . /app
        WORKDIR /app
        RUN echo built > out.txt && rm /bin/vi
        CMD ["cat", "out.txt"]
        """

    private func seedContext(_ fixture: BuildFixture) throws {
        try fixture.write("app.py", "print('hello')\n")
        try fixture.write("requirements.txt", "flask\n")
        try fixture.write("static/index.html", "<h1>hi</h1>\n")
    }

    @Test func seedDockerfileBuildsWithConfigAndRunLayer() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        try seedContext(fixture)
        let result = try fixture.build(Self.seedDockerfile)
        let config = try fixture.config()
        #expect(result.imageID == (try fixture.store.image(named: "app").id))
        #expect(config.config?.Labels?["maintainer"] == "Katie Gamanji")
        #expect(config.config?.WorkingDir == "/app")
        #expect(config.config?.Cmd == ["cat", "out.txt"])
        #expect(config.config?.Env?.contains(where: { $0.hasPrefix("PATH=") }) == true)
        // busybox's layer, COPY, RUN: WORKDIR found /app and made no layer.
        #expect(config.rootfs.diffIDs.count == 3)
        #expect(try fixture.layerFile("app/out.txt") == "built\n")
        #expect(try fixture.layerFile("app/static/index.html", fromTop: 1) == "<h1>hi</h1>\n")
        let history = config.history ?? []
        #expect(history.map(\.createdBy).suffix(5) == [
            "LABEL maintainer=Katie Gamanji", "COPY . /app # buildkit", "WORKDIR /app",
            "RUN /bin/sh -c echo built > out.txt && rm /bin/vi # buildkit", #"CMD ["cat" "out.txt"]"#,
        ])
        #expect(history.suffix(5).map { $0.emptyLayer ?? false } == [true, false, true, false, true])
        #expect(fixture.lines.contains("#7 exporting to image"))
        #expect(fixture.lines.contains("#7 naming to docker.io/library/app:latest done"))
        #expect(fixture.lines.contains("#7 writing image \(result.imageID) done"))
    }

    @Test func deletedFileInRunIsAWhiteout() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        try seedContext(fixture)
        try fixture.build(Self.seedDockerfile)
        let entries = try fixture.layerEntries()
        #expect(entries["bin/.wh.vi"] != nil)
        #expect(entries["bin/vi"] == nil)
        // Mount points runc made for /proc, /etc/hosts, … are not part of the layer.
        #expect(entries.keys.allSatisfy { !$0.hasPrefix("proc") && !$0.hasPrefix("etc/hosts") })
    }

    @Test func rebuildWithNothingChangedIsFullyCached() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        try seedContext(fixture)
        let first = try fixture.build(Self.seedDockerfile)
        #expect(first.executedSteps == 3)
        let second = try fixture.build(Self.seedDockerfile)
        #expect(second.executedSteps == 0)
        #expect(second.cachedSteps == 3)
        #expect(second.imageID == first.imageID)
        #expect(fixture.lines.filter { $0.hasSuffix(" CACHED") }.count == 3)
    }

    @Test func changingAContextFileRerunsFromTheCopy() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        try seedContext(fixture)
        let dockerfile = """
            FROM busybox
            RUN echo first > /first
            COPY . /app
            RUN cat /app/app.py > /copied
            """
        try fixture.build(dockerfile)
        try fixture.write("app.py", "print('changed')\n")
        let result = try fixture.build(dockerfile)
        #expect(result.cachedSteps == 1)
        #expect(result.executedSteps == 2)
        #expect(fixture.lines.contains("#4 CACHED"))
        #expect(try fixture.layerFile("copied") == "print('changed')\n")
    }

    @Test func failingRunExitsWithCodeAndLineAndTagsNothing() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        let dockerfile = """
            FROM busybox
            RUN echo before
            RUN echo oops && exit 3
            CMD ["true"]
            """
        #expect(throws: BuildError.processFailed(command: "/bin/sh -c echo oops && exit 3", exitCode: 3,
                                                  fileName: "Dockerfile", line: 3)) {
            try fixture.build(dockerfile, tag: "broken")
        }
        #expect((try? fixture.store.image(named: "broken")) == nil)
        #expect(fixture.lines.contains { $0.hasSuffix("oops") })
        #expect(fixture.lines.contains { $0.contains("exit code: 3") })
        #expect(fixture.lines.contains("Dockerfile:3"))
    }

    @Test func dockerignoreExcludesFromCopy() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try seedContext(fixture)
        try fixture.write("secret.env", "TOKEN=1\n")
        try fixture.write("logs/a.log", "x\n")
        try fixture.write("logs/keep.log", "y\n")
        try fixture.write(".dockerignore", "secret.env\nlogs/*.log\n!logs/keep.log\n")
        try fixture.build("FROM busybox\nCOPY . /app\n")
        let entries = try fixture.layerEntries()
        #expect(entries["app/app.py"] != nil)
        #expect(entries["app/secret.env"] == nil)
        #expect(entries["app/logs/a.log"] == nil)
        #expect(entries["app/logs/keep.log"] != nil)
    }

    @Test func copyWildcardsChownChmodAndFileDestinations() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try fixture.write("a.txt", "a\n")
        try fixture.write("b.txt", "b\n")
        try fixture.write("c.md", "c\n")
        try fixture.build("""
            FROM busybox
            COPY --chown=1000:1001 --chmod=0640 *.txt /dest/
            COPY c.md /renamed.md
            """)
        let wildcard = try fixture.layerEntries(fromTop: 1)
        #expect(wildcard["dest/a.txt"]?.uid == 1000)
        #expect(wildcard["dest/b.txt"]?.gid == 1001)
        #expect(wildcard["dest/b.txt"].map { $0.mode & 0o7777 } == 0o640)
        #expect(wildcard["dest/c.md"] == nil)
        #expect(try fixture.layerFile("renamed.md") == "c\n")
    }

    @Test func copyHeredocsBecomeFiles() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try fixture.build("""
            FROM busybox
            COPY <<EOF /etc/motd
            welcome
            EOF
            COPY --chmod=0755 <<script <<notes /opt/
            echo run
            script
            some notes
            notes
            """)
        #expect(try fixture.layerFile("etc/motd", fromTop: 1) == "welcome\n")
        let entries = try fixture.layerEntries()
        #expect(entries["opt/script"].map { $0.mode & 0o777 } == 0o755)
        #expect(try fixture.layerFile("opt/script") == "echo run\n")
        #expect(try fixture.layerFile("opt/notes") == "some notes\n")
    }

    @Test func fifosInTheContextAreSkipped() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try fixture.write("a.txt", "a\n")
        #expect(mkfifo(fixture.contextDirectory + "/pipe", 0o644) == 0)
        try fixture.build("FROM busybox\nCOPY . /app/\n")
        let entries = try fixture.layerEntries()
        #expect(entries["app/a.txt"] != nil)
        #expect(entries["app/pipe"] == nil)
    }

    @Test func missingSourceFailsWithFileAndLine() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        #expect(throws: BuildError.sourceNotFound("nope.txt", fileName: "Dockerfile", line: 2)) {
            try fixture.build("FROM busybox\nCOPY nope.txt /\n")
        }
    }

    @Test func addExtractsLocalTarArchives() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try fixture.write("payload/inner.txt", "inside\n")
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar", "-C", fixture.contextDirectory + "/payload", "-czf", fixture.contextDirectory + "/p.tar.gz", "."]
        try tar.run()
        tar.waitUntilExit()
        try fixture.build("FROM busybox\nADD p.tar.gz /opt/\nCOPY p.tar.gz /raw/\n")
        #expect(try fixture.layerFile("opt/inner.txt", fromTop: 1) == "inside\n")
        #expect(try fixture.layerEntries()["raw/p.tar.gz"] != nil)
    }

    @Test func configOnlyInstructionsMakeNoLayers() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try fixture.build("""
            FROM busybox
            ARG VERSION=1.2
            ENV APP_VERSION=$VERSION
            EXPOSE 5000 53/udp
            USER nobody
            VOLUME /data
            STOPSIGNAL SIGINT
            ENTRYPOINT ["/bin/sh"]
            HEALTHCHECK --interval=5s CMD true
            ONBUILD RUN echo child
            MAINTAINER someone
            """)
        let config = try fixture.config()
        #expect(config.rootfs.diffIDs.count == 1)
        #expect(config.config?.Env?.contains("APP_VERSION=1.2") == true)
        #expect(config.config?.ExposedPorts?.keys.sorted() == ["5000/tcp", "53/udp"])
        #expect(config.config?.User == "nobody")
        #expect(config.config?.Volumes?.keys.sorted() == ["/data"])
        #expect(config.config?.StopSignal == "SIGINT")
        #expect(config.config?.Entrypoint == ["/bin/sh"])
        #expect(config.config?.Healthcheck?.Interval == 5_000_000_000)
        #expect(config.config?.OnBuild == ["RUN echo child"])
        #expect(config.author == "someone")
        #expect((config.history ?? []).dropFirst().allSatisfy { $0.emptyLayer == true })
        #expect(config.history?.contains { $0.createdBy == "EXPOSE map[5000/tcp:{} 53/udp:{}]" } == true)
    }

    @Test func multiStageCopiesFromAnEarlierStageAndHonoursTarget() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try fixture.write("main.txt", "artifact\n")
        let dockerfile = """
            FROM scratch AS build
            COPY main.txt /out/artifact.txt
            FROM busybox AS final
            COPY --from=build /out/artifact.txt /srv/
            FROM busybox AS unused
            COPY nope.txt /
            """
        try fixture.build(dockerfile, target: "final")
        #expect(try fixture.layerFile("srv/artifact.txt") == "artifact\n")
    }

    @Test func sourceDateEpochGivesTheSameDigestOnTwoCleanStores() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let dockerfile = "FROM busybox\nCOPY . /app\nENV A=1\nCMD [\"sh\"]\n"
        var ids: [Digest] = []
        for _ in 0..<2 {
            let fixture = try BuildFixture()
            try seedContext(fixture)
            ids.append(try fixture.build(dockerfile, epoch: 1_700_000_000).imageID)
            #expect(try fixture.config().created == "2023-11-14T22:13:20Z")
        }
        #expect(ids[0] == ids[1])
    }
}

/// ONBUILD triggers, heredoc scripts and COPY --from an image in the store.
@Suite(.serialized) struct BuilderChildBuildTests {
    @Test func onbuildTriggersFireInAChildBuildOnly() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try fixture.write("marker.txt", "from the parent's trigger\n")
        try fixture.build("FROM busybox\nONBUILD COPY marker.txt /marker.txt\n", tag: "parent")
        #expect(try fixture.config("parent").config?.OnBuild == ["COPY marker.txt /marker.txt"])
        try fixture.build("FROM parent\nENV CHILD=1\n", tag: "child")
        #expect(try fixture.layerFile("marker.txt", "child") == "from the parent's trigger\n")
        #expect(try fixture.config("child").config?.OnBuild == nil)
    }

    @Test func copyFromAnImageInTheStore() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try fixture.build("FROM scratch\nCOPY --from=busybox /bin/busybox /busybox\n")
        let entries = try fixture.layerEntries()
        #expect((entries["busybox"]?.size ?? 0) > 100_000)
        #expect(entries["busybox"].map { $0.mode & 0o111 != 0 } == true)
    }

    @Test func runHeredocIsTheScript() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        try fixture.build("""
            FROM busybox
            RUN <<EOF
            echo one > /one
            echo two > /two
            EOF
            """)
        #expect(try fixture.layerFile("one") == "one\n")
        #expect(try fixture.layerFile("two") == "two\n")
    }
}

@Suite(.serialized) struct BuilderRecoveryTests {
    @Test func aBuildRemovesWhatAKilledBuildLeftMounted() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        // A staging directory of a build process that no longer exists, its rootfs still mounted.
        let stale = fixture.root + "/buildcache/tmp/2147483-0c7d2c5e"
        try FileManager.default.createDirectory(atPath: stale + "/rootfs", withIntermediateDirectories: true)
        #expect(mount("tmpfs", stale + "/rootfs", "tmpfs", 0, nil) == 0)
        try fixture.build("FROM busybox\nRUN true\n")
        #expect(!FileManager.default.fileExists(atPath: stale))
        let mounts = BuildFixture.mountTable
        #expect(!mounts.contains(stale))
    }
}

@Suite(.serialized) struct BuilderRunMountTests {
    @Test func cacheMountPersistsAcrossBuildsAndStaysOutOfTheLayer() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        let dockerfile = "FROM busybox\nRUN --mount=type=cache,target=/var/cache/app echo run >> /var/cache/app/log && wc -l < /var/cache/app/log > /count\n"
        try fixture.build(dockerfile)
        try fixture.build(dockerfile, noCache: true)
        #expect(try fixture.layerFile("count")?.trimmingCharacters(in: .whitespacesAndNewlines) == "2")
        #expect(try fixture.layerEntries().keys.allSatisfy { !$0.hasPrefix("var/cache/app") })
    }

    @Test func secretAndContextBindAreReadableButNotInTheLayer() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        try fixture.write("src/input.txt", "from the context\n")
        let secretFile = fixture.root + "/token"
        try Data("s3cret\n".utf8).write(to: URL(fileURLWithPath: secretFile))
        try fixture.build("""
            FROM busybox
            RUN --mount=type=secret,id=token --mount=type=bind,source=src,target=/mnt/src cat /run/secrets/token /mnt/src/input.txt > /seen
            """, secrets: ["token": secretFile])
        #expect(try fixture.layerFile("seen") == "s3cret\nfrom the context\n")
        let paths = try fixture.layerEntries().keys
        #expect(paths.allSatisfy { !$0.hasPrefix("run/secrets") && !$0.hasPrefix("mnt") })
    }
}

@Suite(.serialized) struct BuilderDestinationTests {
    @Test func fileCopiedOntoAnExistingDirectoryGoesIntoIt() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try fixture.write("tool.sh", "echo tool\n")
        try fixture.write("renamed", "file\n")
        try fixture.build("FROM busybox\nCOPY tool.sh /bin\nWORKDIR /srv\nCOPY renamed notes.txt\n")
        #expect(try fixture.layerFile("bin/tool.sh", fromTop: 2) == "echo tool\n")
        #expect(try fixture.layerFile("srv/notes.txt") == "file\n")
    }
}

@Suite(.serialized) struct BuilderReproducibilityTests {
    @Test func sourceDateEpochReproducesImagesWithRunSteps() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let dockerfile = "FROM busybox\nCOPY . /app\nRUN mkdir -p /data && echo x > /data/x && rm /bin/vi\nCMD [\"sh\"]\n"
        var ids: [Digest] = []
        for _ in 0..<2 {
            let fixture = try BuildFixture()
            try fixture.write("a.txt", "a\n")
            ids.append(try fixture.build(dockerfile, epoch: 1_700_000_000).imageID)
            Thread.sleep(forTimeInterval: 1.1)
        }
        #expect(ids[0] == ids[1])
    }
}

@Suite(.serialized) struct BuilderEntrypointTests {
    @Test func entrypointResetsAnInheritedCmdButNotOneFromTheStage() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try fixture.build("FROM busybox\nENTRYPOINT [\"echo\"]\n", tag: "reset")
        #expect(try fixture.config("reset").config?.Cmd == nil)
        try fixture.build("FROM busybox\nCMD [\"hi\"]\nENTRYPOINT [\"echo\"]\n", tag: "kept")
        #expect(try fixture.config("kept").config?.Cmd == ["hi"])
        #expect(try fixture.config("kept").config?.Entrypoint == ["echo"])
    }

    @Test func fromAnotherPlatformIsRefused() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        #expect(throws: BuildError.self) { try fixture.build("FROM --platform=linux/s390x busybox\n") }
    }
}

@Suite(.serialized) struct BuildCacheTests {
    @Test func pruneEmptiesTheCacheSoTheNextBuildRunsAgain() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try fixture.write("a.txt", "a\n")
        let dockerfile = "FROM busybox\nCOPY a.txt /\n"
        try fixture.build(dockerfile)
        #expect(try fixture.build(dockerfile).cachedSteps == 1)
        #expect(try BuildCache(root: fixture.root).prune(store: fixture.store).count == 1)
        let rebuilt = try fixture.build(dockerfile)
        #expect(rebuilt.executedSteps == 1)
        #expect(rebuilt.cachedSteps == 0)
    }
}
