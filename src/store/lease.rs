//! Who holds a lease in the ledger: a token naming this host, process id and the process's
//! start time, and a test of whether the holder is certainly dead, so a crashed holder's lease
//! is taken over at once instead of after its time runs out.

/// This process's lease token, `host:pid:start`. The start time (clock ticks since boot, from
/// `/proc/self/stat`) tells a reused pid from the process that took the lease.
pub fn owner() -> String {
    let pid = std::process::id();
    format!("{}:{pid}:{}", host(), start_ticks(pid).unwrap_or(0))
}

/// True only when `token`'s holder is known to be gone: it ran on this host and its pid no
/// longer runs, or runs as a process started at another time. A token from another host, or
/// one that does not parse, is never judged dead (its lease runs out by time alone).
pub fn is_dead(token: &str) -> bool {
    let mut parts = token.rsplitn(3, ':');
    let (Some(start), Some(pid), Some(token_host)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(start), Ok(pid)) = (start.parse::<u64>(), pid.parse::<u32>()) else {
        return false;
    };
    if token_host != host() {
        return false;
    }
    match start_ticks(pid) {
        None => true,
        Some(now) => now != start,
    }
}

/// This daemon's host name in leases and in the `host` label of its work counters:
/// `TALLYMAN_HOST` when set, else the kernel's host name. Daemons in containers that share a
/// host name but not a process table (`--net=host`) must each be given their own, or one would
/// judge the other's pids by its own `/proc`.
pub fn host() -> String {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| match std::env::var("TALLYMAN_HOST") {
        Ok(name) if !name.trim().is_empty() => name.trim().to_string(),
        _ => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default(),
    })
    .clone()
}

/// `host()` as it may appear in a file name (ASCII letters, digits and `-`, at most 32): no
/// dot, so `.NAME.HOST.PID.tmp` splits back from the right.
pub fn host_tag() -> String {
    host()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(32)
        .collect()
}

/// Field 22 of `/proc/PID/stat` (start time); `None` when no such process runs.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let after = stat.get(stat.rfind(')')? + 1..)?;
    after.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_token_is_alive_and_a_finished_child_is_dead() {
        assert!(!is_dead(&owner()));
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        let token = format!("{}:{pid}:{}", host(), start_ticks(pid).unwrap_or(1));
        child.wait().expect("wait");
        assert!(is_dead(&token), "{token}");
        // Same pid, another start time: a reused pid is not the holder.
        let me = std::process::id();
        assert!(is_dead(&format!("{}:{me}:1", host())));
        assert!(!is_dead("other-host:1:1"));
        assert!(!is_dead("garbage"));
    }
}
