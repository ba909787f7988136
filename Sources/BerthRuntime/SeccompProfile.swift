import BerthOCI
import Foundation
import Glibc

/// A seccomp profile in Docker's format (moby's profiles/seccomp): the OCI `linux.seccomp` fields,
/// plus an `archMap` and rules that apply only with some capabilities, on some architectures or
/// from some kernel version on. A `--security-opt seccomp=FILE` profile decodes into it, Docker's
/// default profile is `dockerDefault`, and `linuxSeccomp(capabilities:platform:)` turns either into
/// the section the runtime applies, as dockerd does when it writes a container's spec.
public struct SeccompProfile: Codable, Hashable, Sendable {
    /// The action for a syscall no rule matches; a profile with neither a default action nor rules
    /// confines nothing.
    public var defaultAction: String?
    /// The errno the default action returns when it is SCMP_ACT_ERRNO (EPERM when absent).
    public var defaultErrnoRet: UInt32?
    /// The architectures the filter handles, as given; a profile names them here or in `archMap`.
    public var architectures: [String]?
    /// Each native architecture with the ones its processes can also use (x86-64 runs x86 and x32
    /// code): only the machine's own entry is applied.
    public var archMap: [Architecture]?
    public var flags: [String]?
    public var listenerPath: String?
    public var listenerMetadata: String?
    public var syscalls: [Rule]?

