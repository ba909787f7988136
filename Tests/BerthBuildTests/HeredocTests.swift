import BerthArchive
import BerthBuild
import Foundation
import Testing

/// Heredocs as BuildKit documents them (docs.docker.com/reference/dockerfile/#here-documents).
/// The classic builder has none, so these are checked against Berth alone.
@Suite(.serialized) struct HeredocTests {
    @Test func aRunHeredocStartingWithAShebangRunsWithThatInterpreter() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        try fixture.build("""
            FROM busybox
            RUN <<EOF
            #!/usr/bin/awk -f
            BEGIN { print "from awk" > "/awk.txt" }
            EOF
            RUN <<script
            #!/bin/sh
            echo "$0" > /name.txt
            script
            """)
        #expect(try fixture.layerFile("awk.txt", fromTop: 1) == "from awk\n")
        // BuildKit's progress names the step by the script's first line.
        #expect(fixture.lines.contains { $0.hasSuffix("[2/3] RUN <<EOF (#!/usr/bin/awk -f...)") }, "\(fixture.lines)")
        // The script is a file the shell runs, mounted outside the layer.
        #expect(try fixture.layerFile("name.txt") == "/dev/pipes/script\n")
        #expect(try fixture.layerEntries().keys.allSatisfy { !$0.hasPrefix("dev") })
        let history = try fixture.config().history?.last?.createdBy
        #expect(history == "RUN /bin/sh -c /dev/pipes/script # buildkit")
    }

    @Test func severalRunHeredocsFeedTheirOwnCommandsAndTabsAreStripped() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        try fixture.build("""
            FROM busybox
            RUN <<A sh && <<B sh
            echo a > /a.txt
            A
            echo b > /b.txt
            B
            RUN cat <<ONE >/one.txt && cat <<-TWO >/two.txt
            first
            ONE
            \t\tsecond
            \tTWO
            RUN <<-EOF
            \techo tabbed > /tabbed.txt
            \tEOF
            """)
        #expect(try fixture.layerFile("a.txt", fromTop: 2) == "a\n")
        #expect(try fixture.layerFile("b.txt", fromTop: 2) == "b\n")
        #expect(try fixture.layerFile("one.txt", fromTop: 1) == "first\n")
        #expect(try fixture.layerFile("two.txt", fromTop: 1) == "second\n")
        #expect(try fixture.layerFile("tabbed.txt") == "tabbed\n")
    }

    @Test func aChangedRunHeredocBodyRunsAgain() throws {
        if BuildFixture.skipped(needsRun: true) { return }
        let fixture = try BuildFixture()
        for word in ["first", "second"] {
            try fixture.build("FROM busybox\nRUN <<EOF\necho \(word) > /word.txt\nEOF\n")
            #expect(try fixture.layerFile("word.txt") == "\(word)\n")
        }
    }

    @Test func copyHeredocsExpandArgAndEnvUnlessTheDelimiterIsQuoted() throws {
        if BuildFixture.skipped(needsRun: false) { return }
        let fixture = try BuildFixture()
        try fixture.build("""
            FROM busybox
            ARG WHO=world
            ENV WHERE=/srv
            COPY <<greeting <<'literal' /etc/
            hello $WHO in "${WHERE}"
            greeting
            hello $WHO in ${WHERE}
            literal
            COPY <<-EOF /tabs.txt
            \t\tindented $WHO
            \tEOF
            """)
        #expect(try fixture.layerFile("etc/greeting", fromTop: 1) == "hello world in \"/srv\"\n")
        #expect(try fixture.layerFile("etc/literal", fromTop: 1) == "hello $WHO in ${WHERE}\n")
        #expect(try fixture.layerFile("tabs.txt") == "indented world\n")
        // BuildKit's history names the heredocs unquoted, after any paths.
        #expect(try fixture.config().history?.suffix(2).map(\.createdBy)
                == ["COPY <<greeting <<literal /etc/ # buildkit", "COPY <<EOF /tabs.txt # buildkit"])
        // A --build-arg changes the file, and so the step.
        try fixture.build("FROM busybox\nARG WHO=world\nCOPY <<EOF /who\n$WHO\nEOF\n")
        #expect(try fixture.layerFile("who") == "world\n")
        let builder = Builder(store: fixture.store) { _ in }
        _ = try builder.build(BuildRequest(contextDirectory: fixture.contextDirectory,
                                           dockerfile: "FROM busybox\nARG WHO=world\nCOPY <<EOF /who\n$WHO\nEOF\n",
                                           tags: [try .init(parsing: "app")], buildArgs: ["WHO": "you"]))
        #expect(try fixture.layerFile("who") == "you\n")
    }
}
