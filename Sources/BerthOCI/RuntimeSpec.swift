/// The OCI runtime specification's container configuration (`config.json` in a bundle), the subset
/// Berth writes for Linux containers. Property names are the spec's JSON field names.
public struct RuntimeSpec: Codable, Hashable, Sendable {
    /// ociVersion is the version of the Open Container Initiative Runtime Specification with
    /// which the bundle complies.
    public var ociVersion: String
    /// process specifies the container process.
    public var process: Process?
    /// root specifies the container's root filesystem.
    public var root: Root?
    /// hostname specifies the container's hostname as seen by processes running inside the container.
    public var hostname: String?
    /// mounts specifies additional mounts beyond root, in order.
    public var mounts: [Mount]?
    /// hooks configures callbacks for container lifecycle events.
    public var hooks: Hooks?
    /// annotations contains arbitrary metadata for the container.
    public var annotations: [String: String]?
    /// linux is platform-specific configuration for Linux based containers.
    public var linux: Linux?

    public init(ociVersion: String = "1.0.2", process: Process? = nil, root: Root? = nil, hostname: String? = nil,
                mounts: [Mount]? = nil, hooks: Hooks? = nil, annotations: [String: String]? = nil, linux: Linux? = nil) {
        self.ociVersion = ociVersion
        self.process = process
        self.root = root
        self.hostname = hostname
        self.mounts = mounts
        self.hooks = hooks
        self.annotations = annotations
        self.linux = linux
    }

    /// Process contains information to start a specific application inside the container.
    public struct Process: Codable, Hashable, Sendable {
        /// terminal creates an interactive terminal for the container.
        public var terminal: Bool?
        /// consoleSize specifies the initial console size of the terminal.
        public var consoleSize: Box?
        /// user specifies user information for the process.
        public var user: User
        /// args specifies the binary and arguments for the application to execute.
        public var args: [String]
        /// env populates the process environment.
        public var env: [String]?
        /// cwd is the current working directory for the process; an absolute path.
        public var cwd: String
        /// capabilities are Linux capabilities that are kept for the process.
        public var capabilities: Capabilities?
        /// rlimits specifies rlimit options to apply to the process.
        public var rlimits: [POSIXRlimit]?
        /// noNewPrivileges controls whether additional privileges could be gained by processes in the container.
        public var noNewPrivileges: Bool?
        /// apparmorProfile specifies the AppArmor profile for the container.
        public var apparmorProfile: String?
        /// oomScoreAdj adjusts the oom-killer score in `[pid]/oom_score_adj` for the process's `[pid]`.
        public var oomScoreAdj: Int?
        /// selinuxLabel specifies the SELinux label for the process.
        public var selinuxLabel: String?

        public init(terminal: Bool? = nil, user: User = User(), args: [String], env: [String]? = nil, cwd: String = "/",
                    capabilities: Capabilities? = nil, rlimits: [POSIXRlimit]? = nil, noNewPrivileges: Bool? = nil) {
            self.terminal = terminal
            self.user = user
            self.args = args
            self.env = env
            self.cwd = cwd
            self.capabilities = capabilities
            self.rlimits = rlimits
            self.noNewPrivileges = noNewPrivileges
        }
    }

    /// Box specifies dimensions of a rectangle, used for the console size.
    public struct Box: Codable, Hashable, Sendable {
        public var height: UInt
        public var width: UInt
        public init(height: UInt, width: UInt) {
            self.height = height
            self.width = width
        }
    }

    /// User specifies specific user (and group) information for the container process.
    public struct User: Codable, Hashable, Sendable {
        /// uid is the user id.
        public var uid: UInt32
        /// gid is the group id.
        public var gid: UInt32
        /// umask is the umask for the init process.
        public var umask: UInt32?
        /// additionalGids are additional group ids set for the container's process.
        public var additionalGids: [UInt32]?
        /// username is the user name (Windows only; kept for completeness).
        public var username: String?

