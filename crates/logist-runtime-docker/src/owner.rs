//! The owner of attached containers, so that a later runtime can stop the
//! ones whose owner died without dropping its runtime (SIGKILL, a crash).
//!
//! An attached container is labelled [`OWNER_LABEL`] with the process that
//! started it: `<boot id>/<pid namespace>/<pid>/<start time>` (the start
//! time in clock ticks since boot, field 22 of `/proc/<pid>/stat`). A
//! runtime built with `adopt(true)` on the same machine (same boot id and
//! pid namespace) removes the attached containers carrying its builder's
//! labels whose owner is gone: no process with that pid, or one that
//! started at another time (the pid was reused). Owners it cannot judge (on
//! another machine, in another pid namespace, or without `/proc`) are left
//! alone.

use std::fs;

/// The label of an attached container naming the process that owns it.
pub(crate) const OWNER_LABEL: &str = "logist.owner";

/// Whether the process a label names is alive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The very process (same start time) is running.
    Alive,
    /// No process with that pid, or another one that reused it.
    Gone,
    /// Not on this machine or in this pid namespace, or not readable.
    Unknown,
}

/// This process, as the label's value; `None` where `/proc` does not say.
pub(crate) fn this_process() -> Option<String> {
    let pid = std::process::id();
    Some(format!(
        "{}/{}/{pid}/{}",
        boot_id()?,
        pid_namespace()?,
        start_ticks(pid)?
    ))
}

/// Whether the owner `label` names is alive, seen from this process.
pub(crate) fn owner(label: &str) -> Owner {
    let parts: Vec<&str> = label.split('/').collect();
    let [boot, namespace, pid, start] = parts[..] else {
        return Owner::Unknown;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return Owner::Unknown;
    };
    if boot_id().as_deref() != Some(boot) || pid_namespace().as_deref() != Some(namespace) {
        return Owner::Unknown;
    }
    match start_ticks(pid) {
        Some(ticks) if ticks == start => Owner::Alive,
        _ => Owner::Gone,
    }
}

fn boot_id() -> Option<String> {
    let id = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_owned()).filter(|id| !id.is_empty() && !id.contains('/'))
}

/// The inode number of this process's pid namespace.
fn pid_namespace() -> Option<String> {
    let link = fs::read_link("/proc/self/ns/pid").ok()?;
    let link = link.to_str()?;
    let inode = link.strip_prefix("pid:[")?.strip_suffix(']')?;
    Some(inode.to_owned()).filter(|inode| inode.bytes().all(|b| b.is_ascii_digit()))
}

/// Field 22 of `/proc/<pid>/stat`: when the process started.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name's `)` start at field 3.
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(22 - 3)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not() {
        let me = this_process().expect("Linux with /proc");
        assert_eq!(owner(&me), Owner::Alive);
        let (rest, start) = me.rsplit_once('/').unwrap();
        let other_start: u64 = start.parse::<u64>().unwrap() + 1;
        assert_eq!(owner(&format!("{rest}/{other_start}")), Owner::Gone);
    }

    #[test]
    fn owners_that_cannot_be_judged_are_unknown() {
        let me = this_process().unwrap();
        let parts: Vec<&str> = me.split('/').collect();
        for label in [
            String::new(),
            "garbage".to_owned(),
            format!("other-boot/{}/{}/{}", parts[1], parts[2], parts[3]),
            format!("{}/1/{}/{}", parts[0], parts[2], parts[3]),
            format!("{}/{}/notapid/{}", parts[0], parts[1], parts[3]),
            format!("{me}/extra"),
        ] {
            assert_eq!(owner(&label), Owner::Unknown, "{label}");
        }
    }
}
