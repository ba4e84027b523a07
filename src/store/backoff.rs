//! When a failed try is tried again: one doubling backoff, shared by the upload queue, the
//! remote source's after-claim actions and the mail queue (each with its own first delay and cap).

/// A doubling backoff: `first_secs` after the first failure, twice that after the second, and
/// so on, never more than `max_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first_secs: i64,
    pub max_secs: i64,
}

impl Backoff {
    /// SFTP uploads and after-claim actions: 30 s, doubling, at most an hour (a partner's
    /// server is usually back within minutes).
    pub const SFTP: Backoff = Backoff {
        first_secs: 30,
        max_secs: 3600,
    };
    /// Report mail: a minute, doubling, at most six hours (a relay that is down for a day still
    /// gets a few tries).
    pub const MAIL: Backoff = Backoff {
        first_secs: 60,
        max_secs: 6 * 3600,
    };

    /// The daemon's ledger connection after it broke (PostgreSQL restarted or unreachable):
    /// a second, doubling, at most half a minute (work waits for it).
    pub const LEDGER: Backoff = Backoff {
        first_secs: 1,
        max_secs: 30,
    };

    /// Seconds to wait after the `attempts`-th failed try (1-based; 0 counts as the first).
    pub fn after(self, attempts: i64) -> i64 {
        // 20 doublings exceed any cap in use and keep the shift far from overflowing.
        let shift = (attempts.max(1) - 1).min(20);
        (self.first_secs << shift).min(self.max_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;

    #[test]
    fn uploads_double_up_to_an_hour() {
        let got: Vec<i64> = (1..=9).map(|n| Backoff::SFTP.after(n)).collect();
        assert_eq!(got, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(Backoff::SFTP.after(0), 30);
    }

    #[test]
    fn mail_doubles_up_to_six_hours() {
        let got: Vec<i64> = [1, 2, 3, 9, 10, 40]
            .map(|n| Backoff::MAIL.after(n))
            .to_vec();
        assert_eq!(got, [60, 120, 240, 15360, 21600, 21600]);
    }
}
