//! An allocation burst that outruns the guard ends the process with exit
//! code 2 and the named message, from inside the allocator: never a kernel
//! kill, never an abort.

use std::process::Command;

use seglake_memory::{Budget, CountingAllocator, enforce, enter_activity, in_use, resident_bytes};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const MIB: usize = 1024 * 1024;
const CHILD: &str = "SEGLAKE_MEMORY_HARD_STOP_CHILD";

#[test]
fn a_burst_past_the_ceiling_ends_the_process_with_code_2_and_the_message() {
    if std::env::var_os(CHILD).is_some() {
        burst();
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_burst_past_the_ceiling_ends_the_process_with_code_2_and_the_message",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("error: memory limit: the process reached"),
        "{stderr}"
    );
    assert!(stderr.contains("Running: stage `burst`."), "{stderr}");
    assert!(!stderr.contains("SHOULD NOT PRINT"), "{stderr}");
}

/// In the child: one allocation of 1 GiB against a ceiling of the current
/// use plus 96 MiB.
fn burst() -> ! {
    let base = in_use().max(resident_bytes().unwrap());
    enforce(Budget {
        limit: base + 32 * MIB,
        margin: 64 * MIB,
    });
    let _named = enter_activity("stage `burst`");
    let block = vec![0u8; 1024 * MIB];
    eprintln!("SHOULD NOT PRINT {}", block.len());
    std::process::exit(0);
}
