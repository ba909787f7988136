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
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
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

    @Test func missingBindSourceFailsWithFileAndLine() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        #expect(throws: BuildError.sourceNotFound("nothing-here", fileName: "Dockerfile", line: 2)) {
            try fixture.build("FROM busybox\nRUN --mount=type=bind,source=nothing-here,target=/x true\n")
        }
    }
}
