//! `cargo xtask docker`: makes this machine ready for the tests of
//! `logist-runtime-docker`: a running engine (installed from Debian's
//! `docker.io` and started when absent), the mock agent built fully static,
//! and the test image (Debian's `busybox-static` and nothing else: no C
//! library). Every step checks first and does nothing when its result is
//! already there, so a second run takes about a second.

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::shell::{cargo, cmd, root, run, succeeds};

/// The test image: bump the tag when the recipe below changes.
pub(crate) const TEST_IMAGE: &str = "logist-test-busybox:1";
/// An image with empty directories only: no shell, no C library, nothing.
pub(crate) const EMPTY_IMAGE: &str = "logist-test-empty:1";
/// A variable the test image sets, so tests can tell the image's
/// environment from the engine's.
const IMAGE_VAR: &str = "LOGIST_TEST_IMAGE_VAR=from-image";
/// Where dockerd writes its log when xtask starts it.
const DOCKERD_LOG: &str = "/var/log/logist-dockerd.log";
/// How long a freshly started engine may take to answer.
const ENGINE_START: Duration = Duration::from_secs(60);

/// Entry point: `cargo xtask docker`.
pub(crate) fn main(args: &[String]) -> Result<()> {
    if !args.is_empty() {
        bail!("usage: cargo xtask docker");
    }
    ensure()
}

/// Engine, static mock agent and image, each only when missing.
pub(crate) fn ensure() -> Result<()> {
    ensure_engine()?;
    let agent = build_static_mock()?;
    eprintln!("xtask docker: static mock agent at {}", agent.display());
    ensure_image()?;
    ensure_empty_image()?;
    eprintln!("xtask docker: engine running, images {TEST_IMAGE} and {EMPTY_IMAGE} present");
    Ok(())
}

/// The directory for what this module builds.
fn work_dir() -> PathBuf {
    root().join("target").join("docker")
}

fn engine_answers() -> bool {
    succeeds(cmd("docker").args(["version", "--format", "{{.Server.APIVersion}}"]))
}

