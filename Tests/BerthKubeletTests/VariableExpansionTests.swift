import BerthKubeAPI
@testable import BerthKubelet
import Testing

@Suite struct VariableExpansionTests {
    let environment = ["A=1", "B=two", "EMPTY="]

    @Test(arguments: [
        ("$(A)", "1"), ("x$(B)y", "xtwoy"), ("$(EMPTY)", ""), ("$(MISSING)", "$(MISSING)"), ("$$(A)", "$(A)"),
        ("$$$(A)", "$1"), ("$(A", "$(A"), ("$A", "$A"), ("cost $", "cost $"), ("$()", "$()"), ("$(A)$(B)", "1two"),
        ("$$", "$"), ("a$(A)$", "a1$"),
    ])
    func expands(input: String, expected: String) {
        #expect(VariableExpansion.expand(input, environment: environment) == expected)
    }

    @Test func laterDefinitionsWin() {
        #expect(VariableExpansion.expand("$(A)", environment: ["A=1", "A=2"]) == "2")
    }
}

@Suite struct ContainerCommandTests {
    func container(command: [String]? = nil, args: [String]? = nil) -> Container {
        let encode = { (items: [String]?) in items.map { "[" + $0.map { "\"\($0)\"" }.joined(separator: ",") + "]" } ?? "null" }
        // swiftlint:disable:next force_try
        return try! decoded(#"{"name":"c","command":\#(encode(command)),"args":\#(encode(args))}"#)
    }

    @Test func neitherKeepsTheImagesEntrypointAndCmd() {
        let resolved = ContainerCommand(container: container(), environment: [])
        #expect(resolved.entrypoint == nil)
        #expect(resolved.command == [])
    }

    @Test func commandReplacesTheEntrypointAndDropsCmd() {
        let resolved = ContainerCommand(container: container(command: ["sh", "-c"], args: ["echo $(A)"]), environment: ["A=hi"])
        #expect(resolved.entrypoint == ["sh", "-c"])
        #expect(resolved.command == ["echo hi"])
        let alone = ContainerCommand(container: container(command: ["top"]), environment: [])
        #expect(alone.entrypoint == ["top"])
        #expect(alone.command == [])
    }

    @Test func argsAloneReplaceCmd() {
        let resolved = ContainerCommand(container: container(args: ["$(A)", "$$(A)", "$(NOPE)"]), environment: ["A=x"])
        #expect(resolved.entrypoint == nil)
        #expect(resolved.command == ["x", "$(A)", "$(NOPE)"])
    }

    @Test func anEmptyCommandIsNone() {
        let resolved = ContainerCommand(container: container(command: [], args: ["a"]), environment: [])
        #expect(resolved.entrypoint == nil)
        #expect(resolved.command == ["a"])
    }
}