        public init(uid: UInt32 = 0, gid: UInt32 = 0, additionalGids: [UInt32]? = nil) {
            self.uid = uid
            self.gid = gid
            self.additionalGids = additionalGids
        }
    }

    /// Capabilities lists the Linux capabilities of the process, by set.
    public struct Capabilities: Codable, Hashable, Sendable {
        /// bounding is the set of capabilities checked by the kernel.
        public var bounding: [String]?
        /// effective is the set of capabilities checked by the kernel.
        public var effective: [String]?
        /// inheritable is the capabilities preserved across execve.
        public var inheritable: [String]?
        /// permitted is the limiting superset for effective capabilities.
        public var permitted: [String]?
        /// ambient is the ambient set of capabilities that are kept.
        public var ambient: [String]?

        public init(bounding: [String]? = nil, effective: [String]? = nil, inheritable: [String]? = nil,
                    permitted: [String]? = nil, ambient: [String]? = nil) {
            self.bounding = bounding
            self.effective = effective
            self.inheritable = inheritable
            self.permitted = permitted
            self.ambient = ambient
        }
    }

    /// POSIXRlimit type and restrictions.
    public struct POSIXRlimit: Codable, Hashable, Sendable {
        /// type of the rlimit to set, such as `RLIMIT_NOFILE`.
        public var type: String
        /// hard is the hard limit for the specified type.
        public var hard: UInt64
        /// soft is the soft limit for the specified type.
        public var soft: UInt64

        public init(type: String, hard: UInt64, soft: UInt64) {
            self.type = type
            self.hard = hard
            self.soft = soft
        }
    }

    /// Root contains information about the container's root filesystem on the host.
    public struct Root: Codable, Hashable, Sendable {
        /// path is the absolute path to the container's root filesystem, or relative to the bundle.
        public var path: String
        /// readonly makes the root filesystem for the container readonly before the process is executed.
        public var readonly: Bool?

        public init(path: String, readonly: Bool? = nil) {
            self.path = path
            self.readonly = readonly
        }
    }

    /// Mount specifies a mount for a container.
    public struct Mount: Codable, Hashable, Sendable {
        /// destination is the absolute path where the mount will be placed in the container.
        public var destination: String
        /// type specifies the mount kind.
        public var type: String?
        /// source specifies the source path of the mount.
        public var source: String?
        /// options are fstab style mount options.
        public var options: [String]?

        public init(destination: String, type: String? = nil, source: String? = nil, options: [String]? = nil) {
            self.destination = destination
            self.type = type
            self.source = source
            self.options = options
        }
    }

    /// Hook specifies a command that is run at a particular event in the lifecycle of a container.
    public struct Hook: Codable, Hashable, Sendable {
        public var path: String
        public var args: [String]?
        public var env: [String]?
        public var timeout: Int?

        public init(path: String, args: [String]? = nil, env: [String]? = nil, timeout: Int? = nil) {
            self.path = path
            self.args = args
            self.env = env
            self.timeout = timeout
        }
    }

    /// Hooks specifies commands run at lifecycle events of the container.
    public struct Hooks: Codable, Hashable, Sendable {
        /// prestart is deprecated in the spec in favour of createRuntime; kept for older runtimes.
        public var prestart: [Hook]?
        public var createRuntime: [Hook]?
        public var createContainer: [Hook]?
        public var startContainer: [Hook]?
        public var poststart: [Hook]?
        public var poststop: [Hook]?

        public init() {}
    }

