//! Deciding when a dropped file is complete: done markers, names never taken, and the
//! "held still across two looks and old enough" rule, for local folders and SFTP alike.
//!
//! Pure: callers pass what they saw (name, size, mtime) and the time they looked.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// What one listing saw of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    pub name: String,
    pub size: u64,
    pub mtime: SystemTime,
}

use crate::config::source::SettlePolicy;

/// Suffixes partners and their tools use while a file is still being written.
const IN_PROGRESS_SUFFIXES: [&str; 5] = [".part", ".filepart", ".tmp", ".partial", ".crdownload"];

/// Names that are never taken, whatever their age: dot-files and in-progress names.
pub fn is_never_taken(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.') || IN_PROGRESS_SUFFIXES.iter().any(|s| lower.ends_with(s))
}

/// Why a file was not taken on this look (for progress output and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// Dot-file, `.part` and the like: never taken.
    NeverTaken,
    /// A done marker, not a data file.
    IsMarker,
    /// The pipeline wants a done marker and there is none yet.
    NoDoneMarker,
    /// The done marker is older than the file: it belongs to an earlier upload of the same
    /// name (the file is being written again), so it proves nothing.
    StaleMarker,
    /// Younger than `min_age`.
    TooYoung,
    /// First look, or it changed since the last look.
    Changing,
}

/// Remembers the previous look at each name, so that successive listings can tell a file that
/// holds still from one still being written. One per source.
#[derive(Debug, Default)]
pub struct Settler {
    seen: HashMap<String, (u64, SystemTime, SystemTime)>,
}

impl Settler {
    pub fn new() -> Settler {
        Settler::default()
    }

    /// Takes one full listing seen at `now`; returns the files that are complete, and for every
    /// other name why it waits. Names absent from the listing are forgotten.
    pub fn look(
        &mut self,
        policy: &SettlePolicy,
        listing: &[Sighting],
        now: SystemTime,
    ) -> (Vec<Sighting>, Vec<(String, Wait)>) {
        let names: std::collections::HashSet<&str> =
            listing.iter().map(|s| s.name.as_str()).collect();
        let mut ready = Vec::new();
        let mut waiting = Vec::new();
        let mut next = HashMap::new();
        for s in listing {
            if is_never_taken(&s.name) {
                waiting.push((s.name.clone(), Wait::NeverTaken));
                continue;
            }
            if let Some(suffix) = &policy.done_marker {
                if let Some(data) = s.name.strip_suffix(suffix.as_str()) {
                    if names.contains(data) {
                        waiting.push((s.name.clone(), Wait::IsMarker));
                        continue;
                    }
                }
                let marker_name = format!("{}{}", s.name, suffix);
                let Some(marker) = listing.iter().find(|m| m.name == marker_name) else {
                    waiting.push((s.name.clone(), Wait::NoDoneMarker));
                    continue;
                };
                // A partner writes the marker after the file; a file modified after its
                // marker is a new upload under an old marker.
                if marker.mtime < s.mtime {
                    waiting.push((s.name.clone(), Wait::StaleMarker));
                    continue;
                }
            }
            let first_seen = match self.seen.get(&s.name) {
                Some(&(size, mtime, first)) if size == s.size && mtime == s.mtime => first,
                _ => now,
            };
            next.insert(s.name.clone(), (s.size, s.mtime, first_seen));
            let age = now.duration_since(s.mtime).unwrap_or(Duration::ZERO);
            let still_for = now.duration_since(first_seen).unwrap_or(Duration::ZERO);
            // A done marker is the partner's word that the file is complete: no need to wait.
            if policy.done_marker.is_some() {
                ready.push(s.clone());
            } else if age < policy.min_age {
                waiting.push((s.name.clone(), Wait::TooYoung));
            } else if first_seen == now || still_for < policy.settle {
                waiting.push((s.name.clone(), Wait::Changing));
            } else {
                ready.push(s.clone());
            }
        }
        self.seen = next;
        (ready, waiting)
    }

