//! Signals set the daemon's flags: raised in-process, and a second stop signal forcing exit in a child.
//!
//! Handlers are process-wide, so every in-process check lives in one test, run in order.

use std::process::Command;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::low_level::raise;
use tallyman::daemon::signals::Signals;

const CHILD_ENV: &str = "TALLYMAN_TEST_SIGNALS_CHILD";
const SURVIVED: &str = "survived-first-signal";

fn send(signal: i32) {
    raise(signal).unwrap_or_else(|e| panic!("raise {signal}: {e}"));
}

#[test]
fn signals_set_the_flags() {
    let signals = Signals::install().expect("install handlers");
    assert!(!signals.shutdown_requested());
    assert!(!signals.take_reload());

    // (signal, reload requests seen, shutdown afterwards)
    let steps = [(SIGHUP, 1, false), (SIGHUP, 1, false), (SIGTERM, 0, true)];
    for (signal, reloads, shutdown) in steps {
        send(signal);
        let seen = std::iter::from_fn(|| signals.take_reload().then_some(())).count();
        assert_eq!(seen, reloads, "signal {signal}");
        assert_eq!(signals.shutdown_requested(), shutdown, "signal {signal}");
    }
    // Two HUPs before a look are one reload.
    send(SIGHUP);
    send(SIGHUP);
    assert!(signals.take_reload());
    assert!(!signals.take_reload());
    let flag = signals.shutdown_flag();
    assert!(flag.load(std::sync::atomic::Ordering::SeqCst));
    drop(signals);

    let fresh = Signals::install().expect("install again");
    assert!(!fresh.shutdown_requested(), "flags are per installation");
    send(SIGINT);
    assert!(fresh.shutdown_requested());
    assert!(!fresh.take_reload());
}

#[test]
fn a_second_stop_signal_exits_at_once() {
    // (first signal, second signal)
    for (first, second) in [(SIGTERM, SIGTERM), (SIGINT, SIGINT), (SIGTERM, SIGINT)] {
        let output = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "signals_child_helper",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, format!("{first} {second}"))
            .output()
            .expect("run child");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains(SURVIVED), "{first}/{second}: {stdout}");
        assert_eq!(output.status.code(), Some(1), "{first}/{second}: {stdout}");
    }
}

/// Not a test on its own: the child side of the test above (a no-op unless CHILD_ENV is set).
#[test]
fn signals_child_helper() {
    let Ok(pair) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut numbers = pair.split(' ').filter_map(|n| n.parse::<i32>().ok());
    let (Some(first), Some(second)) = (numbers.next(), numbers.next()) else {
        panic!("bad {CHILD_ENV}: {pair:?}")
    };
    let signals = Signals::install().expect("install handlers");
    send(first);
    assert!(signals.shutdown_requested());
    println!("{SURVIVED}");
    send(second);
    // Reaching this line means the second signal did not end the process: exit 0 fails the test.
    std::process::exit(0);
}
