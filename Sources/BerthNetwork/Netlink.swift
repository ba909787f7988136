import CBerth
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A NETLINK_ROUTE socket that sends rtnetlink requests one at a time and checks each one's
/// acknowledgement (the kernel's errno and, with extended ACK, its message). The socket works in
/// the network namespace it was created in, whichever namespace the thread using it is in later.
final class NetlinkSocket {
    // linux/netlink.h, linux/rtnetlink.h
    static let newLink: UInt16 = 16        // RTM_NEWLINK
    static let deleteLink: UInt16 = 17     // RTM_DELLINK
    static let setLink: UInt16 = 19        // RTM_SETLINK
    static let newAddress: UInt16 = 20     // RTM_NEWADDR
    static let newRoute: UInt16 = 24       // RTM_NEWROUTE
    static let request: UInt16 = 0x01      // NLM_F_REQUEST
    static let acknowledge: UInt16 = 0x04  // NLM_F_ACK
    static let exclusive: UInt16 = 0x200   // NLM_F_EXCL
    static let create: UInt16 = 0x400      // NLM_F_CREATE
    private static let errorMessage: UInt16 = 2         // NLMSG_ERROR
    private static let capped: UInt16 = 0x100           // NLM_F_CAPPED
    private static let acknowledgementTLVs: UInt16 = 0x200  // NLM_F_ACK_TLVS
    private static let errorAttributeMessage: UInt16 = 1    // NLMSGERR_ATTR_MSG
    private static let solNetlink: Int32 = 270           // SOL_NETLINK
    private static let capAcknowledgement: Int32 = 10    // NETLINK_CAP_ACK
    private static let extendedAcknowledgement: Int32 = 11  // NETLINK_EXT_ACK

    /// The failure of one request: the kernel's errno and its extended-ACK text, if any.
    struct Failure: Error {
        var code: Int32
        var message: String

        var description: String {
            let reason = String(cString: strerror(code))
            return message.isEmpty ? reason : "\(reason) (\(message))"
        }
    }

    private let descriptor: Int32
    private var sequence: UInt32 = 0

    init() throws {
        descriptor = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0 /* NETLINK_ROUTE */)
        guard descriptor >= 0 else {
            throw NetworkError.netlinkFailed(operation: "open a netlink socket", reason: String(cString: strerror(errno)))
        }
        // Only the failing request's header comes back with an error, followed by the kernel's text.
        var one: Int32 = 1
        setsockopt(descriptor, Self.solNetlink, Self.capAcknowledgement, &one, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(descriptor, Self.solNetlink, Self.extendedAcknowledgement, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(descriptor) }

    /// Sends one request and waits for its acknowledgement; throws `Failure` when the kernel refuses it.
    func perform(_ message: NetlinkMessage) throws {
        sequence &+= 1
        let bytes = message.finished(sequence: sequence)
        let sent = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
        guard sent == bytes.count else { throw Failure(code: sent < 0 ? errno : EIO, message: "short send") }
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(code: errno, message: "receiving the acknowledgement")
            }
            var offset = 0
            while offset + 16 <= count {
                let length = Int(buffer.loadInteger(UInt32.self, at: offset))
                let type = buffer.loadInteger(UInt16.self, at: offset + 4)
                let flags = buffer.loadInteger(UInt16.self, at: offset + 6)
                let replySequence = buffer.loadInteger(UInt32.self, at: offset + 8)
                guard length >= 16, offset + length <= count else { break }
                if type == Self.errorMessage, replySequence == sequence {
                    let code = -Int32(bitPattern: buffer.loadInteger(UInt32.self, at: offset + 16))
                    if code == 0 { return }
                    var text = ""
                    if flags & Self.acknowledgementTLVs != 0 {
                        // struct nlmsgerr: the error, the request's header, then (not capped) its payload.
                        let echoed = flags & Self.capped != 0
                            ? 16 : Int(buffer.loadInteger(UInt32.self, at: offset + 20))
                        var attribute = offset + 20 + NetlinkMessage.align(echoed)
                        while attribute + 4 <= offset + length {
                            let attributeLength = Int(buffer.loadInteger(UInt16.self, at: attribute))
                            guard attributeLength >= 4 else { break }
                            if buffer.loadInteger(UInt16.self, at: attribute + 2) == Self.errorAttributeMessage {
                                text = String(decoding: buffer[(attribute + 4)..<(attribute + attributeLength)]
                                    .prefix { $0 != 0 }, as: UTF8.self)
                            }
                            attribute += NetlinkMessage.align(attributeLength)
                        }
                    }
                    throw Failure(code: code, message: text)
                }
                offset += NetlinkMessage.align(length)
            }
        }
    }
}

/// One rtnetlink request: the header, the family's fixed message, then attributes (possibly nested).
struct NetlinkMessage {
    // linux/if_link.h, linux/veth.h, linux/if_addr.h, linux/rtnetlink.h
    static let linkAddress: UInt16 = 1     // IFLA_ADDRESS
    static let linkName: UInt16 = 3        // IFLA_IFNAME
    static let linkMaster: UInt16 = 10     // IFLA_MASTER
    static let linkProtocolInfo: UInt16 = 12  // IFLA_PROTINFO
    static let bridgePortMode: UInt16 = 4  // IFLA_BRPORT_MODE (hairpin)
    static let linkInfo: UInt16 = 18       // IFLA_LINKINFO
    static let linkNamespaceFD: UInt16 = 28  // IFLA_NET_NS_FD
    static let infoKind: UInt16 = 1        // IFLA_INFO_KIND
    static let infoData: UInt16 = 2        // IFLA_INFO_DATA
    static let vethPeer: UInt16 = 1        // VETH_INFO_PEER
    static let addressAddress: UInt16 = 1  // IFA_ADDRESS
    static let addressLocal: UInt16 = 2    // IFA_LOCAL
    static let addressBroadcast: UInt16 = 4  // IFA_BROADCAST
    static let routeOutputInterface: UInt16 = 4  // RTA_OIF
    static let routeGateway: UInt16 = 5    // RTA_GATEWAY

