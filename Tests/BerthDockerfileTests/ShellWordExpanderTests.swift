import BerthDockerfile
import Testing

/// Cases in the style of BuildKit's envVarTest table: input, expected expansion.
@Suite struct ShellWordExpanderTests {
    static let environment = ["PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": "", "FILE": "archive.tar.gz"]

    static let cases: [(String, String)] = [
        ("hello", "hello"),
        ("he'll'o", "hello"),
        ("he'llo", "error"),
        ("he\\'llo", "he'llo"),
        ("he\\\\'llo", "error"),
        ("abc\\\\def", "abc\\def"),
        ("\"abc\\\\def\"", "abc\\def"),
        ("\"abc\\\\def\\\\\"", "abc\\def\\"),
        ("'abc\\\\def'", "abc\\\\def"),
        ("\"abc\\\"def\"", "abc\"def"),
        ("\"a\\b\"", "a\\b"),
        ("'a\"b'", "a\"b"),
        ("\"a'b\"", "a'b"),
        ("\"'a'b'\"", "'a'b'"),
        ("\"'\"", "'"),
        ("\"", "error"),
        ("\"unterminated", "error"),
        ("$PWD", "/home"),
        ("${PWD}", "/home"),
        ("'$PWD'", "$PWD"),
        ("\"$PWD\"", "/home"),
        ("\\$PWD", "$PWD"),
        ("\"\\$PWD\"", "$PWD"),
        ("$PWD/file", "/home/file"),
        ("${PWD}x", "/homex"),
        ("$PWDx", ""),
        ("$", "$"),
        ("$ x", "$ x"),
        ("$1", ""),
        ("${PWD", "error"),
        ("${}", "error"),
        ("${:}", "error"),
        ("${{", "error"),
        ("${PWD:=000}", "error"),
        ("${UNSET:-default}", "default"),
        ("${NULL:-default}", "default"),
        ("${PWD:-default}", "/home"),
        ("${UNSET-default}", "default"),
        ("${NULL-default}", ""),
        ("${UNSET:+alt}", ""),
        ("${NULL:+alt}", ""),
        ("${PWD:+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${NULL+alt}", "alt"),
        ("${UNSET:-$PWD/x}", "/home/x"),
        ("${UNSET:-'a b'}", "a b"),
        ("${PWD:?message}", "/home"),
        ("${UNSET:?}", "error"),
        ("${NULL:?}", "error"),
        ("${UNSET?}", "error"),
        ("${NULL?}", ""),
        ("${KOREAN}", "한국어"),
        ("안녕$KOREAN", "안녕한국어"),
        ("${FILE#*.}", "tar.gz"),
        ("${FILE##*.}", "gz"),
        ("${FILE%.*}", "archive.tar"),
        ("${FILE%%.*}", "archive"),
        ("${FILE/tar/zip}", "archive.zip.gz"),
        ("${FILE//a/A}", "Archive.tAr.gz"),
        ("${UNSET#x}", ""),
        ("a\\ b", "a b"),
        ("trailing\\", "trailing"),
    ]

    @Test(arguments: cases)
    func expandsLikeBuildKit(_ input: String, _ expected: String) {
        let expander = ShellWordExpander(escape: "\\")
        if expected == "error" {
            #expect(throws: ShellExpansionError.self) { try expander.expand(input, environment: Self.environment) }
        } else {
            #expect((try? expander.expand(input, environment: Self.environment)) == expected)
        }
    }

    @Test func unsetErrorMessages() {
        let expander = ShellWordExpander()
        #expect(throws: ShellExpansionError("UNSET: is not allowed to be unset")) {
            try expander.expand("${UNSET:?}", environment: [:])
        }
        #expect(throws: ShellExpansionError("NULL: is not allowed to be empty")) {
            try expander.expand("${NULL:?}", environment: ["NULL": ""])
        }
        #expect(throws: ShellExpansionError("X: needs a value")) {
            try expander.expand("${X:?needs a value}", environment: [:])
        }
        #expect(throws: ShellExpansionError("syntax error: bad substitution")) {
            try expander.expand("${}", environment: [:])
        }
        #expect(throws: ShellExpansionError("unsupported modifier (=) in substitution")) {
            try expander.expand("${X:=1}", environment: [:])
        }
    }

    @Test func backtickEscape() throws {
        let expander = ShellWordExpander(escape: "`")
        #expect(try expander.expand("C:\\path", environment: [:]) == "C:\\path")
        #expect(try expander.expand("a` b", environment: [:]) == "a b")
        #expect(try expander.expand("`$X", environment: ["X": "1"]) == "$X")
        #expect(try expander.expand("\"`\"\"", environment: [:]) == "\"")
    }

    @Test func wordSplitting() throws {
        let expander = ShellWordExpander()
        let env = ["PORTS": "80 443/tcp", "EMPTY": ""]
        #expect(try expander.expandWords("$PORTS 53/udp", environment: env) == ["80", "443/tcp", "53/udp"])
        #expect(try expander.expandWords("\"$PORTS\"", environment: env) == ["80 443/tcp"])
        #expect(try expander.expandWords("a\\ b c", environment: env) == ["a b", "c"])
        #expect(try expander.expandWords("'x y'  z", environment: env) == ["x y", "z"])
        #expect(try expander.expandWords("$EMPTY", environment: env) == [])
        #expect(try expander.expandWords("  ", environment: env) == [])
    }
}
