//! seglake init's library on a schema the demo does not use: members and
//! their payments (a hive-partitioned folder), plus a branch table without
//! the key.

mod errors;
mod fixtures;
mod key_guess;
mod overwrite;
mod walkthrough;
