import BerthDockerfile
import Testing

@Suite struct CommandTests {
    func commands(_ text: String) throws -> [Command] { try Dockerfile.parse(text).commands() }

    func single(_ line: String) throws -> Command {
        let all = try commands("FROM busybox\n" + line + "\n")
        return all[1]
    }

    @Test func copyFlags() throws {
        guard case .copy(let copy) = try single(
            "COPY --from=build --chown=1:2 --chmod=644 --link --parents --exclude=*.tmp --exclude=*.log a b /dst/")
        else { throw Unexpected() }
        #expect(copy.from == "build")
        #expect(copy.chown == "1:2")
        #expect(copy.chmod == "644")
        #expect(copy.link)
        #expect(copy.parents)
        #expect(copy.exclude == ["*.tmp", "*.log"])
        #expect(copy.files.sources == ["a", "b"])
        #expect(copy.files.destination == "/dst/")
    }

    @Test func addFlags() throws {
        guard case .add(let add) = try single(
            "ADD --checksum=sha256:abc --keep-git-dir=false --link=false https://example.com/x.git /src")
        else { throw Unexpected() }
        #expect(add.checksum == "sha256:abc")
        #expect(add.keepGitDir == false)
        #expect(!add.link)
    }

    @Test func copyHeredocSource() throws {
        guard case .copy(let copy) = try commands("FROM busybox\nCOPY <<EOF /etc/motd\nhello\nEOF\n")[1]
        else { throw Unexpected() }
        #expect(copy.files.sources == ["<<EOF"])
        #expect(copy.files.heredocs.map(\.content) == ["hello\n"])
        guard case .copy(let mixed) = try commands("FROM busybox\nCOPY a <<-B <<\"A\" /d/\n\tbee\n\tB\nay $X\nA\n")[1]
        else { throw Unexpected() }
        #expect(mixed.files.paths == ["a"])
        #expect(mixed.files.inlineFiles.map(\.name) == ["B", "A"])
        #expect(mixed.files.inlineFiles.map(\.content) == ["bee\n", "ay $X\n"])
        #expect(mixed.files.inlineFiles.map(\.expand) == [true, false])
    }

    @Test func copyHeredocBodiesExpandUnlessTheDelimiterIsQuoted() throws {
        let text = "FROM busybox\nARG NAME=world\nENV HOME_DIR=/srv\nCOPY <<a <<'b' <<\"c\" /d/\n"
            + "hi $NAME in ${HOME_DIR} 'quoted $NAME' \\$NAME\na\nhi $NAME\nb\nhi ${NAME}\nc\n"
        let all = try commands(text)
        guard case .copy(let copy) = try all[3].expanded(with: ["NAME": "world", "HOME_DIR": "/srv"]) else { throw Unexpected() }
        #expect(copy.files.inlineFiles.map(\.name) == ["a", "b", "c"])
        // Quotes are kept and do not stop expansion; the escape character quotes `$` (BuildKit's
        // expansion of a body, unlike a word's).
        #expect(copy.files.inlineFiles[0].content == "hi world in /srv 'quoted world' $NAME\n")
        #expect(copy.files.inlineFiles[1].content == "hi $NAME\n")
        #expect(copy.files.inlineFiles[2].content == "hi ${NAME}\n")
        guard case .add(let add) = try single("ADD <<-EOF /x\n\t\tv=$V\n\tEOF").expanded(with: ["V": "1"]) else {
            throw Unexpected()
        }
        #expect(add.files.inlineFiles.map(\.content) == ["v=1\n"])
    }