    /// Linux contains platform-specific configuration for Linux based containers.
    public struct Linux: Codable, Hashable, Sendable {
        /// uidMappings specifies user mappings for supporting user namespaces.
        public var uidMappings: [IDMapping]?
        /// gidMappings specifies group mappings for supporting user namespaces.
        public var gidMappings: [IDMapping]?
        /// sysctl are a set of key value pairs that are set for the container on start.
        public var sysctl: [String: String]?
        /// resources contain cgroup information for handling resource constraints for the container.
        public var resources: Resources?
        /// cgroupsPath specifies the path to cgroups that are created and/or joined by the container.
        public var cgroupsPath: String?
        /// namespaces contains the namespaces that are created and/or joined by the container.
        public var namespaces: [Namespace]?
        /// devices are a list of device nodes that are created for the container.
        public var devices: [Device]?
        /// rootfsPropagation is the rootfs mount propagation mode for the container.
        public var rootfsPropagation: String?
        /// maskedPaths masks over the provided paths inside the container.
        public var maskedPaths: [String]?
        /// readonlyPaths sets the provided paths as RO inside the container.
        public var readonlyPaths: [String]?
        /// mountLabel specifies the selinux context for the mounts in the container.
        public var mountLabel: String?
        /// seccomp specifies the seccomp security settings for the container.
        public var seccomp: Seccomp?

        public init() {}
    }

    /// Seccomp represents syscall restrictions.
    public struct Seccomp: Codable, Hashable, Sendable {
        /// defaultAction is the action taken for a syscall no rule matches.
        public var defaultAction: String
        /// defaultErrnoRet is the errno returned by the default action when it is SCMP_ACT_ERRNO or
        /// SCMP_ACT_TRACE (EPERM when absent).
        public var defaultErrnoRet: UInt32?
        /// architectures are the architectures whose syscalls the filter handles, as libseccomp names them.
        public var architectures: [String]?
        /// flags are the flags passed to seccomp(2).
        public var flags: [String]?
        /// listenerPath is the path of a UNIX socket the runtime hands the seccomp notify descriptor to.
        public var listenerPath: String?
        /// listenerMetadata is opaque data passed to the seccomp agent along with the descriptor.
        public var listenerMetadata: String?
        /// syscalls are the rules matching syscalls, with their actions.
        public var syscalls: [Syscall]?

        public init(defaultAction: String, defaultErrnoRet: UInt32? = nil, architectures: [String]? = nil,
                    flags: [String]? = nil, syscalls: [Syscall]? = nil) {
            self.defaultAction = defaultAction
            self.defaultErrnoRet = defaultErrnoRet
            self.architectures = architectures
            self.flags = flags
            self.syscalls = syscalls
        }
    }

    /// Syscall is used to match a syscall in seccomp.
    public struct Syscall: Codable, Hashable, Sendable {
        /// names are the syscalls the rule matches.
        public var names: [String]
        /// action is the action taken when the rule matches.
        public var action: String
        /// errnoRet is the errno returned when the action is SCMP_ACT_ERRNO or SCMP_ACT_TRACE.
        public var errnoRet: UInt32?
        /// args are conditions on the syscall's arguments, all of which must hold.
        public var args: [SeccompArg]?

        public init(names: [String], action: String, errnoRet: UInt32? = nil, args: [SeccompArg]? = nil) {
            self.names = names
            self.action = action
            self.errnoRet = errnoRet
            self.args = args
        }
    }

    /// SeccompArg is used for matching a specific syscall argument in seccomp.
    public struct SeccompArg: Codable, Hashable, Sendable {
        /// index is the argument's position, from 0.
        public var index: UInt
        public var value: UInt64
        /// valueTwo is what the argument masked by `value` must equal, for SCMP_CMP_MASKED_EQ.
        public var valueTwo: UInt64?
        /// op is the comparison: SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT or _MASKED_EQ.
        public var op: String

        public init(index: UInt, value: UInt64, valueTwo: UInt64? = nil, op: String) {
            self.index = index
            self.value = value
            self.valueTwo = valueTwo
            self.op = op
        }
    }

    /// IDMapping specifies a user or group id mapping for user namespaces.
    public struct IDMapping: Codable, Hashable, Sendable {
        public var containerID: UInt32
        public var hostID: UInt32
        public var size: UInt32

