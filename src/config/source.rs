//! `[source]`: where a pipeline's files come from (a local drop folder or an SFTP server), when
//! a file there is complete (`SettlePolicy`; `transport::settle::Settler` applies it) and when
//! it is a duplicate of an earlier one (`DuplicateRule`; `Ledger::claim` applies it).

use std::path::PathBuf;
use std::time::Duration;

use super::compile::Errs;
use super::pipeline::Home;
use super::raw::SourceRaw;
use super::sftp::SftpEndpoint;

#[derive(Debug, Clone)]
pub struct Source {
    pub folder: PathBuf,
    pub pattern: glob::Pattern,
    pub settle: SettlePolicy,
    /// Files come from this SFTP server rather than the local folder.
    pub sftp: Option<SftpEndpoint>,
    /// When a file is a duplicate of an earlier one (decided by `Ledger::claim`).
    pub duplicates: DuplicateRule,
}

/// The settle rules of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlePolicy {
    /// A file must be at least this old (by mtime) before it is taken.
    pub min_age: Duration,
    /// Two looks at least this far apart must see the same size and mtime.
    pub settle: Duration,
    /// When set, a file is taken only once `name + suffix` exists (e.g. `.done`, `.ok`).
    pub done_marker: Option<String>,
}

impl Default for SettlePolicy {
    fn default() -> Self {
        SettlePolicy {
            min_age: Duration::from_secs(2),
            settle: Duration::from_secs(1),
            done_marker: None,
        }
    }
}

/// The quiet time a network upload needs: a partner's upload over the internet can pause for
/// many seconds (a slow link, a retransmit, a client that writes in bursts) without being done.
pub const NETWORK_QUIET: Duration = Duration::from_secs(60);

impl SettlePolicy {
    /// The defaults for an SFTP source: a file must be unmodified (by its mtime on the server)
    /// for `NETWORK_QUIET` and still unchanged across two listings. A partner pausing mid-upload
    /// for less than a minute is not taken half-written; a local drop is written by a process
    /// on this machine and keeps the short local defaults.
    pub fn sftp_default() -> SettlePolicy {
        SettlePolicy {
            min_age: NETWORK_QUIET,
            ..SettlePolicy::default()
        }
    }

    /// How long a file must have been left alone before it is taken without a done marker:
    /// the longer of `min_age` (by mtime) and `settle` (between listings).
    pub fn quiet_window(&self) -> Duration {
        self.min_age.max(self.settle)
    }

    /// Why this policy is risky for a source written over the network: neither a done marker
    /// nor a quiet window of at least `NETWORK_QUIET`. `None` when it is fine.
    pub fn network_warning(&self) -> Option<String> {
        if self.done_marker.is_some() || self.quiet_window() >= NETWORK_QUIET {
            return None;
        }
        Some(format!(
            "no done_marker and a quiet window of {}s (the longer of min_age_secs and \
             settle_secs): a partner upload pausing longer than that is taken half-written; \
             set done_marker, or min_age_secs to at least {}",
            self.quiet_window().as_secs(),
            NETWORK_QUIET.as_secs()
        ))
    }
}

/// When a file counts as a duplicate of an earlier one of the same pipeline (`[source]
/// duplicates`). Snapshots (a stock file) may repeat unchanged on a later business date and
/// must be processed again, hence the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuplicateRule {
    /// Same content for the same business date.
    #[default]
    ContentPerBusinessDate,
    /// Same content, ever.
    Content,
    /// Same name and same content, ever.
    NameAndContent,
}

impl DuplicateRule {
    pub fn as_str(self) -> &'static str {
        match self {
            DuplicateRule::ContentPerBusinessDate => "content_per_business_date",
            DuplicateRule::Content => "content",
            DuplicateRule::NameAndContent => "name_and_content",
        }
    }

    pub fn parse(text: &str) -> Option<DuplicateRule> {
        [
            DuplicateRule::ContentPerBusinessDate,
            DuplicateRule::Content,
            DuplicateRule::NameAndContent,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }

    /// How a duplicate's reason describes what matched.
    pub fn describe(self) -> &'static str {
        match self {
            DuplicateRule::ContentPerBusinessDate => "same content for the same business date",
            DuplicateRule::Content => "same content",
            DuplicateRule::NameAndContent => "same name and content",
        }
    }
}

/// Compiles `[source]`: folder (default `inbox/<id>`, checked to exist unless the source is
/// SFTP), pattern, settle rules and duplicate rule.
pub(crate) fn compile(id: &str, s: &SourceRaw, home: &Home, errs: &mut Errs) -> Source {
    let folder = s.folder.clone().unwrap_or_else(|| format!("inbox/{id}"));
    let folder_path = home.path(&folder);
    let sftp = s.sftp.as_ref().and_then(|ep| match ep.compile() {
        Ok(ep) => Some(ep),
        Err(es) => {
            for e in es {
                errs.add(&format!("source.sftp.{}", e.key), e.why);
            }
            None
        }
    });
    if s.sftp.is_none() && !folder_path.is_dir() {
        errs.add("source.folder", format!("folder `{folder}` does not exist"));
    }
    let pattern = s.pattern.as_deref().unwrap_or("*");
    let pattern = glob::Pattern::new(pattern).unwrap_or_else(|e| {
        errs.add(
            "source.pattern",
            format!("`{pattern}` is not a valid glob: {e}"),
        );
        glob::Pattern::new("*").expect("literal glob")
    });
    // SFTP sources wait for a network upload's quiet time by default (see
    // `SettlePolicy::sftp_default`); local drops keep the short defaults.
    let defaults = if s.sftp.is_some() {
        SettlePolicy::sftp_default()
    } else {
        SettlePolicy::default()
    };
    let settle = SettlePolicy {
        min_age: s
            .min_age_secs
            .map(Duration::from_secs)
            .unwrap_or(defaults.min_age),
        settle: s
            .settle_secs
            .map(Duration::from_secs)
            .unwrap_or(defaults.settle),
        done_marker: s.done_marker.clone(),
    };
    let duplicates = match s.duplicates.as_deref() {
        None => DuplicateRule::default(),
        Some(text) => DuplicateRule::parse(text).unwrap_or_else(|| {
            errs.add(
                "source.duplicates",
                format!(
                    "`{text}` is not one of content_per_business_date, content, name_and_content"
                ),
            );
            DuplicateRule::default()
        }),
    };
    Source {
        folder: folder_path,
        pattern,
        settle,
        sftp,
        duplicates,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_sources_need_a_marker_or_a_minute_of_quiet() {
        assert!(SettlePolicy::sftp_default().network_warning().is_none());
        let short = SettlePolicy::default();
        assert!(short.network_warning().is_some());
        let marked = SettlePolicy {
            done_marker: Some(".ok".into()),
            ..short.clone()
        };
        assert!(marked.network_warning().is_none());
        let long_settle = SettlePolicy {
            settle: Duration::from_secs(90),
            ..short
        };
        assert!(long_settle.network_warning().is_none());
    }
}
