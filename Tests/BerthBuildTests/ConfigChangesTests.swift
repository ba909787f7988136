import BerthBuild
import BerthDockerfile
import BerthOCI
import Testing

@Suite struct ConfigChangesTests {
    private func apply(_ changes: [String], to start: ContainerConfig = ContainerConfig()) throws -> ContainerConfig {
        var config = start
        for change in changes {
            let command = try ConfigChanges.parseChange(change)
            try ConfigChanges.apply(command.expanded(with: ConfigChanges.environment(of: config)), to: &config)
        }
        return config
    }

    @Test func appliesEveryChangeInstruction() throws {
        let config = try apply([
            #"CMD ["python3", "app.py"]"#,
            "ENTRYPOINT /entry.sh --flag",
            "ENV A=1 B=two",
            "ENV A=3",
            "ENV C=${A}-$B",
            "EXPOSE 5000 53/udp 8000-8001",
            #"LABEL maintainer="Katie Gamanji" version=1"#,
            "USER app:app",
            "WORKDIR /srv",
            "WORKDIR app/../web",
            "VOLUME /data /cache",
            "STOPSIGNAL SIGINT",
            "HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD curl -f http://localhost/",
            "ONBUILD RUN echo child",
        ])
        #expect(config.Cmd == ["python3", "app.py"])
        #expect(config.Entrypoint == ["/bin/sh", "-c", "/entry.sh --flag"])
        #expect(config.Env == ["A=3", "B=two", "C=3-two"])
        #expect(config.ExposedPorts?.keys.sorted() == ["5000/tcp", "53/udp", "8000/tcp", "8001/tcp"])
        #expect(config.Labels == ["maintainer": "Katie Gamanji", "version": "1"])
        #expect(config.User == "app:app")
        #expect(config.WorkingDir == "/srv/web")
        #expect(config.Volumes?.keys.sorted() == ["/cache", "/data"])
        #expect(config.StopSignal == "SIGINT")
        #expect(config.Healthcheck?.Test == ["CMD-SHELL", "curl -f http://localhost/"])
        #expect(config.Healthcheck?.Interval == 5_000_000_000)
        #expect(config.Healthcheck?.Timeout == 2_000_000_000)
        #expect(config.Healthcheck?.Retries == 4)
        #expect(config.OnBuild == ["RUN echo child"])
    }

    @Test func shellFormUsesTheImageShell() throws {
        var start = ContainerConfig()
        start.Shell = ["/bin/bash", "-o", "pipefail", "-c"]
        #expect(try apply(["CMD echo hi"], to: start).Cmd == ["/bin/bash", "-o", "pipefail", "-c", "echo hi"])
    }

    @Test func healthcheckNoneDisablesTheCheck() throws {
        #expect(try apply(["HEALTHCHECK NONE"]).Healthcheck?.Test == ["NONE"])
    }

    @Test(arguments: ["RUN echo hi", "FROM busybox", "COPY a b", "CMD a\nCMD b", "EXPOSE 70000", "EXPOSE 80/icmp"])
    func rejectsWhatImportCannotApply(change: String) {
        #expect(throws: (any Error).self) { try apply([change]) }
    }
}
