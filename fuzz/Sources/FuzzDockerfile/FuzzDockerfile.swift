import BerthDockerfile

/// Parses the input as a Dockerfile, groups it into stages and expands every command as the
/// builder does; then uses it as a word to expand, as a `.dockerignore` file and as a RUN --mount.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDockerfile(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let environment = ["A": "one", "B": "two words", "EMPTY": "", "HOME": "/root", "PATH": "/usr/bin:/bin"]
    if let dockerfile = try? Dockerfile.parse(text) {
        _ = try? dockerfile.lint()
        if let build = try? dockerfile.stages(),
           let scope = try? ArgScope(metaArgs: build.metaArgs, buildArgs: ["A": "build", "http_proxy": "proxy"],
                                     platformArgs: ArgScope.platformArgs(build: "linux/amd64", target: "linux/arm64/v8"),
                                     escape: dockerfile.directives.escape) {
            for stage in build.stages {
                _ = try? scope.resolve(stage.from)
                _ = build.stage(named: stage.baseName, before: stage.index)
                var stageScope = scope.stageScope(imageEnvironment: environment)
                for command in stage.commands { _ = try? stageScope.apply(command) }
            }
        }
    }
    for escape: Character in ["\\", "`"] {
        let shell = ShellWordExpander(escape: escape)
        _ = try? shell.expand(text, environment: environment)
        _ = try? shell.expandWords(text, environment: environment)
    }
    let ignore = DockerIgnore(contents: text)
    for path in ["a", "a/b/c.txt", ".git", "dir/sub", "Dockerfile", ""] {
        _ = ignore.isExcluded(path)
        _ = ignore.canSkipDirectory(path)
    }
    _ = try? RunMount(parsing: text)
    return 0
}