    private var bytes: [UInt8]

    init(type: UInt16, flags: UInt16) {
        bytes = [UInt8](repeating: 0, count: 16)
        bytes.storeInteger(type, at: 4)
        bytes.storeInteger(NetlinkSocket.request | NetlinkSocket.acknowledge | flags, at: 6)
    }

    static func align(_ length: Int) -> Int { (length + 3) & ~3 }

    /// struct ifinfomsg: family, pad, type, index, flags, change (16 bytes).
    mutating func appendLinkHeader(family: Int32 = AF_UNSPEC, index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) {
        bytes += [UInt8(family), 0, 0, 0]
        appendInteger(UInt32(bitPattern: index))
        appendInteger(flags)
        appendInteger(change)
    }

    /// struct ifaddrmsg: family, prefix length, flags, scope, index (8 bytes).
    mutating func appendAddressHeader(prefixLength: Int, index: Int32) {
        bytes += [UInt8(AF_INET), UInt8(prefixLength), 0, 0 /* RT_SCOPE_UNIVERSE */]
        appendInteger(UInt32(bitPattern: index))
    }

    /// struct rtmsg for a unicast IPv4 route in the main table (12 bytes).
    mutating func appendRouteHeader(destinationLength: Int) {
        // family, dst_len, src_len, tos, table RT_TABLE_MAIN, protocol RTPROT_BOOT,
        // scope RT_SCOPE_UNIVERSE, type RTN_UNICAST; flags.
        bytes += [UInt8(AF_INET), UInt8(destinationLength), 0, 0, 254, 3, 0, 1]
        appendInteger(UInt32(0))
    }

    mutating func attribute(_ type: UInt16, _ payload: [UInt8]) {
        appendInteger(UInt16(4 + payload.count))
        appendInteger(type)
        bytes += payload
        pad()
    }

    /// A NUL-terminated string attribute (interface names, link kinds).
    mutating func attribute(_ type: UInt16, string: String) { attribute(type, Array(string.utf8) + [0]) }

    mutating func attribute(_ type: UInt16, integer: UInt32) {
        withUnsafeBytes(of: integer.littleEndian) { attribute(type, Array($0)) }
    }

    /// An IPv4 address attribute, in network byte order.
    mutating func attribute(_ type: UInt16, address: UInt32) {
        withUnsafeBytes(of: address.bigEndian) { attribute(type, Array($0)) }
    }

    /// A nested attribute whose payload `body` appends. NLA_F_NESTED is set only where the kernel
    /// tells nested from flat by it (a bridge port's IFLA_PROTINFO); iproute2 sends the others without.
    mutating func nest(_ type: UInt16, flagged: Bool = false, _ body: (inout NetlinkMessage) -> Void) {
        let start = bytes.count
        appendInteger(UInt16(0))
        appendInteger(flagged ? type | 0x8000 /* NLA_F_NESTED */ : type)
        body(&self)
        bytes.storeInteger(UInt16(bytes.count - start), at: start)
    }

    fileprivate func finished(sequence: UInt32) -> [UInt8] {
        var message = bytes
        message.storeInteger(UInt32(message.count), at: 0)
        message.storeInteger(sequence, at: 8)
        return message
    }

    private mutating func appendInteger<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    private mutating func pad() {
        bytes += [UInt8](repeating: 0, count: Self.align(bytes.count) - bytes.count)
    }
}

private extension Array where Element == UInt8 {
    func loadInteger<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    mutating func storeInteger<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self) }
    }
}

/// Runs work inside a network namespace on a thread of its own, which enters the namespace with
/// setns(CLONE_NEWNET), returns to the process's namespace afterwards, and ends: the caller's
/// thread never changes namespace, and sockets opened by the work stay bound to the container's.
/// setns applies to the calling thread only, so the work cannot run on a shared (pool) thread: the
/// synchronous caller waits on a semaphore for the thread made for it.
enum NetworkNamespace {
    static func perform<T: Sendable>(in namespace: Int32, path: String, _ work: @escaping @Sendable () throws -> T) throws -> T {
        let result = ResultBox<T>()
        let thread = Thread {
            let outcome = Result {
                let original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
                guard original >= 0 else {
                    throw NetworkError.io(path: "/proc/thread-self/ns/net", reason: String(cString: strerror(errno)))
                }
                defer { close(original) }
                guard berth_enter_network_namespace(namespace) == 0 else {
                    throw NetworkError.netlinkFailed(operation: "enter network namespace \(path)",
                                                     reason: String(cString: strerror(errno)))
                }
                defer { _ = berth_enter_network_namespace(original) }
                return try work()
            }
            result.value.withLock { $0 = outcome }
            result.finished.signal()
        }
        thread.start()
        result.finished.wait()
        return try result.value.withLock { $0 }!.get()
    }

    private final class ResultBox<T: Sendable>: Sendable {
        let value = Mutex<Result<T, any Error>?>(nil)
        let finished = DispatchSemaphore(value: 0)
    }
}
