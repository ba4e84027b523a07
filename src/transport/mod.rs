//! Where files come from and go: local drop folders and SFTP servers (the only code that knows ssh2).
pub mod settle;
pub mod sftp;
