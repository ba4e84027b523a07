//! Memory and CPU: the process's use for progress logs (Linux `/proc/self`), so a slow or large
//! run shows which step took the memory or the time; and the allocator's settings.

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_e`, v3; the test below checks
/// it reads that option's default of 1000 ms, from mimalloc's `options.c`).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc's `mi_option_allow_thp` (v3, default 1: the test below checks it).
const ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// How long mimalloc keeps freed memory before handing it back to the kernel. Its default, a
/// second, lets the buffers of one step still count while the next step allocates (the 5M-row
/// bench peaked at 2 GiB); at once (0), memory freed and taken again a moment later is faulted
/// and zeroed anew by the kernel. 10 ms: 0.3-0.5 s less kernel time than 0 on the bench, for
/// 5 MiB more peak memory.
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Makes mimalloc give freed memory back to the kernel soon (`PURGE_DELAY_MS`) and in 4 KiB
/// pages rather than transparent huge pages: memory handed back and taken again is zeroed by
/// the kernel on the next touch, a whole 2 MiB page for a small allocation. On the 5M-row
/// inventory bench huge pages cost 1.5 s of kernel time and 70 MiB of peak memory.
/// `MIMALLOC_PURGE_DELAY` and `MIMALLOC_ALLOW_THP` in the environment still win.
pub fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option; mimalloc reads it on each purge.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_MS) }
    }
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: sets one integer option; mimalloc reads it on each request for OS memory.
        unsafe { libmimalloc_sys::mi_option_set(ALLOW_THP, 0) }
        // mimalloc reserved its first arena (advised for huge pages) before `main`; the flag is
        // checked on each page fault, so it covers that arena too. What mimalloc itself does
        // when the option is 0 at its start.
        #[cfg(target_os = "linux")]
        // SAFETY: sets one flag of this process; no pointers.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
}

/// `rss=… MiB (files … MiB) peak=… MiB cpu=user+system s`, or an empty string where `/proc`
/// is not available.
pub fn memory() -> String {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return String::new();
    };
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    match (kib("VmRSS:"), kib("VmHWM:"), kib("RssFile:")) {
        (Some(rss), Some(peak), Some(file)) => format!(
            "rss={} MiB (files {} MiB) peak={} MiB{}",
            rss >> 10,
            file >> 10,
            peak >> 10,
            cpu()
                .map(|(u, s)| format!(" cpu={u:.2}+{s:.2}s"))
                .unwrap_or_default()
        ),
        _ => String::new(),
    }
}

/// The process's user and system CPU seconds so far (`/proc/self/stat`): set beside a step's
/// wall time, it shows whether the step kept both cores busy or waited on the kernel.
fn cpu() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start with the state, field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut f = rest.split(' ').skip(11);
    let ticks = |v: Option<&str>| v?.parse::<f64>().ok();
    // The kernel reports in clock ticks, USER_HZ, which is 100 on Linux.
    Some((ticks(f.next())? / 100.0, ticks(f.next())? / 100.0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn purge_delay_is_the_option_it_names() {
        // SAFETY: reads one option.
        let delay = unsafe { libmimalloc_sys::mi_option_get(super::PURGE_DELAY) };
        assert!(
            delay == 1000 || std::env::var_os("MIMALLOC_PURGE_DELAY").is_some(),
            "{delay}"
        );
    }

    #[test]
    fn allow_thp_is_the_option_it_names() {
        // SAFETY: reads one option.
        let thp = unsafe { libmimalloc_sys::mi_option_get(super::ALLOW_THP) };
        assert!(
            thp == 1 || std::env::var_os("MIMALLOC_ALLOW_THP").is_some(),
            "{thp}"
        );
        // Its neighbour, the minimal purge size, defaults to 0 (resolved later to 64 KiB).
        let next = unsafe { libmimalloc_sys::mi_option_get(super::ALLOW_THP + 1) };
        assert_eq!(next, 0);
    }
}
