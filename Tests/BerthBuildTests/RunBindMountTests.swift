import BerthBuild
import Foundation
import Glibc
import Testing

/// RUN --mount=type=bind: the context, an earlier stage or an image, read-only by default, and
/// with `rw` writable where the writes are discarded with the step.
@Suite(.serialized) struct RunBindMountTests {
    @Test func bindFromAStageIsReadOnlyAndStaysOutOfTheLayer() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        try fixture.build("""
            FROM busybox AS tools
            RUN mkdir -p /opt/data && echo from the tools stage > /opt/data/d.txt
            FROM busybox
            RUN --mount=type=bind,from=tools,source=/opt/data,target=/mnt/data \
                cat /mnt/data/d.txt > /copied.txt && \
                { touch /mnt/data/new 2>/dev/null && echo writable || echo read-only; } > /access.txt
            """)
        #expect(try fixture.layerFile("copied.txt") == "from the tools stage\n")
        #expect(try fixture.layerFile("access.txt") == "read-only\n")
        #expect(try fixture.layerEntries().keys.allSatisfy { !$0.hasPrefix("mnt/data/") })
        let mounts = BuildFixture.mountTable
        #expect(!mounts.contains(fixture.root + "/buildcache/tmp/"), "a bind mount's overlay is left mounted")
    }

    @Test func rwBindOfTheContextDiscardsWrites() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        try fixture.write("src/a.txt", "original\n")
        try fixture.build("""
            FROM busybox
            RUN --mount=type=bind,source=src,target=/src,rw \
                echo changed > /src/a.txt && echo new > /src/b.txt && cat /src/a.txt /src/b.txt > /seen.txt
            """)
        #expect(try fixture.layerFile("seen.txt") == "changed\nnew\n")
        #expect(try String(contentsOfFile: fixture.contextDirectory + "/src/a.txt", encoding: .utf8) == "original\n")
        #expect(!FileManager.default.fileExists(atPath: fixture.contextDirectory + "/src/b.txt"))
        #expect(try fixture.layerEntries().keys.allSatisfy { !$0.hasPrefix("src/") })
    }

    @Test func bindFromAnImageAndByStageIndexWithTheStageInTheCacheKey() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        let dockerfile = { (content: String) in
            """
            FROM busybox
            RUN echo \(content) > /value.txt
            FROM busybox
            RUN --mount=type=bind,from=busybox,source=/bin,target=/image-bin \
                --mount=type=bind,from=0,target=/first \
                ls /image-bin/busybox > /listed.txt && cat /first/value.txt > /value.txt
            """
        }
        try fixture.build(dockerfile("one"))
        #expect(try fixture.layerFile("listed.txt") == "/image-bin/busybox\n")
        #expect(try fixture.layerFile("value.txt") == "one\n")
        #expect(try fixture.build(dockerfile("one")).executedSteps == 0)
        // A change in the bound stage reruns the step that binds it.
        let changed = try fixture.build(dockerfile("two"))
        #expect(changed.executedSteps == 2)
        #expect(try fixture.layerFile("value.txt") == "two\n")
    }

    /// BuildKit's behaviour (the legacy builder of the peer daemon has no RUN --mount): the context
    /// a bind sees is the one .dockerignore filtered, the same files COPY sees.
    @Test func contextBindHidesWhatDockerignoreExcludesAsCopyDoes() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        try fixture.write(".dockerignore", "secret.txt\nlogs\ndocs/*\n!docs/keep.md\nbuild/**/*.o\ncache\n!cache/none\n")
        for path in ["app.txt", "secret.txt", "logs/a.log", "docs/keep.md", "docs/drop.md", "build/x/y.o", "build/x/y.c",
                     "cache/entry"] {
            try fixture.write(path, path + "\n")
        }
        chmod(fixture.contextDirectory + "/build/x", 0o750)
        try fixture.build("""
            FROM busybox
            COPY . /copied
            RUN --mount=type=bind,target=/ctx \
                cd /ctx && find . | sort > /bound.txt && stat -c %a build/x > /mode.txt && cd /copied && find . | sort > /copied.txt
            RUN --mount=type=bind,source=docs,target=/docs,rw \
                echo written > /docs/drop.md && ls /docs > /docs.txt && cat /docs/drop.md >> /docs.txt
            """)
        let expected = [".", "./.dockerignore", "./app.txt", "./build", "./build/x", "./build/x/y.c", "./docs", "./docs/keep.md"]
        #expect(try fixture.layerFile("bound.txt", fromTop: 1) == expected.joined(separator: "\n") + "\n")
        #expect(try fixture.layerFile("copied.txt", fromTop: 1) == fixture.layerFile("bound.txt", fromTop: 1))
        #expect(try fixture.layerFile("mode.txt", fromTop: 1) == "750\n", "a directory holding a hidden entry keeps its mode")
        // rw: the write goes to a throwaway layer, not into the context.
        #expect(try fixture.layerFile("docs.txt") == "drop.md\nkeep.md\nwritten\n")
        #expect(try String(contentsOfFile: fixture.contextDirectory + "/docs/drop.md", encoding: .utf8) == "docs/drop.md\n")
        try expectNoStepLeftovers(fixture)
    }

    @Test func contextBindCacheKeyIgnoresWhatDockerignoreExcludes() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        try fixture.write(".dockerignore", "*.log\n")
        try fixture.write("app.txt", "one\n")
        try fixture.write("debug.log", "first\n")
        let dockerfile = "FROM busybox\nRUN --mount=type=bind,target=/ctx ls /ctx > /listed.txt && cat /ctx/app.txt >> /listed.txt\n"
        #expect(try fixture.build(dockerfile).executedSteps == 1)
        #expect(try fixture.layerFile("listed.txt") == "app.txt\none\n")
        try fixture.write("debug.log", "second\n")
        try fixture.write("other.log", "new\n")
        #expect(try fixture.build(dockerfile).executedSteps == 0, "an ignored file's change reran the step")
        try fixture.write("app.txt", "two\n")
        #expect(try fixture.build(dockerfile).executedSteps == 1)
        #expect(try fixture.layerFile("listed.txt") == "app.txt\ntwo\n")
        // An ignored source is not in the context at all.
        #expect(throws: BuildError.sourceNotFound("debug.log", fileName: "Dockerfile", line: 2)) {
            try fixture.build("FROM busybox\nRUN --mount=type=bind,source=debug.log,target=/x true\n")
        }
        // A failing step removes its filtered view too.
        #expect(throws: BuildError.self) {
            try fixture.build("FROM busybox\nRUN --mount=type=bind,target=/ctx test -e /ctx/debug.log\n")
        }
        try expectNoStepLeftovers(fixture)
    }

    /// No mount and no staging directory (whiteouts, overlays) of a step remains.
    private func expectNoStepLeftovers(_ fixture: BuildFixture) throws {
        let mounts = BuildFixture.mountTable
        #expect(!mounts.contains(fixture.root + "/buildcache/tmp/"), "a bind mount's overlay is left mounted")
        let staging = (try? FileManager.default.contentsOfDirectory(atPath: fixture.root + "/buildcache/tmp")) ?? []
        #expect(staging.isEmpty, "staging directories left: \(staging)")
    }

    @Test func missingBindSourceFailsWithFileAndLine() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        #expect(throws: BuildError.sourceNotFound("nothing-here", fileName: "Dockerfile", line: 2)) {
            try fixture.build("FROM busybox\nRUN --mount=type=bind,source=nothing-here,target=/x true\n")
        }
    }
}