    @Test func runHeredocScripts() throws {
        func script(_ text: String) throws -> RunCommand.HeredocScript? {
            guard case .run(let run) = try single(text) else { throw Unexpected() }
            return run.heredocScript
        }
        #expect(try script("RUN echo plain") == nil)
        #expect(try script("RUN [\"echo\", \"<<EOF\"]") == nil)
        // A lone heredoc is the script; `<<-` strips the tabs; a quoted delimiter changes nothing
        // here (the shell never sees the body as a heredoc).
        #expect(try script("RUN <<EOF\necho one\necho two\nEOF") == .shell("echo one\necho two\n"))
        #expect(try script("RUN <<-\"EOF\"\n\techo $HOME\n\tEOF") == .shell("echo $HOME\n"))
        // One starting with `#!` is a file that runs with its interpreter.
        #expect(try script("RUN <<py\n#!/usr/bin/env python3\nprint(1)\npy")
                == .executable(name: "py", content: "#!/usr/bin/env python3\nprint(1)\n"))
        // Anything else goes to the shell with every body and terminator after the line, so each
        // heredoc feeds its own command.
        #expect(try script("RUN <<A bash && <<B sh\necho a\nA\necho b\nB")
                == .shell("<<A bash && <<B sh\necho a\nA\necho b\nB"))
        #expect(try script("RUN cat <<A <<B > /out\n1\nA\n2\nB") == .shell("cat <<A <<B > /out\n1\nA\n2\nB"))
        #expect(try script("RUN <<EOF bash\nset -e\nEOF") == .shell("<<EOF bash\nset -e\nEOF"))
    }

    @Test func runFlags() throws {
        guard case .run(let run) = try single(
            "RUN --mount=type=cache,target=/root/.cache,sharing=locked --mount=type=secret,id=tok,required --network=none --security=insecure make")
        else { throw Unexpected() }
        #expect(run.mounts.map(\.type) == [.cache, .secret])
        #expect(run.mounts[0].target == "/root/.cache")
        #expect(run.mounts[1].options.contains(KeyValuePair(key: "required", value: "true")))
        #expect(run.network == "none")
        #expect(run.security == "insecure")
        #expect(run.commandLine.arguments == ["make"])
        #expect(run.commandLine.prependShell)
    }

    @Test func runMountDefaultsToBind() throws {
        let mount = try RunMount(parsing: "from=build,src=/out,dst=/in,ro")
        #expect(mount.type == .bind)
        #expect(mount.from == "build")
        #expect(mount.source == "/out")
        #expect(mount.target == "/in")
        #expect(mount.readOnly == true)
        #expect(throws: (any Error).self) { try RunMount(parsing: "type=cache") }
        #expect(throws: (any Error).self) { try RunMount(parsing: "target=/x,bogus=1") }
    }

    @Test func healthcheck() throws {
        guard case .healthcheck(let check) = try single(
            "HEALTHCHECK --interval=1m30s --timeout=300ms --start-period=1.5h --retries=3 CMD curl -f http://localhost/")
        else { throw Unexpected() }
        #expect(check.test == ["CMD-SHELL", "curl -f http://localhost/"])
        #expect(check.interval == .seconds(90))
        #expect(check.timeout == .milliseconds(300))
        #expect(check.startPeriod == .seconds(5400))
        #expect(check.retries == 3)
        guard case .healthcheck(let none) = try single("HEALTHCHECK NONE") else { throw Unexpected() }
        #expect(none.isNone)
        guard case .healthcheck(let exec) = try single("HEALTHCHECK CMD [\"/check\"]") else { throw Unexpected() }
        #expect(exec.test == ["CMD", "/check"])
        #expect(throws: DockerfileError(fileName: "Dockerfile", line: 2, message: "--retries cannot be negative (-1)")) {
            try single("HEALTHCHECK --retries=-1 CMD true")
        }
        #expect(throws: DockerfileError(fileName: "Dockerfile", line: 2, message: "unknown flag: interval")) {
            try single("HEALTHCHECK --interval=1s NONE")
        }
    }

    @Test func fromStageNames() throws {
        guard case .from(let from) = try commands("FROM --platform=linux/arm64 golang:1.22 AS Build\n")[0]
        else { throw Unexpected() }
        #expect(from.stageName == "build")
        #expect(from.writtenStageName == "Build")
        #expect(from.platform == "linux/arm64")
        #expect(from.baseName == "golang:1.22")
    }

    @Test func onbuildWrapsTrigger() throws {
        guard case .onbuild(let onbuild) = try single("ONBUILD COPY --from=x a b") else { throw Unexpected() }
        guard case .copy(let copy) = onbuild.trigger else { throw Unexpected() }
        #expect(copy.from == "x")
        #expect(onbuild.expression == "COPY --from=x a b")
    }

    @Test func argDefinitions() throws {
        guard case .arg(let arg) = try single("ARG A B=2 C=\"x y\"") else { throw Unexpected() }
        #expect(arg.definitions == [
            ArgDefinition(name: "A", defaultValue: nil), ArgDefinition(name: "B", defaultValue: "2"),
            ArgDefinition(name: "C", defaultValue: "\"x y\""),
        ])
        guard case .arg(let expanded) = try Command.arg(arg).expanded(with: [:]) else { throw Unexpected() }
        #expect(expanded.definitions[2].defaultValue == "x y")
    }

    @Test func envExpansionUsesEnvironmentBeforeTheInstruction() throws {
        guard case .env(let env) = try single("ENV abc=bye def=$abc ghi=three\\ words jkl=\"q r\"")
        else { throw Unexpected() }
        guard case .env(let expanded) = try Command.env(env).expanded(with: ["abc": "hello"]) else { throw Unexpected() }
        #expect(expanded.pairs == [
            KeyValuePair(key: "abc", value: "bye"), KeyValuePair(key: "def", value: "hello"),
            KeyValuePair(key: "ghi", value: "three words"), KeyValuePair(key: "jkl", value: "q r"),
        ])
    }

    @Test func legacyEnvAndLabel() throws {
        guard case .env(let env) = try single("ENV NAME  some \"quoted\" value") else { throw Unexpected() }
        #expect(env.isLegacyForm)
        guard case .env(let expanded) = try Command.env(env).expanded(with: [:]) else { throw Unexpected() }
        #expect(expanded.pairs == [KeyValuePair(key: "NAME", value: "some quoted value")])
        guard case .label(let label) = try single("LABEL k v") else { throw Unexpected() }
        #expect(label.isLegacyForm)
        #expect(label.pairs == [KeyValuePair(key: "k", value: "v")])
    }

    @Test func exposeSplitsExpandedPorts() throws {
        guard case .expose(let expose) = try single("EXPOSE $PORTS 53/udp") else { throw Unexpected() }
        guard case .expose(let expanded) = try Command.expose(expose).expanded(with: ["PORTS": "80 443"])
        else { throw Unexpected() }
        #expect(expanded.ports == ["80", "443", "53/udp"])
    }

    @Test func copyExpandsSourcesDestinationAndFlags() throws {
        guard case .copy(let copy) = try single("COPY --from=$STAGE --chown=$USER ${SRC}/a \"$DST\"")
        else { throw Unexpected() }
        let env = ["STAGE": "build", "USER": "app", "SRC": "/out", "DST": "/dst dir"]
        guard case .copy(let expanded) = try Command.copy(copy).expanded(with: env) else { throw Unexpected() }
        #expect(expanded.from == "build")
        #expect(expanded.chown == "app")
        #expect(expanded.files.sources == ["/out/a"])
        #expect(expanded.files.destination == "/dst dir")
    }

    @Test func runCmdEntrypointAreNotExpanded() throws {
        for line in ["RUN echo $HOME", "CMD echo $HOME", "ENTRYPOINT echo $HOME"] {
            let command = try single(line)
            #expect(try command.expanded(with: ["HOME": "/root"]) == command)
        }
        #expect(Command.expandingInstructions.contains("WORKDIR"))
        #expect(!Command.expandingInstructions.contains("RUN"))
        #expect(!Command.expandingInstructions.contains("ONBUILD"))
    }

    @Test func expansionErrorsCarryTheLine() throws {
        let command = try single("WORKDIR ${DIR:?must be set}")
        #expect(throws: DockerfileError(fileName: "Dockerfile", line: 2, message: "DIR: must be set")) {
            try command.expanded(with: [:])
        }
    }

    @Test func volumeAndShell() throws {
        guard case .volume(let json) = try single("VOLUME [\"/a\", \"/b\"]") else { throw Unexpected() }
        #expect(json.paths == ["/a", "/b"])
        guard case .volume(let words) = try single("VOLUME /c /d") else { throw Unexpected() }
        #expect(words.paths == ["/c", "/d"])
        guard case .shell(let shell) = try single("SHELL [\"pwsh\", \"-c\"]") else { throw Unexpected() }
        #expect(shell.shell == ["pwsh", "-c"])
    }

    @Test func stagesGroupCommands() throws {
        let stages = try Dockerfile.parse("""
            ARG V=1
            FROM golang AS build
            RUN go build
            FROM scratch
            COPY --from=build /app /app
            COPY --from=0 /x /x
            """).stages()
        #expect(stages.metaArgs.count == 1)
        #expect(stages.stages.map(\.name) == ["build", nil])
        #expect(stages.stages.map(\.index) == [0, 1])
        #expect(stages.stages[1].commands.count == 2)
        #expect(stages.stage(named: "BUILD")?.index == 0)
        #expect(stages.stage(named: "0")?.name == "build")
        #expect(stages.stage(named: "alpine") == nil)
    }
}

struct Unexpected: Error {}
