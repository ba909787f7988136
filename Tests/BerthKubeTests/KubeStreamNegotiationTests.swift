@testable import BerthKube
import BerthKubeAPI
import Testing

@Suite struct KubeStreamNegotiationTests {
    private let forward = KubePodStreamPath(path: "/api/v1/namespaces/default/pods/web/portforward")
    private let exec = KubePodStreamPath(path: "/api/v1/namespaces/default/pods/web/exec")

    /// kubectl's SPDY offers: port-forward names one protocol; exec offers v5 down to v2 and gets v4.
    @Test func spdyProtocolsFollowTheClientsOrder() throws {
        let forward = try #require(forward), exec = try #require(exec)
        #expect(KubeSPDYUpgrader.negotiate(forward, offered: ["portforward.k8s.io"]) == "portforward.k8s.io")
        #expect(KubeSPDYUpgrader.negotiate(exec, offered: ["v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io"]) == "v4.channel.k8s.io")
        #expect(KubeSPDYUpgrader.negotiate(exec, offered: ["portforward.k8s.io"]) == nil)
        #expect(KubeSPDYUpgrader.negotiate(forward, offered: []) == nil)
    }

    /// kubectl 1.32 tunnels SPDY; the Python client asks for channels with `?ports=`.
    @Test func webSocketPortForwardModes() {
        let tunnel = KubePortForwardWebSocket.negotiate(offered: "SPDY/3.1+portforward.k8s.io", query: [:])
        #expect(tunnel?.0 == "SPDY/3.1+portforward.k8s.io")
        #expect(tunnel?.1 == .spdyTunnel)
        let channels = KubePortForwardWebSocket.negotiate(offered: "v5.channel.k8s.io,v4.channel.k8s.io", query: ["ports": ["8080,9090"]])
        #expect(channels?.0 == "v4.channel.k8s.io")
        #expect(channels?.1 == .channels(ports: [8080, 9090]))
        #expect(KubePortForwardWebSocket.negotiate(offered: "v4.channel.k8s.io", query: [:]) == nil)
        #expect(KubePortForwardWebSocket.negotiate(offered: "v4.channel.k8s.io", query: ["ports": ["0"]]) == nil)
        #expect(KubePortForwardWebSocket.negotiate(offered: "base64.channel.k8s.io", query: ["ports": ["80"]]) == nil)
    }

    /// The resize stream carries JSON sizes back to back, split anywhere.
    @Test func resizeStreamSizes() {
        var bytes = Array(#"{"Width":80,"Height":24}{"Width":120,"#.utf8)
        #expect(KubeRemoteCommandSPDY.sizes(in: &bytes) == [KubeTerminalSize(width: 80, height: 24)])
        bytes += Array(#""Height":40}"#.utf8)
        #expect(KubeRemoteCommandSPDY.sizes(in: &bytes) == [KubeTerminalSize(width: 120, height: 40)])
        #expect(bytes.isEmpty)
    }

    @Test func streamsExpectedPerRequest() {
        let session = KubePodStreamSession(tty: false, resize: { _ in }, cancel: {}) { _, _, _ in .success }
        var request = KubePodStreamRequest(namespace: "default", pod: "web", command: ["true"], stdin: true)
        #expect(KubeRemoteCommandSPDY(session: session, request: request).expectedStreams == ["error", "stdin", "stdout", "stderr"])
        request.tty = true
        #expect(KubeRemoteCommandSPDY(session: session, request: request).expectedStreams == ["error", "stdin", "stdout", "resize"])
    }
}
