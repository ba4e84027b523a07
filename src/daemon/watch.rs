//! Drop-folder change events (inotify on Linux, through `notify`) as a hint to look sooner.
//! The periodic full scan stays the truth: a lost or overflowed event queue only asks for a
//! full rescan, and a folder that cannot be watched is still scanned.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

/// What the watcher tells the run loop.
#[derive(Debug)]
pub enum Hint {
    /// Something changed in these paths (files inside watched folders).
    Changed(Vec<PathBuf>),
    /// Events may have been lost (queue overflow, watcher error): look everywhere.
    Rescan,
}

/// Watches `folders` (not recursively); `None` when no watcher could be started.
pub fn watch<M: From<Hint> + Send + 'static>(
    folders: &[PathBuf],
    to: Sender<M>,
) -> Option<RecommendedWatcher> {
    let handler = move |res: notify::Result<Event>| {
        let hint = match res {
            Ok(ev) if ev.need_rescan() => Hint::Rescan,
            Ok(ev) if !worth_a_look(&ev.kind) => return,
            Ok(ev) => Hint::Changed(ev.paths),
            Err(e) => {
                tracing::warn!("folder watch error: {e}; rescanning every folder");
                Hint::Rescan
            }
        };
        let _ = to.send(M::from(hint));
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!("cannot watch folders ({e}); relying on the periodic scan");
            return None;
        }
    };
    for folder in folders {
        if let Err(e) = watcher.watch(folder, RecursiveMode::NonRecursive) {
            tracing::warn!(
                "cannot watch {} ({e}); relying on the periodic scan",
                folder.display()
            );
        }
    }
    Some(watcher)
}

/// Reads (our own landing copies) are not changes; a writer closing its file is.
fn worth_a_look(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Whether an event path concerns a folder: the folder itself or an entry directly inside it.
pub fn concerns(folder: &Path, path: &Path) -> bool {
    path == folder || path.parent() == Some(folder)
}
