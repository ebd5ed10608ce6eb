//! `HostRuntime` against the whole conformance suite, on both ways it
//! starts children: `posix_spawn` (the default) and fork with a parent-death
//! signal (`kill_on_parent_death`, which the `logist` CLI uses); and runs
//! behind a per-run monitor (a state directory).

mod posix_spawn {
    use crate::fixture::HostFixture;

    logist_conformance::core_tests!(HostFixture::new());
    logist_conformance::shell_tests!(HostFixture::new());
    logist_conformance::process_tests!(HostFixture::new());
}

mod fork {
    use logist_runtime_host::HostRuntime;

    use crate::fixture::HostFixture;

    fn fixture() -> HostFixture {
        HostFixture::with(HostRuntime::builder().kill_on_parent_death(true))
    }

    logist_conformance::core_tests!(fixture());
    logist_conformance::shell_tests!(fixture());
    logist_conformance::process_tests!(fixture());
}

mod monitored {
    use crate::fixture::HostFixture;

    logist_conformance::core_tests!(HostFixture::monitored());
    logist_conformance::shell_tests!(HostFixture::monitored());
    logist_conformance::process_tests!(HostFixture::monitored());

    mod reattach {
        use crate::fixture::HostFixture;

        logist_conformance::reattach_tests!(HostFixture::monitored(); attached_teardown);
    }
}