        public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
            self.containerID = containerID
            self.hostID = hostID
            self.size = size
        }
    }

    /// Namespace is the configuration for a Linux namespace.
    public struct Namespace: Codable, Hashable, Sendable {
        /// type is the type of namespace: pid, network, mount, ipc, uts, user or cgroup.
        public var type: String
        /// path is a path to an existing namespace to join; absent means a new namespace.
        public var path: String?

        public init(type: String, path: String? = nil) {
            self.type = type
            self.path = path
        }
    }

    /// Device represents the mknod information for a Linux special device file.
    public struct Device: Codable, Hashable, Sendable {
        /// path is the device path inside the container.
        public var path: String
        /// type is the device type: c, b, u or p.
        public var type: String
        public var major: Int64
        public var minor: Int64
        /// fileMode is the file mode of the device node.
        public var fileMode: UInt32?
        public var uid: UInt32?
        public var gid: UInt32?

        public init(path: String, type: String, major: Int64, minor: Int64, fileMode: UInt32?, uid: UInt32?, gid: UInt32?) {
            self.path = path
            self.type = type
            self.major = major
            self.minor = minor
            self.fileMode = fileMode
            self.uid = uid
            self.gid = gid
        }
    }

    /// Resources has container runtime resource constraints (cgroups).
    public struct Resources: Codable, Hashable, Sendable {
        /// devices configures the device allowlist.
        public var devices: [DeviceCgroup]?
        /// memory restriction configuration.
        public var memory: Memory?
        /// cpu resource restriction configuration.
        public var cpu: CPU?
        /// pids restricts the number of tasks in the cgroup.
        public var pids: Pids?

        public init(devices: [DeviceCgroup]? = nil, memory: Memory? = nil, cpu: CPU? = nil, pids: Pids? = nil) {
            self.devices = devices
            self.memory = memory
            self.cpu = cpu
            self.pids = pids
        }
    }

    /// DeviceCgroup represents a device rule for the devices controller.
    public struct DeviceCgroup: Codable, Hashable, Sendable {
        public var allow: Bool
        /// type is the device type: a (all), c (char) or b (block).
        public var type: String?
        public var major: Int64?
        public var minor: Int64?
        /// access is the cgroup access permissions: r, w and m.
        public var access: String?

        public init(allow: Bool, type: String? = nil, major: Int64? = nil, minor: Int64? = nil, access: String? = nil) {
            self.allow = allow
            self.type = type
            self.major = major
            self.minor = minor
            self.access = access
        }
    }

    /// Memory for Linux cgroup 'memory' resource management.
    public struct Memory: Codable, Hashable, Sendable {
        /// limit is the memory limit in bytes.
        public var limit: Int64?
        /// reservation is the memory soft limit in bytes.
        public var reservation: Int64?
        /// swap is the total memory limit (memory + swap) in bytes.
        public var swap: Int64?
        public var kernel: Int64?
        public var swappiness: UInt64?
        public var disableOOMKiller: Bool?

        public init(limit: Int64? = nil, reservation: Int64? = nil, swap: Int64? = nil) {
            self.limit = limit
            self.reservation = reservation
            self.swap = swap
        }
    }

    /// CPU for Linux cgroup 'cpu' resource management.
    public struct CPU: Codable, Hashable, Sendable {
        /// shares is the CPU shares (relative weight vs. other cgroups with cpu shares).
        public var shares: UInt64?
        /// quota is the CPU hardcap limit in microseconds per period.
        public var quota: Int64?
        /// period is the CPU period used for the hardcap, in microseconds.
        public var period: UInt64?
        public var realtimeRuntime: Int64?
        public var realtimePeriod: UInt64?
        /// cpus is the set of CPUs to use within the cpuset.
        public var cpus: String?
        /// mems is the set of memory nodes to use within the cpuset.
        public var mems: String?

        public init(shares: UInt64? = nil, quota: Int64? = nil, period: UInt64? = nil, cpus: String? = nil) {
            self.shares = shares
            self.quota = quota
            self.period = period
            self.cpus = cpus
        }
    }

    /// Pids for Linux cgroup 'pids' resource management.
    public struct Pids: Codable, Hashable, Sendable {
        /// limit is the maximum number of PIDs; 0 or -1 means no limit.
        public var limit: Int64

        public init(limit: Int64) { self.limit = limit }
    }
}
