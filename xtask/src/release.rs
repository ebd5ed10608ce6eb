//! `cargo xtask release <VERSION> [--execute]`: prepares a release of every
//! publishable crate in lockstep.
//!
//! 1. checks the tree is clean and on `main`;
//! 2. bumps every crate's version, and the versions in the workspace's
//!    dependencies on its own crates, to VERSION;
//! 3. moves the changelog's Unreleased section under VERSION with today's
//!    date;
//! 4. runs `cargo xtask ci`;
//! 5. packages every publishable crate in dependency order, each tarball
//!    built on its own against the ones before it;
//! 6. prints the `cargo publish` commands.
//!
//! Without `--execute` (the default) all of this happens in a temporary git
//! worktree of `HEAD`, so the real tree is never touched. With `--execute`
//! it happens in the real tree, which is then committed, tagged `vVERSION`
//! and published. Never run `--execute` in CI.
//!
//! `cargo xtask ci` runs step 5 on the current tree (the `package` step), so
//! packaging breaks are caught on every change.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};

use crate::shell::{cargo, cmd, root, run};

pub(crate) fn main(args: &[String]) -> Result<()> {
    let mut version = None;
    let mut execute = false;
    for arg in args {
        match arg.as_str() {
            "--execute" => execute = true,
            flag if flag.starts_with('-') => {
                bail!("unknown option `{flag}`; usage: cargo xtask release <VERSION> [--execute]")
            }
            value if version.is_none() => version = Some(value.to_owned()),
            extra => bail!("unexpected argument `{extra}`"),
        }
    }
    let Some(version) = version else {
        bail!("usage: cargo xtask release <VERSION> [--execute]");
    };
    check_version(&version)?;
    check_clean_main()?;

    if execute {
        prepare(&root(), &version)?;
        run(cmd("git").args(["commit", "-am", &format!("Release {version}")]))?;
        run(cmd("git").args([
            "tag",
            "-a",
            &format!("v{version}"),
            "-m",
            &format!("Release {version}"),
        ]))?;
        for name in publishable(&root())? {
            run(cargo().args(["publish", "--locked", "-p", &name]))?;
        }
        eprintln!("xtask release: {version} published; push with: git push origin main v{version}");
        return Ok(());
    }

    let scratch = std::env::temp_dir().join(format!("logist-release-{}", std::process::id()));
    run(cmd("git")
        .args(["worktree", "add", "--detach"])
        .arg(&scratch)
        .arg("HEAD"))?;
    let result = prepare(&scratch, &version);
    let _ = cmd("git")
        .args(["worktree", "remove", "--force"])
        .arg(&scratch)
        .status();
    let names = result?;
    eprintln!("\nxtask release: dry run of {version} succeeded (nothing was changed).");
    eprintln!(
        "To publish, run `cargo xtask release {version} --execute`, which commits, tags v{version} and runs:"
    );
    for name in names {
        eprintln!("  cargo publish --locked -p {name}");
    }
    Ok(())
}

/// Steps 2–5 in `dir`; returns the crates to publish, in order.
fn prepare(dir: &Path, version: &str) -> Result<Vec<String>> {
    bump_versions(&dir.join("Cargo.toml"), version)?;
    move_unreleased(&dir.join("CHANGELOG.md"), version, &today())?;
    let target = dry_run_target();
    // The lockfile records our own crates' versions.
    run(cargo()
        .current_dir(dir)
        .args(["update", "--workspace", "--offline"])
        .env("CARGO_TARGET_DIR", &target))?;
    run(cargo()
        .current_dir(dir)
        .args(["xtask", "ci"])
        .env("CARGO_TARGET_DIR", &target))?;
    package(dir, false)
}

/// Packages every publishable crate of `dir`'s workspace in dependency
/// order, verifying that each builds from its tarball. Returns their names.
pub(crate) fn package(dir: &Path, allow_dirty: bool) -> Result<Vec<String>> {
    let names = publishable(dir)?;
    // Every run packages the same names and versions, and cargo never
    // rechecks a registry crate it built or unpacked before: our crates'
    // earlier tarballs, unpacked sources and build artifacts are removed
    // first (the dependencies stay built). The next build of the workspace
    // rebuilds our crates, which is why `package` is the last step of ci.
    let target = target_dir();
    forget_our_crates(&target)?;
    remove_extracted(&names)?;
    let mut command = cargo();
    command
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .args(["package", "--locked"]);
    if allow_dirty {
        command.arg("--allow-dirty");
    }
    for name in &names {
        command.args(["-p", name]);
    }
    run(&mut command)?;
    Ok(names)
}

