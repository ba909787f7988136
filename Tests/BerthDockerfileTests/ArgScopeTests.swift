import BerthDockerfile
import Testing

@Suite struct ArgScopeTests {
    func parse(_ text: String) throws -> BuildStages { try Dockerfile.parse(text).stages() }

    let baseFile = """
        ARG BASE=alpine
        ARG TAG
        FROM ${BASE}:${TAG:-latest}
        RUN echo one
        """

    @Test func resolvesFromWithMetaArgs() throws {
        let stages = try parse(baseFile)
        let plain = try ArgScope(metaArgs: stages.metaArgs)
        #expect(try plain.resolve(stages.stages[0].from).baseName == "alpine:latest")
        let tagged = try ArgScope(metaArgs: stages.metaArgs, buildArgs: ["TAG": "3.19"])
        #expect(try tagged.resolve(stages.stages[0].from).baseName == "alpine:3.19")
        let rebased = try ArgScope(metaArgs: stages.metaArgs, buildArgs: ["BASE": "debian", "UNUSED": "x"])
        #expect(try rebased.resolve(stages.stages[0].from).baseName == "debian:latest")
        #expect(rebased.globals["UNUSED"] == nil)
    }

    @Test func metaArgsSeeEarlierOnes() throws {
        let stages = try parse("ARG A=1\nARG B=${A}2\nFROM img:$B\n")
        let scope = try ArgScope(metaArgs: stages.metaArgs)
        #expect(scope.globals["B"] == "12")
        #expect(try scope.resolve(stages.stages[0].from).baseName == "img:12")
    }

    @Test func globalArgNeedsRedeclarationInStage() throws {
        let stages = try parse("ARG VERSION=1.0\nFROM busybox\nRUN true\nARG VERSION\nARG OTHER=x\n")
        let global = try ArgScope(metaArgs: stages.metaArgs)
        var scope = global.stageScope()
        #expect(scope.environment["VERSION"] == nil)
        for command in stages.stages[0].commands { try scope.apply(command) }
        #expect(scope.environment["VERSION"] == "1.0")
        #expect(scope.environment["OTHER"] == "x")
    }

    @Test func buildArgOverridesDefaultsAndEnvOverridesArg() throws {
        let stages = try parse("FROM busybox\nARG V=default\nARG X=1\nENV X=2\nARG X=3\nENV Y=$V\n")
        let global = try ArgScope(metaArgs: stages.metaArgs, buildArgs: ["V": "cli"])
        var scope = global.stageScope()
        for command in stages.stages[0].commands { try scope.apply(command) }
        #expect(scope.environment["V"] == "cli")
        #expect(scope.environment["X"] == "2")
        #expect(scope.environment["Y"] == "cli")
    }

    @Test func imageEnvironmentIsVisibleAndOverridesArgs() throws {
        let stages = try parse("FROM busybox\nARG PATH=/nope\nWORKDIR $PATH\n")
        var scope = try ArgScope(metaArgs: []).stageScope(imageEnvironment: ["PATH": "/usr/bin"])
        try scope.apply(stages.stages[0].commands[0])
        let workdir = try scope.apply(stages.stages[0].commands[1])
        guard case .workdir(let expanded) = workdir else {
            Issue.record("expected WORKDIR")
            return
        }
        #expect(expanded.value == "/usr/bin")
    }

    @Test func proxyArgsNeedNoDeclaration() throws {
        let global = try ArgScope(
            metaArgs: [], buildArgs: ["HTTP_PROXY": "http://proxy:3128", "SECRET": "s"])
        let scope = global.stageScope()
        #expect(scope.environment["HTTP_PROXY"] == "http://proxy:3128")
        #expect(scope.environment["SECRET"] == nil)
    }

    @Test func platformArgsAreGlobalAndRedeclaredInStages() throws {
        let stages = try parse(
            "FROM --platform=$BUILDPLATFORM golang AS build\nARG TARGETARCH\nARG TARGETOS\nRUN true\n")
        let platforms = ArgScope.platformArgs(build: "linux/amd64", target: "linux/arm64/v8")
        #expect(platforms["TARGETVARIANT"] == "v8")
        #expect(platforms["BUILDARCH"] == "amd64")
        let global = try ArgScope(metaArgs: stages.metaArgs, platformArgs: platforms)
        #expect(try global.resolve(stages.stages[0].from).platform == "linux/amd64")
        var scope = global.stageScope()
        #expect(scope.environment["TARGETARCH"] == nil)
        for command in stages.stages[0].commands { try scope.apply(command) }
        #expect(scope.environment["TARGETARCH"] == "arm64")
        #expect(scope.environment["TARGETOS"] == "linux")
    }

    @Test func blankBaseNameIsAnError() throws {
        let stages = try parse("ARG EMPTY\nFROM ${EMPTY}\n")
        let scope = try ArgScope(metaArgs: stages.metaArgs)
        #expect(throws: DockerfileError(fileName: "Dockerfile", line: 2, message: "base name (${EMPTY}) should not be blank")) {
            try scope.resolve(stages.stages[0].from)
        }
    }
}
