//! The process's memory use for progress logs (Linux `/proc/self/status`), so a slow or large
//! run shows which step took the memory.

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
    match (kib("VmRSS:"), kib("VmHWM:")) {
        (Some(rss), Some(peak)) => format!("rss={} MiB peak={} MiB", rss >> 10, peak >> 10),
        _ => String::new(),
    }
}
