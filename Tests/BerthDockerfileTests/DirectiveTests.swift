import BerthDockerfile
import Testing

@Suite struct DirectiveTests {
    @Test func defaults() throws {
        let dockerfile = try Dockerfile.parse("FROM busybox\n")
        #expect(dockerfile.directives == ParserDirectives())
        #expect(dockerfile.directives.escape == "\\")
    }

    @Test func directivesOnlyAtTheTop() throws {
        let late = try Dockerfile.parse("FROM busybox\n# escape=`\nRUN a \\\n b\n")
        #expect(late.directives.escape == "\\")
        #expect(late.instructions.count == 2)
        #expect(late.instructions[1].arguments == ["a  b"])
    }

    @Test func checkDirectiveParsing() throws {
        let check = try CheckDirective(parsing: "skip=JSONArgsRecommended, StageNameCasing;error=true")
        #expect(check.skips("jsonargsrecommended"))
        #expect(check.skips("StageNameCasing"))
        #expect(!check.skips("MaintainerDeprecated"))
        #expect(check.error)
        #expect(try CheckDirective(parsing: "skip=all").skips("Anything"))
        #expect(throws: (any Error).self) { try CheckDirective(parsing: "error=maybe") }
    }

    @Test func syntaxAndCheckTogether() throws {
        let dockerfile = try Dockerfile.parse("# syntax=docker/dockerfile:1\n# check=error=true\nFROM a\n")
        #expect(dockerfile.directives.syntax == "docker/dockerfile:1")
        #expect(dockerfile.directives.check?.error == true)
    }

    @Test func errorsRenderWithFileAndLine() {
        let error = DockerfileError(fileName: "app.Dockerfile", line: 12, message: "unknown instruction: FOO")
        #expect(error.description == "app.Dockerfile:12: unknown instruction: FOO")
        #expect(throws: DockerfileError(fileName: "x/Dockerfile", line: 2, message: "unknown instruction: BAR")) {
            try Dockerfile.parse("FROM a\nBAR\n", fileName: "x/Dockerfile")
        }
    }
}
