import Testing

@testable import BerthTemplate

/// Expected outputs and messages are what Go's text/template gives through the Docker CLI
/// (docker 28, Go 1.24: `docker version --format …`, `docker inspect --format …`).
@Suite struct GoTemplateTests {
    private func render(_ source: String, _ dot: TemplateValue = .null, missingKeyIsError: Bool = false) throws -> String {
        try GoTemplate(source).execute(dot, missingKeyIsError: missingKeyIsError)
    }

    private func parseError(_ source: String) -> String? {
        do {
            _ = try GoTemplate(source)
            return nil
        } catch {
            return "\(error)"
        }
    }

    private func executionError(_ source: String, _ dot: TemplateValue = .null, missingKeyIsError: Bool = false) -> String? {
        do {
            _ = try render(source, dot, missingKeyIsError: missingKeyIsError)
            return nil
        } catch {
            return "\(error)"
        }
    }

    private let document = TemplateValue(.object([
        ("Id", .string("sha256:abc")),
        ("Size", .int(1_985_646)),
        ("Config", .object([
            ("Cmd", .strings(["sh", "-c", "echo hi"])),
            ("Entrypoint", .null),
            ("Labels", .object([("b", .string("2")), ("a", .string("<x>&"))])),
            ("Tty", .bool(false)),
        ])),
        ("Ratio", .number("0.25")),
    ]))

    // MARK: Actions

    @Test func fieldsAndChains() throws {
        #expect(try render("{{.Id}} {{.Config.Cmd}} {{.Size}}", document) == "sha256:abc [sh -c echo hi] 1985646")
        #expect(try render("{{.Config.Labels}}", document) == "map[a:<x>& b:2]")
        #expect(try render("{{(index .Config.Cmd 2)}}|{{(.Config).Tty}}", document) == "echo hi|false")
        #expect(try render("{{.Config.Labels.zzz}}|{{.Config.Entrypoint}}", document) == "<no value>|<no value>")
        #expect(try render("{{.}}", .string("dot")) == "dot")
        #expect(try render("{{.Ratio}}", document) == "0.25")
    }

    @Test func conditionals() throws {
        let template = "{{if eq .Size 1}}one{{else if gt .Size 100}}big{{else}}small{{end}}"
        #expect(try render(template, document) == "big")
        #expect(try render("{{if .Config.Entrypoint}}yes{{else}}no{{end}}", document) == "no")
        #expect(try render("{{if not .Config.Tty}}notty{{end}}", document) == "notty")
        #expect(try render("{{with .Config.Cmd}}{{index . 0}}{{end}}", document) == "sh")
        #expect(try render("{{with .Config.Entrypoint}}x{{else with .Id}}{{.}}{{end}}", document) == "sha256:abc")
        #expect(try render("{{with $x := \"v\"}}{{$x}}{{.}}{{end}}") == "vv")
    }

    @Test func truthIsGos() throws {
        for (value, truth) in [(TemplateValue.int(0), false), (.int(2), true), (.float(0), false), (.string(""), false),
                               (.string("a"), true), (.list([]), false), (.map([]), false), (.null, false),
                               (.bool(true), true)] {
            #expect(try render("{{if .}}t{{else}}f{{end}}", value) == (truth ? "t" : "f"))
        }
    }

    @Test func rangeOverListsMapsAndNumbers() throws {
        #expect(try render("{{range .Config.Cmd}}[{{.}}]{{end}}", document) == "[sh][-c][echo hi]")
        #expect(try render("{{range $i, $v := .Config.Cmd}}{{$i}}={{$v}};{{end}}", document) == "0=sh;1=-c;2=echo hi;")
        // Map keys in sorted order, whatever the document's order.
        #expect(try render("{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}} {{end}}", document) == "a:<x>& b:2 ")
        #expect(try render("{{range .Config.Entrypoint}}x{{else}}none{{end}}", document) == "none")
        #expect(try render("{{range 3}}{{.}}{{end}}") == "012")
        #expect(try render("{{range $v := split \"a,b,c\" \",\"}}{{if eq $v \"b\"}}{{continue}}{{end}}{{$v}}{{end}}") == "ac")
        #expect(try render("{{range split \"a,b,c\" \",\"}}{{if eq . \"b\"}}{{break}}{{end}}{{.}}{{end}}") == "a")
        #expect(executionError("{{range \"ab\"}}{{.}}{{end}}")
            == #"template: :1:8: executing "" at <"ab">: range can't iterate over ab"#)
    }

