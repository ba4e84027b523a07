//! The `tallyman` command line.
fn main() {}
