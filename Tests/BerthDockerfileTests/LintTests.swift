import BerthDockerfile
import Testing

@Suite struct LintTests {
    func rules(_ text: String) throws -> [String] { try lint(text).warnings.map(\.rule) }

    @Test func reportsBuildKitChecks() throws {
        let report = try lint("""
            FROM alpine as Builder
            MAINTAINER someone
            CMD echo hi
            ENTRYPOINT ["tini"]
            ENV OLD style
            WORKDIR relative
            EXPOSE 80/TCP
            CMD ["again"]
            """)
        let found = Set(report.warnings.map(\.rule))
        #expect(found == [
            "FromAsCasing", "StageNameCasing", "MaintainerDeprecated", "JSONArgsRecommended",
            "LegacyKeyValueFormat", "WorkdirRelativePath", "ExposeProtoCasing", "MultipleInstructionsDisallowed",
        ])
        let maintainer = try #require(report.warnings.first { $0.rule == "MaintainerDeprecated" })
        #expect(maintainer.description
            == "Dockerfile:2: MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label")
        let json = try #require(report.warnings.first { $0.rule == "JSONArgsRecommended" })
        #expect(json.message == "JSON arguments recommended for CMD to prevent unintended behavior related to OS signals")
        #expect(json.line == 3)
        let casing = try #require(report.warnings.first { $0.rule == "FromAsCasing" })
        #expect(casing.message == "'as' and 'FROM' keywords' casing do not match")
        #expect(!report.failsBuild)
    }

    @Test func cleanFileHasNoWarnings() throws {
        let report = try lint("""
            FROM golang:1.22 AS build
            WORKDIR /src
            COPY . .
            RUN go build -o /app
            FROM scratch
            COPY --from=build /app /app
            COPY --from=docker.io/library/alpine /etc/passwd /etc/passwd
            ENTRYPOINT ["/app"]
            """)
        #expect(report.warnings.isEmpty)
        #expect(report.stages.stages.count == 2)
    }

    @Test func checkDirectiveSkipsAndErrors() throws {
        let skipped = try lint("# check=skip=JSONArgsRecommended\nFROM alpine\nCMD echo hi\nMAINTAINER x\n")
        #expect(skipped.warnings.map(\.rule) == ["MaintainerDeprecated"])
        let all = try lint("# check=skip=all\nFROM alpine\nCMD echo hi\n")
        #expect(all.warnings.isEmpty)
        let strict = try lint("# check=error=true\nFROM alpine\nCMD echo hi\n")
        #expect(strict.failsBuild)
    }

    @Test func explicitShellAllowsShellForm() throws {
        #expect(try rules("FROM alpine AS base\nSHELL [\"/bin/bash\", \"-c\"]\nFROM base\nCMD echo hi\n").isEmpty)
        #expect(try rules("FROM alpine\nSHELL [\"/bin/bash\", \"-c\"]\nFROM alpine\nCMD echo hi\n") == ["JSONArgsRecommended"])
    }

    @Test func undefinedArgInFrom() throws {
        #expect(try rules("ARG TAG\nFROM alpine:${TAG}\nFROM ${MISSING}\n") == ["UndefinedArgInFrom"])
        #expect(try rules("FROM --platform=$BUILDPLATFORM alpine\n").isEmpty)
    }

    @Test func consistentCasing() throws {
        let report = try lint("from alpine\nrun echo\nCOPY a b\n")
        #expect(report.warnings.map(\.rule) == ["ConsistentInstructionCasing"])
        #expect(report.warnings[0].message == "Command 'COPY' should match the case of the command majority (lowercase)")
    }

    @Test func emptyContinuationAndReservedName() throws {
        #expect(try rules("FROM alpine AS scratch\nRUN a \\\n\n  b\n") == ["ReservedStageName", "NoEmptyContinuation"])
    }
}
