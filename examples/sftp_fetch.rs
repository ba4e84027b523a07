//! Downloads one file with the SFTP transport and prints bytes, seconds and MB/s (used by
//! bench/sftp_throughput.sh).
//!
//! Usage: sftp_fetch HOST PORT USER KEY_FILE KNOWN_HOSTS FOLDER NAME STAGING_PATH

use std::time::Instant;

use tallyman::config::sftp::{AfterClaimRaw, SftpRaw};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [host, port, user, key, known_hosts, folder, name, staging] = args.as_slice() else {
        return Err(
            "usage: sftp_fetch HOST PORT USER KEY_FILE KNOWN_HOSTS FOLDER NAME STAGING_PATH".into(),
        );
    };
    let raw = SftpRaw {
        host: host.clone(),
        port: port.parse()?,
        user: user.clone(),
        key_file: key.into(),
        passphrase_env: None,
        known_hosts: known_hosts.into(),
        folder: folder.clone(),
        pattern: "*".into(),
        after_claim: AfterClaimRaw::Keep,
        move_to: None,
        connect_timeout_secs: 15,
        io_timeout_secs: 60,
        poll_secs: 60,
    };
    let endpoint = raw.compile().map_err(|errs| {
        errs.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let client = endpoint.connect()?;
    let sighting = client
        .list()?
        .into_iter()
        .find(|s| &s.name == name)
        .ok_or_else(|| format!("{name} not found in {folder}"))?;
    let started = Instant::now();
    let mut last_byte_at = started;
    let fetched =
        client.fetch_with_progress(&sighting, std::path::Path::new(staging), &mut |_| {
            last_byte_at = Instant::now()
        })?;
    let secs = started.elapsed().as_secs_f64();
    // What follows the last byte: fsync of the staging file and the remote re-stat.
    let after_last_byte = last_byte_at.elapsed().as_secs_f64();
    println!(
        "bytes={} seconds={secs:.3} fsync_and_restat_seconds={after_last_byte:.3} mb_per_s={:.1} cipher={} sha256={}",
        fetched.bytes,
        fetched.bytes as f64 / 1e6 / secs,
        client.cipher(),
        fetched.sha256
    );
    Ok(())
}
