import BerthDockerfile
import Testing

@Suite struct DockerIgnoreTests {
    /// (patterns, path, excluded) following moby/patternmatcher's semantics.
    static let cases: [(String, String, Bool)] = [
        ("*.go", "main.go", true),
        ("*.go", "dir/main.go", false),
        ("**/*.go", "dir/sub/main.go", true),
        ("**/*.go", "main.go", true),
        ("docs", "docs/readme.md", true),
        ("docs", "docs", true),
        ("docs", "documents", false),
        ("docs/", "docs/a/b.txt", true),
        ("/docs", "docs/a.txt", true),
        ("./docs", "docs/a.txt", true),
        ("docs/../src", "src/main.c", true),
        ("*.md\n!README.md", "notes.md", true),
        ("*.md\n!README.md", "README.md", false),
        ("!README.md\n*.md", "README.md", true),
        ("temp?", "temp1", true),
        ("temp?", "temp12", false),
        ("[a-c].txt", "b.txt", true),
        ("[a-c].txt", "d.txt", false),
        ("[^a].txt", "b.txt", true),
        ("[^a].txt", "a.txt", false),
        ("\\*.txt", "*.txt", true),
        ("\\*.txt", "a.txt", false),
        ("# a comment\n\n   \nbuild", "build/out", true),
        ("# build", "build", false),
        ("**", "anything/at/all", true),
        ("dir/**", "dir/a/b", true),
        ("dir/**", "dir", false),
        ("a/**/b", "a/b", true),
        ("a/**/b", "a/x/y/b", true),
        ("a/**/b", "a/x/y/c", false),
        ("*/temp*", "somedir/temporary.txt", true),
        ("*/temp*", "somedir/sub/temp", false),
        ("*/*/temp*", "a/b/temp.txt", true),
        ("  spaced.txt  ", "spaced.txt", true),
        ("docs\n!docs/keep.md", "docs/keep.md", false),
        ("docs\n!docs/keep.md", "docs/other.md", true),
        ("a+b(c).txt", "a+b(c).txt", true),
        ("file.txt", "fileXtxt", false),
        ("Dockerfile\n.git", ".git/HEAD", true),
        ("*\n!src", "src/main.swift", false),
        ("*\n!src", "README", true),
        ("**/dir2/*", "dir/dir2/file", true),
        ("**/dir", "dir/file", true),
        ("a**/*.txt", "a/dir/dir/file.txt", true),
        ("a/*.txt", "a/dir/file.txt", false),
        (".*", ".foo", true),
        (".*", "foo", false),
        ("abc.def", "abcZdef", false),
        ("abc?def", "abcdef", false),
        ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
        ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true),
        ("**\n!util/docker/web", "util/docker/web/foo", false),
        ("**\n!util/docker/web\nutil/docker/web/foo", "util/docker/web/foo", true),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
        ("a?b", "a\u{263A}b", true),
        ("[a-\u{3B6}]*", "\u{3B1}", true),
        ("[\\]a]", "]", true),
        ("[x\\-]", "-", true),
        ("[x\\-]", "z", false),
        ("a\\\\", "a\\", true),
        ("**/.foo", "bar.foo", false),
        ("**/foo/bar", "dir/dir2/foo/bar", true),
    ]

    @Test(arguments: cases)
    func matchesLikeDocker(_ patterns: String, _ path: String, _ excluded: Bool) {
        #expect(DockerIgnore(contents: patterns).isExcluded(path, isDirectory: false) == excluded)
    }

    @Test func patternsAreCleaned() {
        let ignore = DockerIgnore(contents: "./a/\n/b\n!  c//d/.\n# x\n")
        #expect(ignore.patterns.map(\.text) == ["a", "b", "c/d"])
        #expect(ignore.patterns.map(\.isException) == [false, false, true])
        #expect(ignore.hasExceptions)
    }

    @Test func malformedPatternsAreReported() {
        let ignore = DockerIgnore(contents: "good\n[\n!\n")
        #expect(ignore.malformedPatterns == ["[", "!"])
        #expect(!ignore.isExcluded("[", isDirectory: false))
        #expect(DockerIgnore(contents: "a\nb/*.c").malformedPatterns.isEmpty)
    }

    @Test func skippingDirectories() {
        #expect(DockerIgnore(contents: "node_modules").canSkipDirectory("node_modules"))
        #expect(!DockerIgnore(contents: "node_modules\n!**/keep").canSkipDirectory("node_modules"))
        #expect(!DockerIgnore(contents: "docs\n!docs/keep.md").canSkipDirectory("docs"))
        #expect(DockerIgnore(contents: "build\n!src/x").canSkipDirectory("build"))
        #expect(!DockerIgnore(contents: "build").canSkipDirectory("src"))
        #expect(!DockerIgnore(contents: "a\n!a/*/keep").canSkipDirectory("a/b"))
        #expect(DockerIgnore(contents: "a\n!a/c/keep").canSkipDirectory("a/b"))
    }
}
