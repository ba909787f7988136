import BerthOCI
import Foundation
import Glibc

/// What `--security-opt` asks of a container, read from HostConfig.SecurityOpt as dockerd reads it:
/// the seccomp profile and no-new-privileges. `label=` and `apparmor=` are accepted and change
/// nothing, as on a Docker host without SELinux or AppArmor.
public struct SecurityOptions: Hashable, Sendable {
    /// Which seccomp profile the container gets.
    public enum Seccomp: Hashable, Sendable {
        /// Docker's default profile, or none for a privileged container (no `seccomp=` option).
        case unspecified
        /// `seccomp=builtin`: Docker's default profile, even with `--privileged`.
        case builtin
        /// `seccomp=unconfined`: no filter.
        case unconfined
        /// `seccomp=<profile JSON>`, what the client made of `seccomp=FILE`.
        case profile(String)
    }

    public var seccomp: Seccomp = .unspecified
    /// `no-new-privileges[=true]`: execve cannot grant privileges (setuid, file capabilities).
    public var noNewPrivileges = false

    /// Reads the options with dockerd's rules (the last of each kind wins); an option it does not
    /// know fails with its message. A custom profile is decoded here, so a bad one fails at create.
    public init(parsing options: [String]) throws {
        for option in options {
            if option == "no-new-privileges" {
                noNewPrivileges = true
                continue
            }
            if option == "disable" { continue }
            // `key:value` is the older spelling, read only when there is no `=`.
            guard let separator = option.firstIndex(of: "=") ?? option.firstIndex(of: ":") else {
                throw RuntimeError.invalidOption("invalid --security-opt 1: \"\(option)\"")
            }
            let key = option[..<separator], value = String(option[option.index(after: separator)...])
            switch key {
            case "label", "apparmor":
                continue
            case "seccomp":
                switch value {
                case "unconfined": seccomp = .unconfined
                case "builtin": seccomp = .builtin
                default:
                    _ = try SeccompProfile(json: Array(value.utf8))
                    seccomp = .profile(value)
                }
            case "no-new-privileges":
                guard let flag = Self.goBool(value) else {
                    throw RuntimeError.invalidOption("invalid --security-opt 2: \"\(option)\"")
                }
                noNewPrivileges = flag
            default:
                throw RuntimeError.invalidOption("invalid --security-opt 2: \"\(option)\"")
            }
        }
    }

    /// The OCI seccomp section for a container with `capabilities` as its bounding set: Docker's
    /// default profile unless the options say otherwise, and none for a privileged container
    /// unless a profile is named.
    public func linuxSeccomp(capabilities: [String], privileged: Bool,
                             platform: SeccompProfile.Platform = .host) throws -> RuntimeSpec.Seccomp? {
        switch seccomp {
        case .unconfined: return nil
        case .unspecified where privileged: return nil
        case .unspecified, .builtin:
            return try SeccompProfile.dockerDefault.linuxSeccomp(capabilities: capabilities, platform: platform)
        case .profile(let json):
            return try SeccompProfile(json: Array(json.utf8)).linuxSeccomp(capabilities: capabilities, platform: platform)
        }
    }

    /// What the client does to `--security-opt` values before it sends them (the Docker CLI's
    /// rules): each needs a value but `no-new-privileges`; `seccomp=FILE` is replaced by the
    /// file's JSON, compacted; `systempaths=unconfined` is taken out, and reported, since it
    /// clears the masked and read-only paths rather than being recorded.
    public static func clientForm(_ options: [String]) throws -> (options: [String], unconfinedSystemPaths: Bool) {
        var result: [String] = []
        var unconfinedSystemPaths = false
        for option in options {
            if option == "systempaths=unconfined" {
                unconfinedSystemPaths = true
                continue
            }
            var parts = option.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.count == 1, parts[0] != "no-new-privileges" {
                parts = option.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            }
            guard parts[0] == "no-new-privileges" || (parts.count == 2 && !parts[1].isEmpty) else {
                throw RuntimeError.invalidOption("invalid --security-opt: \"\(option)\"")
            }
            guard parts[0] == "seccomp", parts.count == 2, !["unconfined", "builtin"].contains(parts[1]) else {
                result.append(option)
                continue
            }
            let path = String(parts[1])
            let data: [UInt8]
            do {
                data = try Files.read(path)
            } catch let RuntimeError.io(operation, _, code) {
                let reason = String(cString: strerror(code)).lowercased()
                throw RuntimeError.invalidOption("opening seccomp profile (\(path)) failed: \(operation) \(path): \(reason)")
            }
            do {
                _ = try JSONSerialization.jsonObject(with: Data(data), options: [.fragmentsAllowed])
            } catch {
                let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
                throw RuntimeError.invalidOption("compacting json for seccomp profile (\(path)) failed: \(reason)")
            }
            result.append("seccomp=" + compactJSON(data))
        }
        return (result, unconfinedSystemPaths)
    }

    /// Valid JSON without the whitespace between its tokens, as Go's json.Compact writes it.
    static func compactJSON(_ bytes: [UInt8]) -> String {
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var inString = false, escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r")].contains(byte) {
                continue
            }
            result.append(byte)
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Go's strconv.ParseBool.
    static func goBool(_ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "TRUE", "true", "True": return true
        case "0", "f", "F", "FALSE", "false", "False": return false
        default: return nil
        }
    }
}
