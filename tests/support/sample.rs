//! Test data: deterministic bytes and their sha256.
#![allow(dead_code)]

use sha2::{Digest, Sha256};

/// Deterministic, incompressible-looking bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}
