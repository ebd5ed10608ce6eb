//! `HostRuntime` against the whole conformance suite, on every way it
//! starts children: through the keeper (the default), with `posix_spawn`
//! from this process (`keeper(false)`), with fork and a parent-death signal
//! (`keeper(false)` and `kill_on_parent_death`); and runs behind a per-run
//! monitor (a state directory).

mod keeper {
    use crate::fixture::HostFixture;

    logist_conformance::core_tests!(HostFixture::new());
    logist_conformance::shell_tests!(HostFixture::new());
    logist_conformance::process_tests!(HostFixture::new());
}

mod posix_spawn {
    use logist_runtime_host::HostRuntime;

    use crate::fixture::HostFixture;

    fn fixture() -> HostFixture {
        HostFixture::with(HostRuntime::builder().keeper(false))
    }

    logist_conformance::core_tests!(fixture());
    logist_conformance::shell_tests!(fixture());
    logist_conformance::process_tests!(fixture());
}

mod fork {
    use logist_runtime_host::HostRuntime;

    use crate::fixture::HostFixture;

    fn fixture() -> HostFixture {
        HostFixture::with(
            HostRuntime::builder()
                .keeper(false)
                .kill_on_parent_death(true),
        )
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
