import BerthKubeAPI
@testable import BerthKubelet
import Foundation
import Testing

@Suite struct ContainerEnvironmentTests {
    static let pod = """
        {"metadata":{"name":"web","namespace":"default","uid":"u-1","labels":{"app":"web"},"annotations":{"note":"a \\"b\\""}},
         "spec":{"nodeName":"node1","serviceAccountName":"default","containers":[]},
         "status":{"hostIP":"10.0.2.15","podIP":"10.244.0.7","podIPs":[{"ip":"10.244.0.7"}]}}
        """

    func environment(_ containerJSON: String, store scratch: ScratchStore) throws -> ContainerEnvironment {
        let pod = try decoded(Self.pod, as: Pod.self)
        let container = try decoded(containerJSON, as: Container.self)
        return try ContainerEnvironment(container: container, pod: pod, objects: PodObjectSource(store: scratch.store, namespace: "default"),
                                        downwardAPI: DownwardAPI(pod: pod))
    }

    func withObjects(_ body: (ScratchStore) throws -> Void) throws {
        let scratch = try ScratchStore()
        defer { scratch.cleanUp() }
        try scratch.create(KubeResourceRegistry.configMaps, "default",
                           #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"MODE":"prod","b.key":"2","1bad":"x","LEVEL":"$(MODE)"}}"#)
        try scratch.create(KubeResourceRegistry.secrets, "default",
                           #"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"creds"},"type":"Opaque","data":{"password":"czNjcjN0"}}"#)
        try body(scratch)
    }

    @Test func valuesExpandEarlierVariables() throws {
        try withObjects { scratch in
            let env = try environment(#"""
                {"name":"c","env":[{"name":"A","value":"one"},{"name":"B","value":"$(A)-$(Z)-$$(A)"},{"name":"E"},{"name":"A","value":"two"}]}
                """#, store: scratch)
            #expect(env.entries == ["A=two", "B=one-$(Z)-$(A)", "E="])
        }
    }

    @Test func keyReferencesReadConfigMapsAndSecrets() throws {
        try withObjects { scratch in
            let env = try environment(#"""
                {"name":"c","env":[
                 {"name":"MODE","valueFrom":{"configMapKeyRef":{"name":"cfg","key":"MODE"}}},
                 {"name":"PASSWORD","valueFrom":{"secretKeyRef":{"name":"creds","key":"password"}}},
                 {"name":"GONE","valueFrom":{"configMapKeyRef":{"name":"nope","key":"x","optional":true}}},
                 {"name":"NOKEY","valueFrom":{"secretKeyRef":{"name":"creds","key":"x","optional":true}}}]}
                """#, store: scratch)
            #expect(env.entries == ["MODE=prod", "PASSWORD=s3cr3t"])
        }
    }

    @Test func missingReferencesAreConfigErrorsWithTheKubeletsMessages() throws {
        try withObjects { scratch in
            let cases: [(String, String)] = [
                (#"{"configMapKeyRef":{"name":"nope","key":"x"}}"#, #"configmap "nope" not found"#),
                (#"{"configMapKeyRef":{"name":"cfg","key":"x"}}"#, "couldn't find key x in ConfigMap default/cfg"),
                (#"{"secretKeyRef":{"name":"nope","key":"x"}}"#, #"secret "nope" not found"#),
                (#"{"secretKeyRef":{"name":"creds","key":"x"}}"#, "couldn't find key x in Secret default/creds"),
            ]
            for (source, message) in cases {
                #expect(throws: PodSpecError(.createContainerConfigError, message)) {
                    try environment(#"{"name":"c","env":[{"name":"V","valueFrom":\#(source)}]}"#, store: scratch)
                }
            }
            #expect(throws: PodSpecError(.createContainerConfigError, #"configmap "nope" not found"#)) {
                try environment(#"{"name":"c","envFrom":[{"configMapRef":{"name":"nope"}}]}"#, store: scratch)
            }
        }
    }

    @Test func envFromComesFirstWithPrefixAndSkipsInvalidNames() throws {
        try withObjects { scratch in
            let env = try environment(#"""
                {"name":"c","envFrom":[{"configMapRef":{"name":"cfg"}},{"prefix":"S_","secretRef":{"name":"creds"}},
                                       {"configMapRef":{"name":"nope","optional":true}}],
                 "env":[{"name":"MODE","value":"dev"},{"name":"X","value":"$(LEVEL)"}]}
                """#, store: scratch)
            #expect(env.entries == ["LEVEL=$(MODE)", "MODE=dev", "b.key=2", "S_password=s3cr3t", "X=$(MODE)"])
            #expect(env.warnings == ["Keys [1bad] from the EnvFrom configMap default/cfg were skipped since they are considered invalid environment variable names."])
        }
    }

    @Test func fieldReferences() throws {
        try withObjects { scratch in
            let paths = ["metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels['app']", "metadata.annotations['note']",
                         "metadata.labels['none']", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.podIP", "status.podIPs"]
            let variables = paths.enumerated().map { #"{"name":"V\#($0.offset)","valueFrom":{"fieldRef":{"fieldPath":"\#($0.element)"}}}"# }
            let env = try environment(#"{"name":"c","env":[\#(variables.joined(separator: ","))]}"#, store: scratch)
            #expect(env.entries == ["V0=web", "V1=default", "V2=u-1", "V3=web", "V4=a \"b\"", "V5=", "V6=node1", "V7=default",
                                    "V8=10.0.2.15", "V9=10.244.0.7", "V10=10.244.0.7"])
        }
    }

    @Test func resourceReferencesRoundUpInDivisors() throws {
        try withObjects { scratch in
            let env = try environment(#"""
                {"name":"c","resources":{"limits":{"cpu":"1500m","memory":"128Mi"},"requests":{"cpu":"250m"}},
                 "env":[{"name":"CPU","valueFrom":{"resourceFieldRef":{"resource":"limits.cpu"}}},
                        {"name":"MCPU","valueFrom":{"resourceFieldRef":{"resource":"requests.cpu","divisor":"1m"}}},
                        {"name":"MEM","valueFrom":{"resourceFieldRef":{"resource":"limits.memory","divisor":"1Mi"}}},
                        {"name":"MEMREQ","valueFrom":{"resourceFieldRef":{"resource":"requests.memory"}}}]}
                """#, store: scratch)
            #expect(env.entries == ["CPU=2", "MCPU=250", "MEM=128", "MEMREQ=134217728"])
            let unlimited = try environment(#"""
                {"name":"c","env":[{"name":"CPU","valueFrom":{"resourceFieldRef":{"resource":"limits.cpu"}}}]}
                """#, store: scratch)
            #expect(unlimited.entries == ["CPU=\(ProcessInfo.processInfo.activeProcessorCount)"])
        }
    }

    @Test func downwardAPIFormatsMapsAsTheKubeletDoes() {
        #expect(DownwardAPI.formatMap(["b": "2", "a": "x\"y\n"]) == "a=\"x\\\"y\\n\"\nb=\"2\"")
    }
}
