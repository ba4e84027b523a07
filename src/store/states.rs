//! The states the ledger stores as text: one enum per state column, written and read through
//! `as_str`/`FromStr` (and rusqlite's `ToSql`/`FromSql` here in `store`), so a typo is a compile
//! error and a value the code does not know is a clear error rather than a silent default.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

/// An unknown state word, for `FromStr`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownState {
    pub what: &'static str,
    pub value: String,
}

/// Declares a text-stored state: its variants and their words, `as_str`, `FromStr`,
/// `Display`, serde (the word) and the SQLite conversions.
macro_rules! text_state {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($(#[$vmeta:meta])* $variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $word)] $variant),+
        }

        impl $name {
            /// Every state, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word stored in the ledger (and shown to users).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownState;
            fn from_str(s: &str) -> Result<Self, UnknownState> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err(UnknownState { what: $what, value: s.to_string() }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl crate::store::db::ToValue for $name {
            fn to_value(&self) -> crate::store::db::Value {
                crate::store::db::Value::Text(self.as_str().to_string())
            }
        }

        impl crate::store::db::FromValue for $name {
            fn from_value(v: &crate::store::db::Value) -> Result<Self, String> {
                String::from_value(v)?.parse().map_err(|e: UnknownState| e.to_string())
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let text = value.as_str()?;
                text.parse().map_err(|e: UnknownState| FromSqlError::Other(Box::new(e)))
            }
        }
    };
}

text_state!(
    /// A run's state (`runs.state`).
    RunState, "run state", {
        /// Started and not ended (or interrupted by a crash: recovery ends it).
        Running => "running",
        Succeeded => "succeeded",
        /// The partner's file was refused (quarantined).
        Rejected => "rejected",
        /// The run failed on the pipeline's configuration or an operational error.
        Failed => "failed",
    }
);

text_state!(
    /// A file's state in the ledger (`files.state`).
    FileState, "file state", {
        /// Taken and not finished: processed by the next pass (recovery).
        Claimed => "claimed",
        Processed => "processed",
        Duplicate => "duplicate",
        /// Rejected for its data (or after its operational failures ran out of attempts).
        Quarantined => "quarantined",
        /// Claimed, its bytes kept in the landing area, held until the ERP extract for its
        /// business date arrives or the pipeline's wait runs out (`runner::erp_wait`).
        Waiting => "waiting",
        /// Its run failed on the pipeline's own configuration (a transform's SQL, an output):
        /// not the partner's fault, so held (not quarantined, not retried) until a `rerun` after
        /// the fix.
        Failed => "failed",
    }
);

text_state!(
    /// An upload's state (`deliveries.state`).
    DeliveryState, "delivery state", {
        /// Queued, or backing off after a failed try.
        Pending => "pending",
        Delivered => "delivered",
        /// Failed for good: a person must look (`tallyman uploads retry`).
        Failed => "failed",
    }
);

text_state!(
    /// A queued report mail's state (`mail_queue.state`).
    MailState, "mail state", {
        /// Waiting to be sent (or backing off after a transient failure).
        Queued => "queued",
        /// The relay answered 250, or the spool file is in place.
        Sent => "sent",
        /// Refused for good (5xx), kept with the server's text.
        Failed => "failed",
    }
);

text_state!(
    /// Where a run's exception report stands (`runs.report_state`; NULL in runs from before it).
    ReportState, "report state", {
        /// The run ended; its report is not archived and queued yet.
        Pending => "pending",
        Done => "done",
    }
);

text_state!(
    /// An after-claim action's state (`remote_actions.state`).
    RemoteActionState, "remote action state", {
        /// Refused by the server; retried with backoff.
        Pending => "pending",
        Done => "done",
        /// No longer needed: the remote file is gone or was replaced.
        Dropped => "dropped",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back() {
        for s in RunState::ALL {
            assert_eq!(s.as_str().parse::<RunState>(), Ok(*s));
        }
        for s in FileState::ALL {
            assert_eq!(s.as_str().parse::<FileState>(), Ok(*s));
        }
        for s in DeliveryState::ALL {
            assert_eq!(s.as_str().parse::<DeliveryState>(), Ok(*s));
        }
        for s in MailState::ALL {
            assert_eq!(s.as_str().parse::<MailState>(), Ok(*s));
        }
        for s in ReportState::ALL {
            assert_eq!(s.as_str().parse::<ReportState>(), Ok(*s));
        }
        for s in RemoteActionState::ALL {
            assert_eq!(s.as_str().parse::<RemoteActionState>(), Ok(*s));
        }
        assert!("Succeeded".parse::<RunState>().is_err());
        assert_eq!(
            serde_json::to_string(&FileState::Quarantined)
                .ok()
                .as_deref(),
            Some("\"quarantined\"")
        );
    }
}
