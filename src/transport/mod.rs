//! Where files come from and go: local drop folders (and SFTP, later).
pub mod settle;
