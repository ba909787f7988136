/// The layout of Berth's state root (`--root`, env `BERTH_ROOT`, default `/var/lib/berth`): every
/// path Berth keeps under it, named in this one place. The CLI and `berth serve` may work on one
/// root at the same time; what coordinates them (locks, the database) is here too.
///
/// ```
/// <root>/
///   blobs/<algorithm>/<hex>          content, synced before it is renamed there, read-only after
///   ingest/                          writes in progress (`sha256-<hex>` when the digest is known, locked)
///   snapshots/<chain-id hex>/fs      unpacked layers, overlay lowerdirs
///   metadata.db (-wal, -reserve)     images, tags, layers, snapshots, leases (SQLite, WAL)
///   metadata.lock                    held while the database is opened and migrated
///   store.lock                       shared by writers of content, exclusive for collections
///   containers/<id>/                 one container: see `ContainerDirectory`
///   containers/.names.lock           held while a name is checked and taken
///   containers/.leased               marks that containers older than leases hold their images
///   volumes/<name>/                  `volume.json` and `_data`
///   network/                         attachment records (`<container>@<network>.json`), `lock`
///   network/networks/                user-defined network definitions
///   network/dns/<network>/           a network's dnsmasq: hosts, pid file, log
///   runc/, crun/                     each OCI runtime's own state (`--root` of runc)
///   buildcache/keys/                 step cache entries by key
///   buildcache/snapshots/            the builder's unpacked layers
///   buildcache/mounts/               `RUN --mount=type=cache` directories
///   buildcache/steps/                records of RUN steps in progress (what to release if killed)
///   buildcache/runc/                 runc's state for RUN steps
///   buildcache/tmp/                  RUN steps' working directories
///   tmp/<purpose>-<pid>-<uuid>/      one request's scratch files (an uploaded build context or archive)
///   events.jsonl                     the event log every process appends to
///   events.jsonl.1                   the log's previous generation
///   events.lock                      shared by writers of events, exclusive to start a generation
///   engine-id                        the ID `info` reports
///   kube/kube.db                     the Kubernetes API's objects and their version log (SQLite, WAL)
///   kube/network.json                the cluster's address plan (KubeClusterNetwork) it had last
///   kube/api-port                    the port `berth serve` last served the Kubernetes API on
///   kube/pki/                        the Kubernetes API's CA, server and admin certificates and keys
///   kube/pods/<uid>/volumes/         a pod's volumes (`kubernetes.io~<plugin>/<name>`), removed with the pod
///   kube/volumes/pvc-<uid>/          a provisioned PersistentVolume's data, kept until its claim goes
///   kube/ingress/                    nginx's configuration, pid file, log and TLS files while Ingresses are served
/// ```
public struct StateRoot: Sendable, Hashable {
    /// The root directory itself.
    public let path: String

    public init(_ path: String) {
        self.path = path
    }

    private func child(_ name: String) -> String { path + "/" + name }

    // MARK: Content and metadata (BerthStore)

    /// The content store's blobs, `blobs/<algorithm>/<hex>`.
    public var blobs: String { child("blobs") }

    /// The directory of the blobs whose digests use `algorithm`.
    public func blobs(algorithm: String) -> String { blobs + "/" + algorithm }

    /// The blob with `encoded` as its digest's hex under `algorithm`.
    public func blob(algorithm: String, encoded: String) -> String { blobs(algorithm: algorithm) + "/" + encoded }

    /// Where content is written before it is verified and renamed into `blobs`.
    public var ingest: String { child("ingest") }

    /// Unpacked layers, one directory per chain ID.
    public var snapshots: String { child("snapshots") }

    /// The directory of the snapshot whose chain ID has `encoded` as its hex.
    public func snapshot(_ encoded: String) -> String { snapshots + "/" + encoded }

    /// The file system of a snapshot, as overlay takes it for a lowerdir.
    public func snapshotFilesystem(_ encoded: String) -> String { snapshot(encoded) + "/fs" }

    /// The metadata database (its `-wal` and `-reserve` files lie beside it).
    public var metadataDatabase: String { child("metadata.db") }

    /// The Kubernetes API's object store.
    public var kubeDatabase: String { child("kube/kube.db") }

    /// The directory of the Kubernetes API's state (the address plan's record is in it).
    public var kube: String { child("kube") }

    /// The port `berth serve` last served the Kubernetes API on (for `berth kube config`).
    public var kubeAPIPort: String { child("kube/api-port") }

    /// The Kubernetes API's certificates and keys (0700).
    public var kubePKI: String { child("kube/pki") }

    /// The node's per-pod directories, `kube/pods/<uid>`.
    public var kubePods: String { child("kube/pods") }