    @Test func variables() throws {
        #expect(try render("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}") == "2")
        #expect(try render("{{range .Config.Cmd}}{{$.Id}} {{end}}", document) == "sha256:abc sha256:abc sha256:abc ")
        #expect(try render("{{$c := .Config}}{{$c.Labels.b}}", document) == "2")
        #expect(parseError("{{$x}}") == #"template: :1: undefined variable "$x""#)
        // A variable declared in a block ends with it.
        #expect(parseError("{{if true}}{{$y := 1}}{{end}}{{$y}}") == #"template: :1: undefined variable "$y""#)
    }

    @Test func namedTemplates() throws {
        #expect(try render(#"{{define "x"}}[{{.}}]{{end}}a{{template "x" "v"}}b{{template "x"}}"#) == "a[v]b[<no value>]")
        #expect(try render(#"{{block "b" 1}}<{{.}}>{{end}}"#) == "<1>")
        #expect(try render(#"{{define "x"}}{{$}}{{end}}{{template "x" 5}}"#) == "5")
        let countdown = #"{{define "r"}}{{if gt . 0}}{{.}}{{template "r" (len (slice "xxxxx" 1 .))}}{{end}}{{end}}{{template "r" 3}}"#
        #expect(try render(countdown) == "321")
        #expect(executionError(#"{{template "x"}}"#)
            == #"template: :1:11: executing "" at <{{template "x"}}>: template "x" not defined"#)
        #expect(executionError(#"{{define "loop"}}{{template "loop"}}{{end}}{{template "loop"}}"#)?
            .hasSuffix("exceeded maximum template depth (1000)") == true)
        #expect(parseError(#"{{if 1}}{{define "x"}}{{end}}{{end}}"#) == "template: :1: unexpected <define> in command")
        #expect(parseError("{{template .}}") == "template: :1: unexpected <.> in template clause")
    }

    @Test func pipelinesPassTheLastArgument() throws {
        #expect(try render("{{1 | printf \"%d %d\" 2}}") == "2 1")
        #expect(try render("{{.Config.Cmd | len}}", document) == "3")
        #expect(try render("{{\"abc\" | upper | printf \"<%s>\"}}") == "<ABC>")
        #expect(try render("{{.Config.Labels | json}}", document) == #"{"b":"2","a":"<x>&"}"#)
    }

    @Test func whitespaceTrimmingAndComments() throws {
        #expect(try render("{{/* c */}}x{{- /* d */ -}} y") == "xy")
        #expect(try render("a  {{- 3 -}}  {{-3}}") == "a3-3")
        #expect(try render("{{/* a\nmultiline comment */}}ok") == "ok")
        #expect(try render("{{\n.\n}}", .string("newlines")) == "newlines")
    }

    @Test func constants() throws {
        #expect(try render("{{1e6}} {{1.0}} {{0x10}} {{-5}} {{1e21}} {{0.000001}} {{0.0001}} {{'a'}} {{0b101}} {{1_000}}")
            == "1e+06 1 16 -5 1e+21 1e-06 0.0001 97 5 1000")
        #expect(try render(#"{{"a\tb\u00e9\x41"}}|{{`raw\n`}}"#) == "a\tbéA|raw\\n")
        #expect(try render("{{true}} {{false}}") == "true false")
        #expect(try render(#"{{'\''}} {{'\n'}} {{'é'}}"#) == "39 10 233")
        #expect(executionError("{{9223372036854775808}}")
            == #"template: :1:2: executing "" at <9223372036854775808>: 9223372036854775808 overflows int"#)
        #expect(executionError("{{range $i, $v := 3}}{{end}}")
            == #"template: :1:18: executing "" at <3>: can't use 3 to iterate over more than one variable"#)
        #expect(try render(#"{{printf "%c|%U" -1 -1}}"#) == "\u{FFFD}|U+FFFFFFFFFFFFFFFF")
    }

    // MARK: Functions

    @Test func printfVerbs() throws {
        #expect(try render(#"{{printf "%5.2f|%d|%q|%x|%v|%s" 3.14159 42 "a\"b" "hi" 1.5 "s"}}"#)
            == #" 3.14|42|"a\"b"|6869|1.5|s"#)
        #expect(try render(#"{{printf "%x %X %o %b %c %U %q %e %g %8.3e %-5d| %05d %+d %t %s" 255 255 8 5 65 65 65 1234.5678 1234.5678 1234.5 42 42 42 true (split "a,b" ",")}}"#)
            == "ff FF 10 101 A U+0041 'A' 1.234568e+03 1234.5678 1.234e+03 42   | 00042 +42 true [a b]")
        #expect(try render(#"{{printf "%d %s %v" "x" 5 nil}}|{{printf "%d" 1 2}}|{{printf "%d %d" 1}}|{{printf "100%%"}}"#)
            == "%!d(string=x) %!s(int=5) <nil>|1%!(EXTRA int=2)|1 %!d(MISSING)|100%")
        #expect(try render(#"{{printf "%T %T %T %T %T" 1 1.5 "s" nil .}}"#, .map([])) == "int float64 string <nil> map[string]interface {}")
        #expect(try render(#"{{printf "%-6s|%6s|%.2s" "ab" "cd" "xyz"}}"#) == "ab    |    cd|xy")
        #expect(try render(#"{{printf "%d|%s|%v|%5.1f" 1.5 true 1e300 2.5}}"#) == "%!d(float64=1.5)|%!s(bool=true)|1e+300|  2.5")
    }

    @Test func printAndPrintln() throws {
        #expect(try render(#"{{print 1 2 "a" "b" 3}}"#) == "1 2ab3")
        #expect(try render(#"{{print "a" 1 2 "b" nil}}"#) == "a1 2b<nil>")
        #expect(try render(#"{{println 1 "a"}}"#) == "1 a\n")
    }

    @Test func comparisons() throws {
        #expect(try render("{{eq 1 2 1}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1.5 2.5}}")
            == "true true true true true false")
        #expect(try render("{{eq .Id \"sha256:abc\"}} {{eq .Config.Labels.none \"x\"}}", document) == "true false")
        #expect(executionError(#"{{eq 1 "a"}}"#)
            == #"template: :1:2: executing "" at <eq 1 "a">: error calling eq: incompatible types for comparison"#)
        #expect(executionError("{{lt 1 2.5}}")
            == "template: :1:2: executing \"\" at <lt 1 2.5>: error calling lt: incompatible types for comparison")
        #expect(executionError("{{lt true false}}")
            == "template: :1:2: executing \"\" at <lt true false>: error calling lt: invalid type for comparison")
        #expect(executionError("{{eq 1}}")
            == "template: :1:2: executing \"\" at <eq 1>: error calling eq: missing argument for comparison")
    }

    @Test func andOrNotShortCircuitAndReturnValues() throws {
        #expect(try render(#"{{and 1 0 2}}|{{or 0 "" "x"}}|{{not 0}}|{{and 1 2}}|{{or 0 ""}}"#) == "0|x|true|2|")
        // The right side is not evaluated once the left decides: no error from the bad index.
        #expect(try render("{{or 1 (index .Config.Cmd 9)}}", document) == "1")
        #expect(executionError("{{and}}")
            == "template: :1:2: executing \"\" at <and>: wrong number of args for and: want at least 1 got 0")
        #expect(executionError("{{not 1 2}}")
            == "template: :1:2: executing \"\" at <not>: wrong number of args for not: want 1 got 2")
    }

    @Test func lenIndexSlice() throws {
        #expect(try render(#"{{len "héllo"}} {{len .Config.Cmd}} {{len .Config.Labels}}"#, document) == "6 3 2")
        #expect(try render(#"{{index "abc" 1}} {{index .Config.Labels "a"}} {{index .Config.Cmd 1}}"#, document) == "98 <x>& -c")
        #expect(try render(#"{{slice "abcdef" 1 3}} {{slice .Config.Cmd 1}} {{slice "abc"}}"#, document) == "bc [-c echo hi] abc")
        // A missing label is "", as Docker's typed labels map gives it.
        #expect(try render(#"[{{index .Config.Labels "nope"}}]"#, document) == "[]")
        #expect(executionError(#"{{index (split "a,b" ",") 5}}"#)
            == #"template: :1:2: executing "" at <index (split "a,b" ",") 5>: error calling index: index out of range: 5"#)
        #expect(executionError(#"{{slice "abc" 2 1}}"#)
            == #"template: :1:2: executing "" at <slice "abc" 2 1>: error calling slice: invalid slice index: 2 > 1"#)
        #expect(executionError("{{len 3}}") == "template: :1:2: executing \"\" at <len 3>: error calling len: len of type int")
    }

    @Test func dockerFunctions() throws {
        #expect(try render(#"{{title "hello wORLD-x"}}|{{pad "x" 1 2}}|{{pad "" 1 2}}|{{truncate "abcdef" 3}}|{{truncate "ab" 3}}"#)
            == "Hello WORLD-X| x  ||abc|ab")
        #expect(try render(#"{{split "a,b" ","}}|{{join (split "a,b" ",") "-"}}|{{lower "ABc"}}|{{upper "abC"}}"#)
            == "[a b]|a-b|abc|ABC")
        #expect(try render(#"{{join .Config.Cmd ", "}}|{{join .Config.Labels "+"}}|{{join .Config.Entrypoint ","}}"#, document)
            == "sh, -c, echo hi|2+<x>&|")
        #expect(try render(#"{{html "<a&b>"}} {{urlquery "a b&c"}}"#) == "&lt;a&amp;b&gt; a+b%26c")
    }

    /// Docker's `json` is a json.Encoder without HTML escaping; U+2028/U+2029 are still escaped,
    /// and Go ≥ 1.22 writes \b and \f.
    @Test func jsonEncodesAsDockersEncoder() throws {
        #expect(try render("{{json \"a\\bb\\fc<>&\\u2028\"}}") == #""a\bb\fc<>&\u2028""#)
        #expect(try render("{{json .Config}}", document)
            == #"{"Cmd":["sh","-c","echo hi"],"Entrypoint":null,"Labels":{"b":"2","a":"<x>&"},"Tty":false}"#)
        #expect(try render("{{json .Ratio}} {{json 1e21}} {{json 0.0000001}} {{json 100.0}}", document) == "0.25 1e+21 1e-7 100")
        // A list context marshals itself with json.Marshal, which escapes HTML.
        let row = TemplateValue.object(TemplateObject(typeName: "*formatter.ContainerContext",
                                                      fields: [("Names", .string("a<b")), ("ID", .string("1"))]))
        #expect(try render("{{json .}}", row) == #"{"ID":"1","Names":"a\u003cb"}"#)
    }

    // MARK: Objects with methods

    @Test func methodsWithArguments() throws {
        let row = TemplateValue.object(TemplateObject(
            typeName: "*formatter.ContainerContext", fields: [("ID", .string("abc"))],
            methods: ["Label": (1, { arguments in
                guard case .string(let name) = arguments[0] else { return .string("") }
                return .string(name == "x" ? "X!" : "")
            })]))
        #expect(try render(#"{{.ID}} {{.Label "x"}} [{{.Label "y"}}] {{"x" | .Label}}"#, row) == "abc X! [] X!")
        #expect(executionError("{{.Label}}", row)
            == #"template: :1:2: executing "" at <.Label>: wrong number of args for Label: want 1 got 0"#)
        #expect(executionError("{{.Foo}}", row)
            == #"template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type *formatter.ContainerContext"#)
    }

    // MARK: Errors

    @Test func parseErrorsReadAsGos() {
        #expect(parseError("{{foo}}") == #"template: :1: function "foo" not defined"#)
        #expect(parseError("{{if}}") == "template: :1: missing value for if")
        #expect(parseError("{{if 1}}a") == "template: :1: unexpected EOF")
        #expect(parseError("{{end}}") == "template: :1: unexpected {{end}}")
        #expect(parseError("{{else}}") == "template: :1: unexpected {{else}}")
        #expect(parseError("{{.Client") == "template: :1: unclosed action")
        #expect(parseError(#"{{"abc}}"#) == "template: :1: unterminated quoted string")
        #expect(parseError("a\nb\n{{nope}}") == #"template: :3: function "nope" not defined"#)
        #expect(parseError("{{break}}") == "template: :1: {{break}} outside {{range}}")
        #expect(parseError("{{/* x */ }}") == "template: :1: comment ends before closing delimiter")
    }

    @Test func executionErrorsReadAsGos() {
        #expect(executionError(#"{{upper 1}}"#) == #"template: :1:8: executing "" at <1>: expected string; found 1"#)
        #expect(executionError("{{.Config.Foo}}", document, missingKeyIsError: true)
            == #"template: :1:9: executing "" at <.Config.Foo>: map has no entry for key "Foo""#)
        #expect(executionError("x\n {{.Size.Foo}}", document)
            == #"template: :2:8: executing "" at <.Size.Foo>: can't evaluate field Foo in type int"#)
        #expect(executionError("{{nil}}") == #"template: :1:2: executing "" at <nil>: nil is not a command"#)
        #expect(executionError("{{upper .Size}}", document)
            == #"template: :1:8: executing "" at <.Size>: wrong type for value; expected string; got int"#)
        #expect(executionError("{{.Config.Entrypoint.X}}", document, missingKeyIsError: true)
            == #"template: :1:9: executing "" at <.Config.Entrypoint.X>: nil pointer evaluating interface {}.X"#)
    }

    // MARK: docker inspect

    /// Typed first (a struct's missing field fails, a map's missing key is <no value>), then the
    /// raw document with missingkey=error, whose error is the one reported.
    @Test func inspectFormatTriesTheTypedDocumentFirst() throws {
        let inspect = { (source: String) throws -> String in
            guard case .object(let members) = self.document.json else { return "" }
            return try InspectFormat.render(try GoTemplate(source), .object(members))
        }
        #expect(try inspect("{{.Config.Labels.missing}}|{{.Config.Labels.a}}") == "<no value>|<x>&")
        #expect(try inspect("{{range $k, $v := .Config}}{{$k}} {{end}}") == "Cmd Entrypoint Labels Tty ")
        #expect(try inspect("{{json .Config}}") == #"{"Cmd":["sh","-c","echo hi"],"Entrypoint":null,"Labels":{"b":"2","a":"<x>&"},"Tty":false}"#)
        // A null member is a nil slice or map (`[]`, `map[]`, still null in JSON), or a nil pointer.
        #expect(try inspect("{{.Config.Entrypoint}}|{{json .Config.Entrypoint}}|{{len .Config.Entrypoint}}") == "[]|null|0")
        let nils = OrderedJSON.object([("Volumes", .null), ("IPAMConfig", .null), ("Binds", .null)])
        #expect(try InspectFormat.render(try GoTemplate("{{.Volumes}}|{{.IPAMConfig}}|{{.Binds}}|{{.Volumes.x}}"), nils)
            == "map[]|<nil>|[]|<no value>")
        // IPAM.Config's entries leave an empty gateway out of the JSON; Docker's struct reads "".
        let ipam = OrderedJSON.object([("IPAM", .object([("Config", .array([.object([("Subnet", .string("10.1.0.0/24"))])]))]))])
        #expect(try InspectFormat.render(try GoTemplate("{{range .IPAM.Config}}{{.Subnet}}|{{.Gateway}}|{{end}}{{json .IPAM.Config}}"), ipam)
            == #"10.1.0.0/24||[{"Subnet":"10.1.0.0/24"}]"#)
        #expect(throws: TemplateExecutionError.self) { try inspect("{{.Foo}}") }
        do {
            _ = try inspect("{{.Config.Foo}}")
        } catch {
            #expect("\(error)" == #"template: :1:9: executing "" at <.Config.Foo>: map has no entry for key "Foo""#)
        }
    }

    // MARK: Tables

    @Test func tableFormatAlignsUnderHeaders() throws {
        let rows = [("1234", "first"), ("56", "a-much-longer-name")].map { id, name in
            TemplateValue.object(TemplateObject(typeName: "*formatter.ContainerContext",
                                                fields: [("ID", .string(id)), ("Names", .string(name))]))
        }
        let header = ListFormat.header(["ID": "CONTAINER ID", "Names": "NAMES"])
        let output = try ListFormat(#"table {{.ID}}\t{{.Names}}"#).render(rows, header: header)
        #expect(output == "CONTAINER ID   NAMES\n1234           first\n56             a-much-longer-name\n")
        let labels = try ListFormat(#"table {{.ID}}\t{{.Label "com.docker-x_y"}}\t{{json .Names}}"#)
            .render([], header: header)
        #expect(labels == "CONTAINER ID   docker x y   NAMES\n")
        #expect(try ListFormat("tablex{{.ID}}").render(rows, header: header) == "xCONTAINER ID\nx1234\nx56\n")
        #expect(try ListFormat("{{.ID}}").render(rows, header: header) == "1234\n56\n")
    }

    @Test func tabWriterColumnsAreBlocksOfLines() {
        // Go's tabwriter: a column spans consecutive lines that have a cell in it.
        #expect(TabWriter.format("a\tb\tc\naaaaaaaaaaaa\tb\n") == "a              b         c\naaaaaaaaaaaa   b\n")
        #expect(TabWriter.format("x\ny\tz\n") == "x\ny         z\n")
    }
}