/// The target directory the dry run builds the release worktree in.
///
/// Not the checkout's own `target/`: the worktree's xtask would be built
/// into `target/debug/xtask` over the checkout's, and cargo, finding the
/// checkout's xtask fresh, would go on running the worktree's binary, whose
/// workspace root is the removed worktree. A subdirectory keeps the two
/// apart and still survives between dry runs.
fn dry_run_target() -> PathBuf {
    root().join("target").join("release-dry-run")
}

/// The target directory cargo uses here: `CARGO_TARGET_DIR` when set (as
/// the dry run sets it for the worktree's `cargo xtask ci`), else the
/// workspace's `target/`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Removes our crates' tarballs and build artifacts from the verification
/// target directory; dependencies from crates.io stay built.
fn forget_our_crates(target: &Path) -> Result<()> {
    let package = target.join("package");
    if package.exists() {
        fs::remove_dir_all(&package).with_context(|| format!("removing {}", package.display()))?;
    }
    for dir in ["debug/.fingerprint", "debug/deps", "debug/build"] {
        for entry in fs::read_dir(target.join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("logist-")
                || name.starts_with("logist_")
                || name.starts_with("liblogist_")
            {
                let path = entry.path();
                let removed = if path.is_dir() {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
                removed.with_context(|| format!("removing {}", path.display()))?;
            }
        }
    }
    Ok(())
}

/// Removes `$CARGO_HOME/registry/src/<local registry>/<crate>-<version>`
/// for our crates, outside the crates.io index.
fn remove_extracted(names: &[String]) -> Result<()> {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")));
    let Some(sources) = home.map(|home| home.join("registry").join("src")) else {
        return Ok(());
    };
    let Ok(registries) = fs::read_dir(&sources) else {
        return Ok(());
    };
    for registry in registries.flatten() {
        if registry.file_name().to_string_lossy().starts_with("index.") {
            continue;
        }
        for entry in fs::read_dir(registry.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let file = entry.file_name().to_string_lossy().into_owned();
            let ours = names.iter().any(|name| {
                file.strip_prefix(name.as_str())
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()))
            });
            if ours {
                fs::remove_dir_all(entry.path())
                    .with_context(|| format!("removing {}", entry.path().display()))?;
            }
        }
    }
    Ok(())
}

fn check_version(version: &str) -> Result<()> {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    ensure!(
        parts.len() == 3
            && parts
                .iter()
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())),
        "`{version}` is not a version like 0.1.0"
    );
    Ok(())
}

fn check_clean_main() -> Result<()> {
    let status = cmd("git")
        .args(["status", "--porcelain"])
        .output()
        .context("running git status")?;
    ensure!(status.status.success(), "not a git checkout");
    ensure!(
        status.stdout.is_empty(),
        "the working tree has uncommitted changes; commit or stash them first"
    );
    let branch = cmd("git")
        .args(["rev-parse", "--abbrev-ref", "HEAD"])
        .output()
        .context("running git")?;
    let branch = String::from_utf8_lossy(&branch.stdout).trim().to_owned();
    ensure!(
        branch == "main",
        "releases are made from main, not `{branch}`"
    );
    Ok(())
}

/// Sets `[workspace.package] version` and the `version` of every
/// workspace-internal entry of `[workspace.dependencies]`.
fn bump_versions(manifest: &Path, version: &str) -> Result<()> {
    let text =
        fs::read_to_string(manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let mut section = String::new();
    let mut bumped = 0;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.to_owned();
        }
        let new_line = match section.as_str() {
            "[workspace.package]"
                if trimmed.starts_with("version ") || trimmed.starts_with("version=") =>
            {
                bumped += 1;
                format!("version = \"{version}\"")
            }
            "[workspace.dependencies]"
                if trimmed.starts_with("logist-") && trimmed.contains("version = \"") =>
            {
                bumped += 1;
                replace_version(line, version)
            }
            _ => line.to_owned(),
        };
        out.push_str(&new_line);
        out.push('\n');
    }
    ensure!(
        bumped > 1,
        "found no versions to bump in {}",
        manifest.display()
    );
    fs::write(manifest, out).with_context(|| format!("writing {}", manifest.display()))
}

fn replace_version(line: &str, version: &str) -> String {
    let start = line
        .find("version = \"")
        .map(|at| at + "version = \"".len());
    match start.and_then(|start| Some((start, start + line[start..].find('"')?))) {
        Some((start, end)) => format!("{}{version}{}", &line[..start], &line[end..]),
        None => line.to_owned(),
    }
}

