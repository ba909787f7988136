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

    /// Pattern removal and substitution cases from BuildKit's lexer tests.
    static let patternCases: [(String, [String: String], String)] = [
        ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", ["FOO": "()[]{}^$.*?|\\x"], "x"),
        ("${FOO%%\\**}", ["FOO": "xx**"], "xx"),
        ("${FOO#*x*y}", ["FOO": "xxyy"], "y"),
        ("${FOO#*}", ["FOO": "xxyy"], "xxyy"),
        ("${FOO#$BAR}", ["FOO": "xxyy", "BAR": "x"], "xyy"),
        ("${FOO#$BAR}", ["FOO": "xxyy", "BAR": ""], "xxyy"),
        ("${FOO#}", ["FOO": "xxyy"], "xxyy"),
        ("${FOO##*x}", ["FOO": "xxyy"], "yy"),
        ("${FOO#?\\?}", ["FOO": "???y"], "?y"),
        ("${ABC:-.}${FOO%x}${ABC:-.}", ["FOO": "xxyy"], ".xxyy."),
        ("${FOO%%\\**\\*}", ["FOO": "a***yy*"], "a"),
        ("${FOO%}", ["FOO": "xxyy"], "xxyy"),
        ("${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}", ["FOO": "/foo*/*/*.txt", "NEEDLE": "\\*/"], "/foo.*/*.txt - /foo..*.txt"),
        ("${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", ["FOO": "/tmp/tmp/bar.txt", "NEEDLE": "/tmp"], "/tmp/bar.txt - /bar.txt"),
        ("${FOO/$NEEDLE/$R} - ${FOO//$NEEDLE/$R}", ["FOO": "/a/foo/b/c.txt", "NEEDLE": "/?/", "R": "/"], "/foo/b/c.txt - /foo/c.txt"),
        ("${FOO/$NEEDLE/$R}", ["FOO": "http://google.de", "NEEDLE": "http://", "R": "https://"], "https://google.de"),
        ("${FOO//\\//\\/}", ["FOO": "/tmp/foo.txt"], "\\/tmp\\/foo.txt"),
        ("${FOO/$BAR/ww}", ["FOO": "xxyy", "BAR": ""], "wwxxyy"),
        ("${FOO///}", ["FOO": "xxyy"], "xxyy"),
        ("${FOO///}", [:], ""),
        ("${FOO//ww}", ["FOO": "xxyy"], "error"),
        ("${FOO//}", ["FOO": "xxyy"], "error"),
        ("${FOO=aaa}", ["FOO": "xxx"], "error"),
        ("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", ["FOO": "xxx", "BAR": ""], "xxx  ccc"),
        ("${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", ["FOO": "xxx", "BAR": ""], "aaa  "),
        ("${VAR:?message here$ARG}", ["VAR": "", "ARG": "x"], "error"),
        ("${TARGETVARIANT:+-${TARGETVARIANT}}.tar", ["TARGETVARIANT": "v7"], "-v7.tar"),
    ]

    @Test(arguments: patternCases)
    func patternsLikeBuildKit(_ input: String, _ environment: [String: String], _ expected: String) {
        let expander = ShellWordExpander()
        if expected == "error" {
            #expect(throws: ShellExpansionError.self) { try expander.expand(input, environment: environment) }
        } else {
            #expect((try? expander.expand(input, environment: environment)) == expected)
        }
    }

    @Test func mandatoryMessageIsExpanded() {
        #expect(throws: ShellExpansionError("VAR: message herex")) {
            try ShellWordExpander().expand("${VAR:?message here$ARG}", environment: ["ARG": "x"])
        }
    }

    @Test func textExpansionKeepsQuotes() throws {
        let expander = ShellWordExpander()
        let environment = ["A": "1", "B": "two words"]
        #expect(try expander.expandText("a=$A \"b=$B\" 'a=${A}' \\$A ${C:-none}\n", environment: environment)
                == "a=1 \"b=two words\" 'a=1' $A none\n")
        #expect(try expander.expandText("it's \"unbalanced", environment: environment) == "it's \"unbalanced")
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
