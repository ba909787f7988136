import BerthEngine
import BerthRuntime
import BerthStore
import Testing

@Suite struct EngineErrorTests {
    @Test func lowerModulesErrorsHaveDockerdsKinds() {
        #expect(EngineError.kind(of: RuntimeError.noSuchContainer("x")) == .notFound)
        #expect(EngineError.kind(of: RuntimeError.nameInUse(name: "a", id: "b")) == .conflict)
        #expect(EngineError.kind(of: StoreError.noSuchImage("x")) == .notFound)
        #expect(EngineError.kind(of: RuntimeError.invalidOption("bad")) == .invalidParameter)
        #expect(ErrorKind.notFound.httpStatus == 404)
        #expect(ErrorKind.conflict.httpStatus == 409)
    }
}