/// Moves the body of `## [Unreleased]` under `## [VERSION] - DATE`.
fn move_unreleased(changelog: &Path, version: &str, date: &str) -> Result<()> {
    let text = fs::read_to_string(changelog)
        .with_context(|| format!("reading {}", changelog.display()))?;
    let marker = "## [Unreleased]";
    let start = text
        .find(marker)
        .context("the changelog has no `## [Unreleased]` section")?;
    let body_start = start + marker.len();
    let body_end = text[body_start..]
        .find("\n## [")
        .map_or(text.len(), |at| body_start + at);
    ensure!(
        !text[body_start..body_end].trim().is_empty(),
        "the changelog's Unreleased section is empty: nothing to release"
    );
    let updated = format!(
        "{}{marker}\n\n## [{version}] - {date}{}",
        &text[..start],
        &text[body_start..]
    );
    fs::write(changelog, updated).with_context(|| format!("writing {}", changelog.display()))
}

/// Today in UTC, `YYYY-MM-DD`.
fn today() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Days since 1970-01-01 to a calendar date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The workspace's publishable crates, each after the crates it depends on.
fn publishable(dir: &Path) -> Result<Vec<String>> {
    let output = cargo()
        .current_dir(dir)
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .output()
        .context("running cargo metadata")?;
    ensure!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let packages = metadata["packages"]
        .as_array()
        .context("no packages in cargo metadata")?;
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for package in packages {
        // `publish: []` means `publish = false`.
        if package["publish"].as_array().is_some_and(Vec::is_empty) {
            continue;
        }
        let name = package["name"]
            .as_str()
            .context("a package without a name")?
            .to_owned();
        let internal = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            // crates.io needs every versioned dependency published first,
            // dev-dependencies included; path-only ones are dropped.
            .filter(|dep| dep["kind"] != "dev" || dep["req"] != "*")
            .filter(|dep| dep["path"].is_string())
            .filter_map(|dep| dep["name"].as_str().map(str::to_owned))
            .collect();
        deps.insert(name, internal);
    }
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    while order.len() < deps.len() {
        let ready: Vec<String> = deps
            .iter()
            .filter(|(name, needs)| {
                !done.contains(*name)
                    && needs
                        .iter()
                        .all(|dep| done.contains(dep) || !deps.contains_key(dep))
            })
            .map(|(name, _)| name.clone())
            .collect();
        ensure!(
            !ready.is_empty(),
            "the publishable crates depend on each other in a cycle"
        );
        for name in ready {
            done.insert(name.clone());
            order.push(name);
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_415), (2025, 11, 23));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn the_dry_run_never_builds_over_the_checkouts_own_xtask() {
        let ours = root().join("target").join("debug").join("xtask");
        let dry_run = dry_run_target();
        assert_ne!(dry_run, root().join("target"));
        assert!(
            !ours.starts_with(&dry_run),
            "{} would be overwritten by the dry run's build in {}",
            ours.display(),
            dry_run.display()
        );
    }

    #[test]
    fn versions() {
        assert!(check_version("0.1.0").is_ok());
        assert!(check_version("1.2.3-rc.1").is_ok());
        assert!(check_version("1.2").is_err());
        assert!(check_version("v1.2.3").is_err());
    }

    #[test]
    fn bumps_and_changelog() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        fs::write(
            &manifest,
            "[workspace.package]\nversion = \"0.1.0\"\n\n[workspace.dependencies]\nlogist-core = { path = \"crates/logist-core\", version = \"0.1.0\" }\nanyhow = \"1\"\n\n[package]\nversion = \"0.0.0\"\n",
        )
        .unwrap();
        bump_versions(&manifest, "0.2.0").unwrap();
        let text = fs::read_to_string(&manifest).unwrap();
        assert!(
            text.contains("[workspace.package]\nversion = \"0.2.0\""),
            "{text}"
        );
        assert!(
            text.contains("logist-core = { path = \"crates/logist-core\", version = \"0.2.0\" }"),
            "{text}"
        );
        assert!(
            text.contains("anyhow = \"1\"") && text.contains("[package]\nversion = \"0.0.0\""),
            "{text}"
        );

        let changelog = dir.path().join("CHANGELOG.md");
        fs::write(
            &changelog,
            "# Changelog\n\n## [Unreleased]\n\n### Added\n- a thing\n\n## [0.0.1] - 2026-01-01\n",
        )
        .unwrap();
        move_unreleased(&changelog, "0.2.0", "2026-11-23").unwrap();
        assert_eq!(
            fs::read_to_string(&changelog).unwrap(),
            "# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - 2026-11-23\n\n### Added\n- a thing\n\n## [0.0.1] - 2026-01-01\n"
        );
        assert!(
            move_unreleased(&changelog, "0.3.0", "2026-11-24").is_err(),
            "an empty Unreleased section"
        );
    }
}
