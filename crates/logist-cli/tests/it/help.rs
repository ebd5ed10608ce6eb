//! The help texts, snapshotted: the interface and exit codes as users see
//! them.

use logist_testing::NoSurvivors;

use crate::{code, output, text};

#[test]
fn help_texts() {
    let guard = NoSurvivors::new();
    for (name, args) in [
        ("main", vec!["--help"]),
        ("run", vec!["run", "--help"]),
        ("exec", vec!["exec", "--help"]),
        ("agents", vec!["agents", "--help"]),
    ] {
        let out = output(&guard, &args);
        assert_eq!(code(&out), 0);
        insta::assert_snapshot!(name, text(&out.stdout));
    }
}