    public init(defaultAction: String?, defaultErrnoRet: UInt32? = nil, architectures: [String]? = nil,
                archMap: [Architecture]? = nil, flags: [String]? = nil, syscalls: [Rule]? = nil) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.architectures = architectures
        self.archMap = archMap
        self.flags = flags
        self.syscalls = syscalls
    }

    /// A native architecture and its sub-architectures, by their libseccomp names (`SCMP_ARCH_X86_64`).
    public struct Architecture: Codable, Hashable, Sendable {
        public var architecture: String
        public var subArchitectures: [String]?

        public init(architecture: String, subArchitectures: [String]?) {
            self.architecture = architecture
            self.subArchitectures = subArchitectures
        }
    }

    /// Syscalls with the action taken for them, kept only when `includes` holds and `excludes`
    /// does not.
    public struct Rule: Codable, Hashable, Sendable {
        public var names: [String]?
        /// One syscall, the form of older profiles; a rule has `name` or `names`, not both.
        public var name: String?
        public var action: String
        public var errnoRet: UInt32?
        public var args: [Argument]?
        public var comment: String?
        public var includes: Filter?
        public var excludes: Filter?

        public init(names: [String], action: String, errnoRet: UInt32? = nil, args: [Argument]? = nil,
                    comment: String? = nil, includes: Filter? = nil, excludes: Filter? = nil) {
            self.names = names
            self.action = action
            self.errnoRet = errnoRet
            self.args = args
            self.comment = comment
            self.includes = includes
            self.excludes = excludes
        }
    }

    public typealias Argument = RuntimeSpec.SeccompArg

    /// A condition on the container and the machine. In `includes` every part must hold (each
    /// capability in the bounding set, the architecture among `arches`, the kernel at least
    /// `minKernel`); in `excludes` any part that holds drops the rule.
    public struct Filter: Codable, Hashable, Sendable {
        public var caps: [String]?
        /// Native architectures as Docker names them (`amd64`, `arm64`, `s390x`, …).
        public var arches: [String]?
        public var minKernel: KernelVersion?

        public init(caps: [String]? = nil, arches: [String]? = nil, minKernel: KernelVersion? = nil) {
            self.caps = caps
            self.arches = arches
            self.minKernel = minKernel
        }
    }

    /// A kernel's version and major revision (`6.1` for 6.1.0-17-amd64), written `"6.1"` in a profile.
    public struct KernelVersion: Codable, Hashable, Sendable, Comparable {
        public var kernel: Int
        public var major: Int

        public init(_ kernel: Int, _ major: Int) {
            self.kernel = kernel
            self.major = major
        }

        /// The version at the start of a kernel release string, or nil if it has none.
        public init?(release: String) {
            let parts = release.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count >= 2, let kernel = Int(parts[0]),
                  let major = Int(parts[1].prefix(while: { $0.isASCII && $0.isNumber })) else { return nil }
            self.init(kernel, major)
        }

        /// Docker's rule: `"<kernel>.<major>"`, each part 0–255, not both 0; an empty string means 0.0.
        public init(from decoder: any Decoder) throws {
            let text = try decoder.singleValueContainer().decode(String.self)
            guard !text.isEmpty else {
                self.init(0, 0)
                return
            }
            let invalid = DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: decoder.codingPath, debugDescription: "invalid kernel version: \"\(text)\", expected \"<kernel>.<major>\""))
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, let kernel = UInt8(parts[0]), let major = UInt8(parts[1]) else { throw invalid }
            guard kernel != 0 || major != 0 else { throw invalid }
            self.init(Int(kernel), Int(major))
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode("\(kernel).\(major)")
        }

        public static func < (lhs: KernelVersion, rhs: KernelVersion) -> Bool {
            (lhs.kernel, lhs.major) < (rhs.kernel, rhs.major)
        }
    }

    /// What rules are checked against besides the capabilities: the machine's architecture, as
    /// Docker names it in `arches`, and the kernel's version.
    public struct Platform: Hashable, Sendable {
        public var architecture: String
        public var kernel: KernelVersion

        public init(architecture: String, kernel: KernelVersion) {
            self.architecture = architecture
            self.kernel = kernel
        }

        /// This machine, read once per process.
        public static let host: Platform = {
            var name = utsname()
            uname(&name)
            let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            return Platform(architecture: nativeArchitecture, kernel: KernelVersion(release: release) ?? KernelVersion(0, 0))
        }()

        private static var nativeArchitecture: String {
            #if arch(x86_64)
            return "amd64"
            #elseif arch(arm64)
            return "arm64"
            #elseif arch(i386)
            return "x86"
            #elseif arch(arm)
            return "arm"
            #elseif arch(powerpc64le)
            return "ppc64le"
            #elseif arch(s390x)
            return "s390x"
            #else
            return ""
            #endif
        }
    }

    /// libseccomp's name of each native architecture, to find the machine's `archMap` entry.
    static let seccompArchitectures = [
        "x86": "SCMP_ARCH_X86", "amd64": "SCMP_ARCH_X86_64", "arm": "SCMP_ARCH_ARM", "arm64": "SCMP_ARCH_AARCH64",
        "loong64": "SCMP_ARCH_LOONGARCH64", "mips64": "SCMP_ARCH_MIPS64", "mips64n32": "SCMP_ARCH_MIPS64N32",
        "mipsel64": "SCMP_ARCH_MIPSEL64", "mips3l64n32": "SCMP_ARCH_MIPSEL64N32", "mipsle": "SCMP_ARCH_MIPSEL",
        "ppc": "SCMP_ARCH_PPC", "ppc64": "SCMP_ARCH_PPC64", "ppc64le": "SCMP_ARCH_PPC64LE", "riscv64": "SCMP_ARCH_RISCV64",
        "s390": "SCMP_ARCH_S390", "s390x": "SCMP_ARCH_S390X",
    ]

    /// Decodes a profile in Docker's JSON format, with Docker's message when it cannot.
    public init(json: [UInt8]) throws {
        do {
            self = try JSONDecoder().decode(SeccompProfile.self, from: Data(json))
        } catch let error as DecodingError {
            throw RuntimeError.invalidOption("Decoding seccomp profile failed: \(Self.describe(error))")
        } catch {
            throw RuntimeError.invalidOption("Decoding seccomp profile failed: \(error)")
        }
    }

    /// The OCI section for a container whose bounding set is `capabilities`, on `platform`: the
    /// machine's architectures from `archMap`, and the rules whose conditions hold; nil when the
    /// profile confines nothing.
    public func linuxSeccomp(capabilities: [String], platform: Platform = .host) throws -> RuntimeSpec.Seccomp? {
        if (defaultAction ?? "").isEmpty && (syscalls ?? []).isEmpty { return nil }
        if !(architectures ?? []).isEmpty && !(archMap ?? []).isEmpty {
            throw RuntimeError.invalidOption("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'")
        }
        var result = RuntimeSpec.Seccomp(defaultAction: defaultAction ?? "", defaultErrnoRet: defaultErrnoRet,
                                         architectures: architectures, flags: flags)
        result.listenerPath = listenerPath
        result.listenerMetadata = listenerMetadata
        if let native = Self.seccompArchitectures[platform.architecture],
           let entry = archMap?.first(where: { $0.architecture == native }) {
            result.architectures = [entry.architecture] + (entry.subArchitectures ?? [])
        }
        let bounding = Set(capabilities)
        var rules: [RuntimeSpec.Syscall] = []
        for rule in syscalls ?? [] {
            var names = rule.names ?? []
            if let name = rule.name, !name.isEmpty {
                guard names.isEmpty else {
                    throw RuntimeError.invalidOption("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'")
                }
                names = [name]
            }
            if let excludes = rule.excludes, excludes.holdsAny(bounding, platform) { continue }
            if let includes = rule.includes, !includes.holdsAll(bounding, platform) { continue }
            rules.append(RuntimeSpec.Syscall(names: names, action: rule.action, errnoRet: rule.errnoRet, args: rule.args))
        }
        result.syscalls = rules
        return result
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
            return keys.isEmpty ? "" : " at \(keys.hasPrefix(".") ? String(keys.dropFirst()) : keys)"
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing \"\(key.stringValue)\"\(path(context))"
        case .typeMismatch(let type, let context): return "expected \(type)\(path(context))"
        case .valueNotFound(let type, let context): return "expected \(type)\(path(context))"
        case .dataCorrupted(let context): return context.debugDescription + path(context)
        @unknown default: return "\(error)"
        }
    }
}

extension SeccompProfile.Filter {
    func holdsAll(_ bounding: Set<String>, _ platform: SeccompProfile.Platform) -> Bool {
        if let arches, !arches.isEmpty, !arches.contains(platform.architecture) { return false }
        if let caps, !caps.allSatisfy(bounding.contains) { return false }
        if let minKernel, platform.kernel < minKernel { return false }
        return true
    }

    func holdsAny(_ bounding: Set<String>, _ platform: SeccompProfile.Platform) -> Bool {
        if let arches, arches.contains(platform.architecture) { return true }
        if let caps, caps.contains(where: bounding.contains) { return true }
        if let minKernel, platform.kernel >= minKernel { return true }
        return false
    }
}
