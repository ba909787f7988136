import BerthKubeAPI
import BerthTemplate
import Foundation
import Testing

@testable import BerthKubeControllers

@Suite struct CronScheduleTests {
    static let utc = TimeZone(identifier: "UTC")!

    static func date(_ text: String) throws -> Date {
        try Date(text, strategy: .iso8601)
    }

    static func next(_ schedule: String, after text: String, zone: TimeZone = utc) throws -> Date? {
        try CronSchedule(parsing: schedule).next(after: date(text), in: zone)
    }

    @Test func stepsRangesAndListsFindTheNextMinute() throws {
        #expect(try Self.next("*/15 * * * *", after: "2026-03-04T10:07:30Z") == Self.date("2026-03-04T10:15:00Z"))
        #expect(try Self.next("*/15 * * * *", after: "2026-03-04T10:15:00Z") == Self.date("2026-03-04T10:30:00Z"))
        #expect(try Self.next("5/20 * * * *", after: "2026-03-04T10:46:00Z") == Self.date("2026-03-04T11:05:00Z"))
        #expect(try Self.next("0 9-17/4 * * *", after: "2026-03-04T13:00:00Z") == Self.date("2026-03-04T17:00:00Z"))
        #expect(try Self.next("30 1,13 * * *", after: "2026-12-31T13:30:00Z") == Self.date("2027-01-01T01:30:00Z"))
        #expect(try Self.next("* * * * *", after: "2026-03-04T23:59:59Z") == Self.date("2026-03-05T00:00:00Z"))
    }

    @Test func descriptorsAndNamesReadAsTheirFields() throws {
        #expect(try Self.next("@yearly", after: "2026-06-01T00:00:00Z") == Self.date("2027-01-01T00:00:00Z"))
        #expect(try Self.next("@annually", after: "2026-06-01T00:00:00Z") == Self.date("2027-01-01T00:00:00Z"))
        #expect(try Self.next("@monthly", after: "2026-01-31T12:00:00Z") == Self.date("2026-02-01T00:00:00Z"))
        // 2026-03-06 is a Friday.
        #expect(try Self.next("@weekly", after: "2026-03-06T12:00:00Z") == Self.date("2026-03-08T00:00:00Z"))
        #expect(try Self.next("@daily", after: "2026-03-06T12:00:00Z") == Self.date("2026-03-07T00:00:00Z"))
        #expect(try Self.next("@midnight", after: "2026-03-06T12:00:00Z") == Self.date("2026-03-07T00:00:00Z"))
        #expect(try Self.next("@hourly", after: "2026-03-06T12:00:00Z") == Self.date("2026-03-06T13:00:00Z"))
        #expect(try Self.next("0 9 * * mon-FRI", after: "2026-03-06T10:00:00Z") == Self.date("2026-03-09T09:00:00Z"))
        #expect(try Self.next("0 0 1 jul ?", after: "2026-03-06T10:00:00Z") == Self.date("2026-07-01T00:00:00Z"))
    }

    @Test func restrictedDayFieldsMatchEitherDay() throws {
        // Either the 13th or a Friday; 2026-03-06 is a Friday, then Friday the 13th.
        #expect(try Self.next("0 0 13 * 5", after: "2026-03-01T00:00:00Z") == Self.date("2026-03-06T00:00:00Z"))
        #expect(try Self.next("0 0 13 * 5", after: "2026-03-06T00:00:00Z") == Self.date("2026-03-13T00:00:00Z"))
        // A `*` in one day field makes the other the only test.
        #expect(try Self.next("0 0 13 * *", after: "2026-03-01T00:00:00Z") == Self.date("2026-03-13T00:00:00Z"))
        // A stepped `*` counts as restricted: the 1st, 3rd… or a Sunday.
        #expect(try Self.next("0 0 */2 * 0", after: "2026-03-01T00:00:00Z") == Self.date("2026-03-03T00:00:00Z"))
    }

    @Test func daysThatNeverComeHaveNoNextTime() throws {
        #expect(try Self.next("0 0 30 2 *", after: "2026-01-01T00:00:00Z") == nil)
        #expect(try Self.next("0 0 29 2 *", after: "2026-03-01T00:00:00Z") == Self.date("2028-02-29T00:00:00Z"))
        #expect(try Self.next("0 0 31 * *", after: "2026-04-01T00:00:00Z") == Self.date("2026-05-31T00:00:00Z"))
    }

    @Test func everyRunsAtAFixedInterval() throws {
        #expect(try Self.next("@every 1h30m", after: "2026-03-04T10:07:30.250Z") == Self.date("2026-03-04T11:37:30Z"))
        #expect(try Self.next("@every 90s", after: "2026-03-04T10:07:30Z") == Self.date("2026-03-04T10:09:00Z"))
        #expect(CronSchedule.duration("1.5h") == 5400 && CronSchedule.duration("500ms") == 0.5 && CronSchedule.duration("5") == nil)
    }

