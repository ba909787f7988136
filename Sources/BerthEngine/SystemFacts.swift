import Glibc

/// Facts about this host that `version` and `info` report.
public enum SystemFacts {
    /// The machine's architecture in Go's terms (`amd64`, `arm64`), as Docker names it.
    public static var goArchitecture: String {
        switch machine {
        case "x86_64": "amd64"
        case "aarch64": "arm64"
        case "armv7l": "arm"
        default: machine
        }
    }

    public static var kernelVersion: String { uname(\.release) }

    public static var machine: String { uname(\.machine) }

    private static func uname<T>(_ field: KeyPath<utsname, T>) -> String {
        var names = utsname()
        guard Glibc.uname(&names) == 0 else { return "" }
        return withUnsafeBytes(of: names[keyPath: field]) { bytes in
            String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}
