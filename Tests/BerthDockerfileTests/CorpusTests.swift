import BerthDockerfile
import Foundation
import Testing

/// Renders a parsed Dockerfile in the corpus's `.expected` line format:
///
///     directives escape=<c> syntax=<s|-> check=<skip,...;error=<b>|->
///     <start>-<end> <KEYWORD> <json|shell|legacy> [--flag=value ...] <arguments as a JSON-style list>
///       heredoc name=<n> expand=<b> chomp=<b> fd=<n> content=<quoted>
///       trigger <instruction line, same format>
///     warning <line> <rule>
enum CorpusRenderer {
    static func quote(_ text: String) -> String {
        var out = "\""
        for ch in text.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "\""
    }

    static func render(_ dockerfile: Dockerfile) -> String {
        var lines: [String] = []
        let d = dockerfile.directives
        var check = "-"
        if let c = d.check {
            let skips = (c.skipAll ? ["all"] : []) + c.skip.sorted()
            check = "skip=\(skips.joined(separator: ","));error=\(c.error)"
        }
        lines.append("directives escape=\(d.escape) syntax=\(d.syntax ?? "-") check=\(check)")
        for instruction in dockerfile.instructions { render(instruction, indent: "", into: &lines) }
        for warning in dockerfile.warnings { lines.append("warning \(warning.line) \(warning.rule)") }
        return lines.joined(separator: "\n") + "\n"
    }

    static func render(_ i: Instruction, indent: String, into lines: inout [String]) {
        let form = i.isJSON ? "json" : (i.usesLegacyKeyValueForm ? "legacy" : "shell")
        let flags = i.flags.map { " " + $0.text }.joined()
        let args = "[" + i.arguments.map(quote).joined(separator: ", ") + "]"
        let head = indent.isEmpty ? "\(i.startLine)-\(i.endLine) " : "trigger "
        lines.append("\(indent)\(head)\(i.keyword) \(form)\(flags) \(args)")
        for h in i.heredocs {
            lines.append(
                "\(indent)  heredoc name=\(h.name) expand=\(h.expand) chomp=\(h.chomp) fd=\(h.fileDescriptor) content=\(quote(h.content))")
        }
        if let trigger = i.trigger { render(trigger, indent: indent + "  ", into: &lines) }
    }
}

struct CorpusCase: CustomTestStringConvertible, Sendable {
    let name: String
    let dockerfile: URL
    var testDescription: String { name }

    static func all() -> [CorpusCase] {
        guard let directory = Bundle.module.url(forResource: "Corpus", withExtension: nil),
            let files = try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
        else { return [] }
        return files.filter { $0.pathExtension == "Dockerfile" }
            .map { CorpusCase(name: $0.deletingPathExtension().lastPathComponent, dockerfile: $0) }
            .sorted { $0.name < $1.name }
    }

    func sibling(_ ext: String) -> URL { dockerfile.deletingPathExtension().appendingPathExtension(ext) }
}

@Suite struct CorpusTests {
    @Test func corpusIsLarge() {
        let cases = CorpusCase.all()
        #expect(cases.filter { !FileManager.default.fileExists(atPath: $0.sibling("error").path) }.count >= 30)
        #expect(cases.filter { FileManager.default.fileExists(atPath: $0.sibling("error").path) }.count >= 20)
    }

    @Test(arguments: CorpusCase.all())
    func corpus(_ testCase: CorpusCase) throws {
        let text = try String(contentsOf: testCase.dockerfile, encoding: .utf8)
        let errorFile = testCase.sibling("error")
        if FileManager.default.fileExists(atPath: errorFile.path) {
            let expected = try String(contentsOf: errorFile, encoding: .utf8).trimmingCharacters(in: .newlines)
            do {
                _ = try lint(text)
                Issue.record("\(testCase.name): expected error \(expected), parsed fine")
            } catch let error as DockerfileError {
                #expect(error.description == expected)
            }
            return
        }
        let dockerfile = try Dockerfile.parse(text)
        let actual = CorpusRenderer.render(dockerfile)
        // Every valid corpus file must also get through the typed layer and the checks.
        _ = try dockerfile.lint()
        let expectedFile = testCase.sibling("expected")
        guard let expected = try? String(contentsOf: expectedFile, encoding: .utf8) else {
            Issue.record("\(testCase.name): no .expected file; rendering is:\n\(actual)")
            return
        }
        #expect(actual == expected, "\(testCase.name) rendering:\n\(actual)")
    }

    @Test func seedExampleParsesToSixInstructions() throws {
        let text = """
            # Base image
            FROM python:3.8

            # Metadata
            LABEL maintainer="Katie Gamanji"

            # Application code
            COPY . /app

            WORKDIR /app
            # Dependencies
            RUN pip install -r requirements.txt

            # Entrypoint
            CMD [ "python", "app.py" ]
            """
        let dockerfile = try Dockerfile.parse(text)
        #expect(dockerfile.instructions.map(\.keyword) == ["FROM", "LABEL", "COPY", "WORKDIR", "RUN", "CMD"])
        #expect(dockerfile.instructions.map(\.startLine) == [2, 5, 8, 10, 12, 15])
        #expect(dockerfile.instructions[1].comments == ["Metadata"])
        let commands = try dockerfile.commands()
        guard case .label(let label) = commands[1], case .cmd(let cmd) = commands[5] else {
            Issue.record("unexpected commands \(commands)")
            return
        }
        let expandedLabel = try Command.label(label).expanded(with: [:])
        guard case .label(let expanded) = expandedLabel else { return }
        #expect(expanded.pairs == [KeyValuePair(key: "maintainer", value: "Katie Gamanji")])
        #expect(cmd.arguments == ["python", "app.py"])
        #expect(!cmd.prependShell)
        let stages = try dockerfile.stages()
        #expect(stages.stages.count == 1)
        #expect(stages.stages[0].baseName == "python:3.8")
        #expect(stages.stages[0].commands.count == 5)
    }
}
