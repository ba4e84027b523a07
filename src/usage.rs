//! Memory: the process's use for progress logs (Linux `/proc/self/status`), so a slow or large
//! run shows which step took the memory; and the allocator's purge setting.

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_e`, v3; the test below checks
/// it reads that option's default of 1000 ms, from mimalloc's `options.c`).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes mimalloc give freed memory back to the kernel at once (it waits a second by default, so
/// the buffers of one step still count while the next step allocates). `MIMALLOC_PURGE_DELAY`
/// in the environment still wins.
pub fn purge_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option; mimalloc reads it on each purge.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) }
    }
}

/// `rss=… MiB peak=… MiB`, or an empty string where `/proc` is not available.
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
            "rss={} MiB (files {} MiB) peak={} MiB",
            rss >> 10,
            file >> 10,
            peak >> 10
        ),
        _ => String::new(),
    }
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
}