    /// How long to wait before the next look can settle everything seen so far.
    pub fn next_look_in(&self, policy: &SettlePolicy, now: SystemTime) -> Option<Duration> {
        self.seen
            .values()
            .map(|&(_, mtime, first)| {
                let age_left = (mtime + policy.min_age)
                    .duration_since(now)
                    .unwrap_or(Duration::ZERO);
                let settle_left = (first + policy.settle)
                    .duration_since(now)
                    .unwrap_or(Duration::ZERO);
                age_left.max(settle_left)
            })
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + secs)
    }

    fn seen(name: &str, size: u64, mtime: u64) -> Sighting {
        Sighting {
            name: name.into(),
            size,
            mtime: at(mtime),
        }
    }

    #[test]
    fn a_file_is_taken_after_holding_still_across_two_looks() {
        let policy = SettlePolicy::default();
        let mut settler = Settler::new();
        let (ready, waiting) = settler.look(&policy, &[seen("a.csv", 10, 0)], at(10));
        assert!(ready.is_empty());
        assert_eq!(waiting, vec![("a.csv".into(), Wait::Changing)]);
        let (ready, _) = settler.look(&policy, &[seen("a.csv", 10, 0)], at(12));
        assert_eq!(ready, vec![seen("a.csv", 10, 0)]);
    }

    #[test]
    fn a_growing_file_waits() {
        let policy = SettlePolicy::default();
        let mut settler = Settler::new();
        settler.look(&policy, &[seen("a.csv", 10, 0)], at(10));
        let (ready, waiting) = settler.look(&policy, &[seen("a.csv", 20, 11)], at(20));
        assert!(ready.is_empty());
        assert_eq!(waiting[0].1, Wait::Changing);
    }

    #[test]
    fn young_files_wait_for_min_age() {
        let policy = SettlePolicy {
            min_age: Duration::from_secs(30),
            ..SettlePolicy::default()
        };
        let mut settler = Settler::new();
        settler.look(&policy, &[seen("a.csv", 10, 0)], at(5));
        let (ready, waiting) = settler.look(&policy, &[seen("a.csv", 10, 0)], at(10));
        assert!(ready.is_empty());
        assert_eq!(waiting[0].1, Wait::TooYoung);
        assert_eq!(
            settler.next_look_in(&policy, at(10)),
            Some(Duration::from_secs(20))
        );
    }

    #[test]
    fn in_progress_names_and_dot_files_are_never_taken() {
        for name in [
            ".hidden.csv",
            "a.csv.part",
            "a.csv.filepart",
            "a.TMP",
            "x.partial",
        ] {
            assert!(is_never_taken(name), "{name}");
        }
        assert!(!is_never_taken("stock_2026-11-25.csv"));
    }

    #[test]
    fn done_markers_gate_and_are_not_taken_themselves() {
        let policy = SettlePolicy {
            done_marker: Some(".done".into()),
            ..SettlePolicy::default()
        };
        let mut settler = Settler::new();
        let (ready, waiting) = settler.look(&policy, &[seen("a.csv", 10, 0)], at(100));
        assert!(ready.is_empty());
        assert_eq!(waiting[0].1, Wait::NoDoneMarker);
        let (ready, waiting) = settler.look(
            &policy,
            &[seen("a.csv", 10, 0), seen("a.csv.done", 0, 1)],
            at(100),
        );
        assert_eq!(ready, vec![seen("a.csv", 10, 0)]);
        assert_eq!(waiting, vec![("a.csv.done".into(), Wait::IsMarker)]);
    }

    #[test]
    fn a_marker_older_than_its_file_is_ignored() {
        let policy = SettlePolicy {
            done_marker: Some(".done".into()),
            ..SettlePolicy::default()
        };
        let mut settler = Settler::new();
        // Same second: the marker was written right after the file.
        let (ready, _) = settler.look(
            &policy,
            &[seen("a.csv", 10, 5), seen("a.csv.done", 0, 5)],
            at(100),
        );
        assert_eq!(ready.len(), 1);
        // The file is written again under the old marker.
        let (ready, waiting) = settler.look(
            &policy,
            &[seen("a.csv", 4, 50), seen("a.csv.done", 0, 5)],
            at(100),
        );
        assert!(ready.is_empty());
        assert!(waiting.contains(&("a.csv".into(), Wait::StaleMarker)));
    }
}