fn ensure_engine() -> Result<()> {
    if engine_answers() {
        return Ok(());
    }
    if !has_program("dockerd") || !has_program("docker") {
        install_engine()?;
    }
    eprintln!("xtask docker: starting dockerd (log: {DOCKERD_LOG})");
    let log = File::options()
        .create(true)
        .append(true)
        .open(DOCKERD_LOG)
        .with_context(|| format!("cannot open {DOCKERD_LOG}"))?;
    // No bridge and no iptables rules: the tests' containers have no
    // network, and the machine's firewall and addresses stay as they were.
    // `setsid` puts dockerd in its own session, so it outlives this run
    // (other sessions reuse it) and no terminal signal reaches it.
    cmd("setsid")
        .args([
            "dockerd",
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("cannot start dockerd")?;
    let deadline = Instant::now() + ENGINE_START;
    while !engine_answers() {
        if Instant::now() > deadline {
            bail!(
                "dockerd did not answer within {}s; see {DOCKERD_LOG}",
                ENGINE_START.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(())
}

fn has_program(name: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .any(|dir| dir.join(name).is_file())
}

fn install_engine() -> Result<()> {
    if !has_program("apt-get") {
        bail!(
            "no Docker engine here and no apt-get to install one: install Docker or Podman and start it"
        );
    }
    eprintln!("xtask docker: installing docker.io with apt-get");
    let install = || {
        run(cmd("apt-get")
            .args(["install", "-y", "-q", "docker.io"])
            .env("DEBIAN_FRONTEND", "noninteractive"))
    };
    if install().is_err() {
        run(cmd("apt-get").args(["update", "-q"]))?;
        install().context("apt-get install docker.io failed (this needs root)")?;
    }
    Ok(())
}

/// Builds `logist-mock-agent` with the C library linked in, for images
/// without one, and copies it to `target/docker/logist-mock-agent`.
fn build_static_mock() -> Result<PathBuf> {
    let triple = host_triple()?;
    let target_dir = root().join("target").join("docker-mock");
    // `--target` keeps the flag off build scripts and proc macros, which
    // must stay dynamic; its own target directory keeps the ordinary
    // build's cache intact.
    run(cargo()
        .args([
            "build",
            "--quiet",
            "--locked",
            "-p",
            "logist-mock",
            "--bin",
            "logist-mock-agent",
            "--target",
            &triple,
            "--target-dir",
        ])
        .arg(&target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS"))?;
    let built = target_dir
        .join(&triple)
        .join("debug")
        .join("logist-mock-agent");
    if has_interpreter(&built)? {
        bail!(
            "{} is dynamically linked; the static build did not take",
            built.display()
        );
    }
    let dir = work_dir();
    fs::create_dir_all(&dir)?;
    let dest = dir.join("logist-mock-agent");
    // Copy, then rename: a test running meanwhile never sees half a file.
    let partial = dir.join("logist-mock-agent.partial");
    fs::copy(&built, &partial).with_context(|| format!("cannot copy {}", built.display()))?;
    fs::rename(&partial, &dest)?;
    Ok(dest)
}

fn host_triple() -> Result<String> {
    let output = cmd("rustc")
        .arg("-vV")
        .output()
        .context("cannot run rustc -vV")?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV printed no host triple")
}

/// True when the ELF file asks for a dynamic loader (a `PT_INTERP`
/// program header).
fn has_interpreter(path: &Path) -> Result<bool> {
    let mut header = vec![0; 64];
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    file.read_exact(&mut header)?;
    if &header[..4] != b"\x7fELF" || header[4] != 2 {
        bail!("{} is not a 64-bit ELF file", path.display());
    }
    let u16_at = |at: usize| u16::from_le_bytes([header[at], header[at + 1]]) as usize;
    let phoff = u64::from_le_bytes(header[0x20..0x28].try_into()?) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    let mut all = Vec::new();
    File::open(path)?.read_to_end(&mut all)?;
    const PT_INTERP: u32 = 3;
    Ok((0..phnum).any(|i| {
        let at = phoff + i * phentsize;
        all.get(at..at + 4).is_some_and(|kind| {
            u32::from_le_bytes([kind[0], kind[1], kind[2], kind[3]]) == PT_INTERP
        })
    }))
}

fn ensure_image() -> Result<()> {
    if succeeds(cmd("docker").args(["image", "inspect", TEST_IMAGE])) {
        return Ok(());
    }
    eprintln!("xtask docker: building {TEST_IMAGE} from Debian's busybox-static");
    let dir = work_dir().join("image");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let download = || {
        run(cmd("apt-get")
            .args(["download", "-q", "busybox-static"])
            .current_dir(&dir))
    };
    if download().is_err() {
        run(cmd("apt-get").args(["update", "-q"]))?;
        download().context("apt-get download busybox-static failed")?;
    }
    let deb = fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "deb"))
        .context("apt-get download left no .deb")?;
    let unpacked = dir.join("deb");
    run(cmd("dpkg").arg("-x").arg(&deb).arg(&unpacked))?;
    let busybox = unpacked.join("bin").join("busybox");

    let rootfs = dir.join("rootfs");
    for sub in [
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "usr/local/bin",
        "etc",
        "root",
        "tmp",
        "proc",
        "sys",
        "dev",
    ] {
        fs::create_dir_all(rootfs.join(sub))?;
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    fs::copy(&busybox, rootfs.join("bin/busybox"))?;
    fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000:agent:/tmp:/bin/sh\n",
    )?;
    fs::write(rootfs.join("etc/group"), "root:x:0:\nagent:x:1000:\n")?;
    // One link per applet, where busybox says it belongs.
    let list = cmd(busybox.to_str().context("a UTF-8 path")?)
        .arg("--list-full")
        .output()
        .context("cannot run busybox --list-full")?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let link = rootfs.join(applet);
        if applet.is_empty() || link.exists() {
            continue;
        }
        if let Some(parent) = link.parent() {
            fs::create_dir_all(parent)?;
        }
        symlink("/bin/busybox", &link)?;
    }
    import(&rootfs, TEST_IMAGE, &[&format!("ENV {IMAGE_VAR}")])
}

fn ensure_empty_image() -> Result<()> {
    if succeeds(cmd("docker").args(["image", "inspect", EMPTY_IMAGE])) {
        return Ok(());
    }
    eprintln!("xtask docker: building {EMPTY_IMAGE}");
    let rootfs = work_dir().join("empty").join("rootfs");
    let _ = fs::remove_dir_all(&rootfs);
    for sub in ["usr/local/bin", "etc", "tmp", "proc", "sys", "dev"] {
        fs::create_dir_all(rootfs.join(sub))?;
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    import(&rootfs, EMPTY_IMAGE, &[])
}

/// `docker import` of a directory tree, with Dockerfile-style `changes`.
fn import(rootfs: &Path, image: &str, changes: &[&str]) -> Result<()> {
    let tarball = rootfs.with_extension("tar");
    run(cmd("tar")
        .arg("-C")
        .arg(rootfs)
        .arg("-cf")
        .arg(&tarball)
        .arg("."))?;
    let mut import = cmd("docker");
    import.arg("import");
    for change in changes {
        import.args(["--change", change]);
    }
    run(import.arg(&tarball).arg(image))
}