    /// The volumes of the pod with `uid` (emptyDirs, the files of configMap and secret volumes).
    public func kubePodVolumes(uid: String) -> String { kubePods + "/\(uid)/volumes" }

    /// The Ingress proxy's directory (nginx.conf, nginx.pid, certs/), gone when no Ingress is served.
    public var kubeIngress: String { child("kube/ingress") }

    /// Where the node's provisioner keeps PersistentVolumes' data.
    public var kubeVolumes: String { child("kube/volumes") }

    /// Held exclusively while the database is opened and migrated.
    public var metadataLock: String { child("metadata.lock") }

    /// Shared by whatever writes content, exclusive for garbage collection.
    public var storeLock: String { child("store.lock") }

    // MARK: Containers and volumes (BerthRuntime)

    /// One directory per container.
    public var containers: String { child("containers") }

    /// The directory of container `id`.
    public func container(_ id: String) -> ContainerDirectory { ContainerDirectory(path: containers + "/" + id, id: id) }

    /// Held while a container name is checked and taken.
    public var containerNamesLock: String { containers + "/.names.lock" }

    /// Present once the containers made before leases existed have been given theirs.
    public var containersLeasedMarker: String { containers + "/.leased" }

    /// One directory per named or anonymous volume.
    public var volumes: String { child("volumes") }

    /// The directory of volume `name` (its record and `_data`).
    public func volume(_ name: String) -> String { volumes + "/" + name }

    /// The state directory of the OCI runtime called `name` (`runc`, `crun`), so runtimes never
    /// read each other's state.
    public func ociRuntimeState(_ name: String) -> String { child(name) }

    // MARK: Networks (BerthNetwork)

    /// Attachment records and the network state's lock.
    public var network: String { child("network") }

    /// Held while network state changes.
    public var networkLock: String { network + "/lock" }

    /// The definitions of user-defined networks.
    public var networkDefinitions: String { network + "/networks" }

    /// The DNS server's files of the network whose CNI name is `name`.
    public func networkDNS(_ name: String) -> String { network + "/dns/" + name }

    // MARK: Builds (BerthBuild)

    /// Everything the builder keeps.
    public var buildCache: String { child("buildcache") }

    /// Step cache entries, one file per cache key.
    public var buildCacheKeys: String { buildCache + "/keys" }

    /// The builder's unpacked layers, one directory per chain ID.
    public var buildSnapshots: String { buildCache + "/snapshots" }

    /// `RUN --mount=type=cache` directories.
    public var buildMounts: String { buildCache + "/mounts" }

    /// Records of RUN steps in progress, so that what a killed build held is released.
    public var buildStepRecords: String { buildCache + "/steps" }

    /// runc's state for RUN steps.
    public var buildRuntimeState: String { buildCache + "/runc" }

    /// RUN steps' working directories.
    public var buildTemporary: String { buildCache + "/tmp" }

    // MARK: Scratch

    /// Scratch directories of requests in progress (uploaded build contexts and image archives,
    /// archives being saved), each named with its process's pid so a killed one's are found.
    public var scratch: String { child("tmp") }

    // MARK: Events

    /// The event log every process, CLI or daemon, appends to (one JSON object per line).
    public var events: String { child("events.jsonl") }

    /// The event log's previous generation, renamed from `events` when that grew too long.
    public var previousEvents: String { events + ".1" }

    /// Held shared by writers of events, exclusively to start a new generation.
    public var eventsLock: String { child("events.lock") }

    // MARK: Identity

    /// The engine ID `info` reports, made on first use.
    public var engineID: String { child("engine-id") }
}

/// The layout of one container's directory, `<root>/containers/<id>/`.
public struct ContainerDirectory: Sendable, Hashable {
    /// The directory itself.
    public let path: String
    /// The container's full ID.
    public let id: String

    public init(path: String, id: String) {
        self.path = path
        self.id = id
    }

    /// The container's record, replaced atomically under `lock`.
    public var record: String { path + "/container.json" }
    /// Docker's json-file log.
    public var jsonLog: String { path + "/\(id)-json.log" }
    /// Held while the record changes.
    public var lock: String { path + "/lock" }
    /// Held by the container's monitor for as long as it runs.
    public var monitorLock: String { path + "/monitor.lock" }
    /// Held while the container starts, so two starts or a start and a copy do not meet.
    public var startLock: String { path + "/start.lock" }
    /// The monitor's own diagnostics.
    public var monitorLog: String { path + "/monitor.log" }
    /// The OCI bundle's configuration.
    public var bundleConfig: String { path + "/config.json" }
    /// The overlay mount point, the bundle's root.
    public var rootfs: String { path + "/rootfs" }
    /// The pid of the container's init, written by the runtime.
    public var initPid: String { path + "/init.pid" }
    /// The runtime's log.
    public var runtimeLog: String { path + "/runc.log" }
}
