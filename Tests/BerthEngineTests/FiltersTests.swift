import BerthEngine
import BerthTemplate
import Foundation
import Testing

@Suite struct FiltersTests {
    @Test func cliArgumentsSplitAtTheFirstEquals() throws {
        let filters = try Filters(cli: ["label=a=b", " Name = web ", "label=c"])
        #expect(filters.values("label") == ["a=b", "c"])
        #expect(filters.values("name") == ["web"])
        #expect(filters.contains("name"))
        #expect(!filters.contains("id"))
        #expect(!filters.isEmpty)
        #expect(try Filters(cli: []).isEmpty)
    }

    @Test func cliArgumentWithoutEqualsIsRefused() {
        #expect(throws: EngineError.invalidParameter("bad format of filter (expected name=value)")) {
            try Filters(cli: ["dangling"])
        }
    }

    @Test func jsonInBothEncodings() throws {
        let current = try Filters(json: #"{"label":{"a=b":true,"c":true},"dangling":{"true":true}}"#)
        let legacy = try Filters(json: #"{"label":["a=b","c"],"dangling":["true"]}"#)
        #expect(current == legacy)
        #expect(current.values("label") == ["a=b", "c"])
        #expect(try Filters(json: nil).isEmpty)
        #expect(try Filters(json: "").isEmpty)
        #expect(throws: EngineError.invalidParameter("invalid filter")) { try Filters(json: "[1]") }
        #expect(throws: EngineError.invalidParameter("invalid filter")) { try Filters(json: "{") }
    }

    @Test func jsonStringRoundTrips() throws {
        let filters = try Filters(cli: ["label=a", "name=x/y", "label=b"])
        #expect(filters.jsonString == #"{"label":{"a":true,"b":true},"name":{"x/y":true}}"#)
        #expect(try Filters(json: filters.jsonString) == filters)
        #expect(Filters().jsonString == "{}")
    }

    @Test func validateNamesTheUnknownKey() throws {
        let filters = try Filters(cli: ["name=a", "colour=red"])
        #expect(throws: EngineError.invalidParameter("invalid filter 'colour'")) { try filters.validate(["name"]) }
        try filters.validate(["name", "colour"])
    }

    @Test func matchesIsTrueForAnAbsentKey() throws {
        let filters = try Filters(cli: ["driver=bridge", "driver=local"])
        #expect(filters.matches("driver", "local"))
        #expect(!filters.matches("driver", "overlay"))
        #expect(filters.matches("name", "anything"))
    }

    @Test func labelsPresenceValueAndNegation() throws {
        let labels = ["env": "prod", "team": "a"]
        #expect(try Filters(cli: ["label=env"]).matchesLabels(labels))
        #expect(try Filters(cli: ["label=env=prod", "label=team"]).matchesLabels(labels))
        #expect(try !Filters(cli: ["label=env=dev"]).matchesLabels(labels))
        #expect(try !Filters(cli: ["label=env", "label=missing"]).matchesLabels(labels))
        #expect(try !Filters(cli: ["label!=env"]).matchesLabels(labels))
        #expect(try Filters(cli: ["label!=env=dev"]).matchesLabels(labels))
        #expect(try !Filters(cli: ["label!=env=prod"]).matchesLabels(labels))
        #expect(try Filters(cli: ["label=a=b=c"]).matchesLabels(["a": "b=c"]))
        #expect(Filters().matchesLabels([:]))
    }

    @Test func booleans() throws {
        #expect(try Filters(cli: ["dangling=true"]).bool("dangling") == true)
        #expect(try Filters(cli: ["dangling=0"]).bool("dangling") == false)
        #expect(try Filters().bool("dangling") == nil)
        #expect(throws: EngineError.invalidParameter("invalid filter 'dangling=[maybe]'")) {
            try Filters(cli: ["dangling=maybe"]).bool("dangling")
        }
        #expect(throws: EngineError.invalidParameter("invalid filter 'dangling=[false true]'")) {
            try Filters(cli: ["dangling=true", "dangling=false"]).bool("dangling")
        }
    }

    @Test func timesInDockersFormats() throws {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(try Filters(cli: ["until=10m"]).time("until", now: now) == now.addingTimeInterval(-600))
        #expect(try Filters(cli: ["until=1600000000.5"]).time("until", now: now) == Date(timeIntervalSince1970: 1_600_000_000.5))
        #expect(try Filters(cli: ["until=2020-09-13T12:26:40Z"]).time("until", now: now) == Date(timeIntervalSince1970: 1_600_000_000))
        #expect(try Filters(cli: ["until=2020-09-13"]).time("until", now: now) == Date(timeIntervalSince1970: 1_599_955_200))
        #expect(try Filters().time("until") == nil)
        #expect(throws: EngineError.invalidParameter(#"failed to parse value as time or duration: "soon""#)) {
            try Filters(cli: ["until=soon"]).time("until")
        }
        #expect(throws: EngineError.invalidParameter("more than one until filter specified")) {
            try Filters(cli: ["until=1", "until=2"]).time("until")
        }
    }
}

@Suite struct GoQuoteTests {
    @Test func escapesAsGoDoes() {
        #expect(goQuoted("sh -c \"echo hi\"") == #""sh -c \"echo hi\"""#)
        #expect(goQuoted("a\\b") == #""a\\b""#)
        #expect(goQuoted("l1\nl2\tx\r") == #""l1\nl2\tx\r""#)
        #expect(goQuoted("\u{07}\u{08}\u{0C}\u{0B}") == #""\a\b\f\v""#)
        #expect(goQuoted("\u{01}\u{7F}") == #""\x01\x7f""#)
        #expect(goQuoted("\u{A0}\u{200B}") == #""\u00a0\u200b""#)
        #expect(goQuoted("\u{E0001}") == #""\U000e0001""#)
        #expect(goQuoted("héllo, 世界 ✓") == "\"héllo, 世界 ✓\"")
        #expect(goQuoted("") == "\"\"")
    }
}
