import BerthEngine
import BerthTemplate
import Foundation
import Testing

@Suite struct SystemDocumentTests {
    @Test func versionDocumentHasDockerdsFieldsInOrder() {
        let document = Engine.versionDocument(apiVersion: "1.50", minimumAPIVersion: "1.24")
        guard case .object(let members) = document else {
            Issue.record("not an object: \(document.compact)")
            return
        }
        #expect(members.map(\.0) == ["Platform", "Components", "Version", "ApiVersion", "MinAPIVersion", "GitCommit",
                                     "GoVersion", "Os", "Arch", "KernelVersion", "BuildTime"])
        guard case .array(let components)? = document["Components"], let engine = components.first else {
            Issue.record("no components: \(document.compact)")
            return
        }
        #expect(engine["Name"] == .string("Engine"))
        #expect(engine["Details"]?["ApiVersion"] == .string("1.50"))
        #expect(engine["Details"]?["MinAPIVersion"] == .string("1.24"))
        #expect(document["ApiVersion"] == .string("1.50"))
    }

    @Test func pullPolicyTakesDockersThreeValues() throws {
        #expect(try PullPolicy(parsing: "always") == .always)
        #expect(try PullPolicy(parsing: "missing") == .missing)
        #expect(try PullPolicy(parsing: "never") == .never)
        #expect(throws: EngineError.self) { try PullPolicy(parsing: "sometimes") }
        do {
            _ = try PullPolicy(parsing: "Always")
            Issue.record("accepted a value Docker refuses")
        } catch let error as EngineError {
            #expect(error.message == #"invalid pull option: 'Always': must be one of "always", "missing" or "never""#)
            #expect(error.kind == .invalidParameter)
        }
    }

    @Test func commitOptionsPauseByDefaultAsDockerDoes() {
        #expect(CommitOptions().pause)
        #expect(CommitOptions(reference: "x:v1", changes: ["CMD true"]).changes == ["CMD true"])
    }

    @Test func dockerTimeReadsUnixSecondsBeforeDates() {
        #expect(DockerTime.parse("1700000000") == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(DockerTime.parse("1700000000.5") == Date(timeIntervalSince1970: 1_700_000_000.5))
        #expect(DockerTime.parse("2023-11-14T22:13:20Z") == Date(timeIntervalSince1970: 1_700_000_000))
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(DockerTime.parse("10m", now: now) == Date(timeIntervalSince1970: 1_700_000_000 - 600))
    }
}