    @Test func timeZonesShiftTheSchedule() throws {
        let newYork = try #require(TimeZone(identifier: "America/New_York"))
        #expect(try Self.next("0 9 * * *", after: "2026-01-10T00:00:00Z", zone: newYork) == Self.date("2026-01-10T14:00:00Z"))
        #expect(try Self.next("0 9 * * *", after: "2026-07-10T00:00:00Z", zone: newYork) == Self.date("2026-07-10T13:00:00Z"))
    }

    @Test func malformedSchedulesSayWhy() {
        func problem(_ text: String) -> String? {
            do {
                _ = try CronSchedule(parsing: text)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(problem("* * * *") == "expected exactly 5 fields, found 4: [* * * *]")
        #expect(problem("60 * * * *") == "end of range (60) above maximum (59): 60")
        #expect(problem("* * 0 * *") == "beginning of range (0) below minimum (1): 0")
        #expect(problem("* * * * 7") == "end of range (7) above maximum (6): 7")
        #expect(problem("5-1 * * * *") == "beginning of range (5) beyond end of range (1): 5-1")
        #expect(problem("@fortnightly") == "unrecognized descriptor: @fortnightly")
        #expect(problem("@every 5 minutes") == "failed to parse duration @every 5 minutes")
        #expect(problem("x * * * *") == #"failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax"#)
        #expect(problem("TZ=UTC * * * * *") == "cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
        #expect(problem("*/0 * * * *") == "step of range should be a positive number: */0")
    }

    @Test func theMostRecentMissedTimeIsFound() throws {
        let schedule = try CronSchedule(parsing: "*/10 * * * *")
        let found = schedule.mostRecent(after: try Self.date("2026-03-04T10:00:00Z"), until: try Self.date("2026-03-04T10:35:00Z"), in: Self.utc)
        #expect(try found.time == Self.date("2026-03-04T10:30:00Z") && found.missed == 3)
        let many = try CronSchedule(parsing: "* * * * *").mostRecent(after: try Self.date("2026-03-01T00:00:00Z"),
                                                                   until: try Self.date("2026-03-04T10:35:30Z"), in: Self.utc)
        #expect(try many.time == Self.date("2026-03-04T10:35:00Z") && many.missed > 100)
        let none = schedule.mostRecent(after: try Self.date("2026-03-04T10:00:00Z"), until: try Self.date("2026-03-04T10:09:00Z"), in: Self.utc)
        #expect(none.time == nil && none.missed == 0)
    }
}

@Suite struct CronJobControllerTests {
    struct Setup {
        let harness: ControllerHarness
        let clock: TestClock
        let controller: CronJobController
        var store: KubeObjectStore { harness.store }

        func reconcile() async throws {
            _ = try await controller.reconcile(KubeObjectKey(namespace: "default", name: "tick"))
        }

        func jobs() throws -> [OrderedJSON] {
            try store.list(KubeResourceRegistry.jobs, namespace: "default").items
        }

        func cronJob() throws -> OrderedJSON {
            try store.get(KubeResourceRegistry.cronJobs, namespace: "default", name: "tick")
        }

        /// Marks the Job finished as the job controller would.
        func finish(_ name: String, _ type: String = "Complete") throws {
            let job = try store.get(KubeResourceRegistry.jobs, namespace: "default", name: name)
            let stamp = KubeTime.format(clock.now)
            var status = OrderedJSON.object([("conditions", .array([.object([("type", .string(type)), ("status", .string("True"))])])),
                                             ("startTime", .string(stamp))])
            if type == "Complete" { status = status.setting(["completionTime"], to: .string(stamp)) }
            _ = try store.replace(KubeResourceRegistry.jobs, namespace: "default", name: name, object: job.setting(["status"], to: status))
        }
    }

    /// A CronJob `tick` created now, with the clock at the start of the next hour.
    static func setup(_ spec: String) throws -> Setup {
        let harness = try ControllerHarness()
        let created = try harness.store.create(KubeResourceRegistry.cronJobs, namespace: "default", object: object("""
            {"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"tick"},"spec":{\(spec),
             "jobTemplate":{"metadata":{"labels":{"run":"tick"}},"spec":{"template":{"spec":{"restartPolicy":"Never",
             "containers":[{"name":"main","image":"busybox"}]}}}}}}
            """))
        let start = try #require(KubeTime.parse(created.string("metadata", "creationTimestamp")))
        let hour = (start.timeIntervalSince1970 / 3600).rounded(.down) * 3600 + 3600
        let clock = TestClock(Date(timeIntervalSince1970: hour))
        return Setup(harness: harness, clock: clock, controller: CronJobController(store: harness.store, host: "node", now: { clock.now }))
    }

    @Test func eachScheduledTimeStartsOneJobNamedByItsMinute() async throws {
        let setup = try Self.setup(#""schedule":"*/5 * * * *""#)
        setup.clock.advance(by: 90)
        try await setup.reconcile()
        let minutes = Int(setup.clock.now.timeIntervalSince1970 - 90) / 60
        let jobs = try setup.jobs()
        #expect(jobs.map { $0.string("metadata", "name") } == ["tick-\(minutes)"])
        let job = try #require(jobs.first)
        #expect(job.stringMap(at: ["metadata", "annotations"])?[CronJobController.scheduledTimestamp]
            == KubeTime.format(Date(timeIntervalSince1970: TimeInterval(minutes * 60))))
        #expect(job.stringMap(at: ["metadata", "labels"]) == ["run": "tick"])
        #expect(OwnerRefs.controllerUID(of: job) == (try setup.cronJob().string("metadata", "uid")))
        #expect(job.string("spec", "template", "spec", "restartPolicy") == "Never")
        let cronJob = try setup.cronJob()
        #expect(cronJob.string("status", "lastScheduleTime") == KubeTime.format(Date(timeIntervalSince1970: TimeInterval(minutes * 60))))
        #expect(cronJob.value(at: ["status", "active"]).map { if case .array(let a) = $0 { a.count } else { 0 } } == 1)
        #expect(try reasons(setup.store, about: "tick").contains("SuccessfulCreate"))
        // Again at the same time: nothing new.
        try await setup.reconcile()
        #expect(try setup.jobs().count == 1)
        // Allow: the next time starts another while the first runs.
        setup.clock.advance(by: 300)
        try await setup.reconcile()
        #expect(try setup.jobs().count == 2)
    }

    @Test func forbidSkipsWhileAJobRunsAndRunsTheMissedTimeAfter() async throws {
        let setup = try Self.setup(#""schedule":"*/5 * * * *","concurrencyPolicy":"Forbid""#)
        setup.clock.advance(by: 60)
        try await setup.reconcile()
        let first = try #require(try setup.jobs().first?.string("metadata", "name"))
        setup.clock.advance(by: 300)
        try await setup.reconcile()
        #expect(try setup.jobs().count == 1)
        #expect(try reasons(setup.store, about: "tick").contains("JobAlreadyActive"))
        try setup.finish(first)
        try await setup.reconcile()
        #expect(try setup.jobs().count == 2)
        let cronJob = try setup.cronJob()
        #expect(cronJob.string("status", "lastSuccessfulTime") != nil)
        #expect(try reasons(setup.store, about: "tick").contains("SawCompletedJob"))
    }

    @Test func replaceDeletesTheRunningJob() async throws {
        let setup = try Self.setup(#""schedule":"*/5 * * * *","concurrencyPolicy":"Replace""#)
        setup.clock.advance(by: 60)
        try await setup.reconcile()
        let first = try #require(try setup.jobs().first?.string("metadata", "name"))
        setup.clock.advance(by: 300)
        try await setup.reconcile()
        let names = try setup.jobs().compactMap { $0.string("metadata", "name") }
        #expect(names.count == 1 && names != [first])
        #expect(try messages(setup.store, about: "tick").contains("Deleted job \(first)"))
    }

    @Test func suspendedAndTooLateTimesStartNothing() async throws {
        let setup = try Self.setup(#""schedule":"0 * * * *","startingDeadlineSeconds":60"#)
        setup.clock.advance(by: 30 * 60)
        try await setup.reconcile()
        #expect(try setup.jobs().isEmpty)
        setup.clock.set(setup.clock.now.addingTimeInterval(30 * 60 + 10))
        _ = try setup.store.replace(KubeResourceRegistry.cronJobs, namespace: "default", name: "tick",
                                    object: setup.cronJob().setting(["spec", "suspend"], to: .bool(true)))
        try await setup.reconcile()
        #expect(try setup.jobs().isEmpty)
        _ = try setup.store.replace(KubeResourceRegistry.cronJobs, namespace: "default", name: "tick",
                                    object: setup.cronJob().setting(["spec", "suspend"], to: .bool(false)))
        try await setup.reconcile()
        #expect(try setup.jobs().count == 1)
    }

    @Test func finishedJobsBeyondTheHistoryLimitsGo() async throws {
        let setup = try Self.setup(#""schedule":"* * * * *","successfulJobsHistoryLimit":1,"failedJobsHistoryLimit":1"#)
        var names: [String] = []
        for outcome in ["Complete", "Complete", "Failed", "Failed"] {
            setup.clock.advance(by: 60)
            try await setup.reconcile()
            let name = try #require(try setup.jobs().compactMap { $0.string("metadata", "name") }.first { !names.contains($0) })
            names.append(name)
            try setup.finish(name, outcome)
        }
        try await setup.reconcile()
        let left = Set(try setup.jobs().compactMap { $0.string("metadata", "name") })
        #expect(left.isSuperset(of: [names[1], names[3]]) && left.isDisjoint(with: [names[0], names[2]]))
    }
}
