//! The last resort: the process ended from inside an allocation, with a
//! message and exit code 2, when memory grew too fast for the guard.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use crate::budget::{Budget, MIB};
use crate::thresholds::ENFORCED;

/// Set by the first thread that ends the process.
static ENDING: AtomicBool = AtomicBool::new(false);

/// The last resort, called from inside an allocation: writes what
/// happened to standard error and exits with code 2 at once (no unwinding,
/// no destructors, no allocation). Nothing that was not committed is
/// published; a run row is not written.
pub(crate) fn end_process(reached: usize) -> ! {
    // One message: another thread past the ceiling waits for the exit.
    if ENDING.swap(true, Relaxed) {
        loop {
            // SAFETY: pause has no preconditions; the process is exiting.
            unsafe { libc::pause() };
        }
    }
    let mut message = StackText::default();
    let budget = ENFORCED
        .try_lock()
        .ok()
        .and_then(|b| *b)
        .unwrap_or(Budget::for_limit(0));
    let _ = std::fmt::Write::write_fmt(
        &mut message,
        format_args!(
            "error: memory limit: the process reached {} MiB, past --memory-limit {} MiB plus its margin of {} MiB, too fast to stop the work in order; it was ended before the kernel would kill it. ",
            reached / MIB,
            budget.limit / MIB,
            budget.margin / MIB
        ),
    );
    crate::activity::with_activity(|activity| {
        let _ = std::fmt::Write::write_fmt(&mut message, format_args!("Running: {activity}. "));
    });
    let _ = std::fmt::Write::write_str(
        &mut message,
        "Nothing uncommitted was published. Raise --memory-limit, or see the README's section on memory.\n",
    );
    // SAFETY: writing a buffer we own to standard error, then exiting
    // without running anything else.
    unsafe {
        libc::write(2, message.bytes.as_ptr().cast(), message.len);
        libc::_exit(2);
    }
}

/// Text formatted into a fixed buffer: formatting must not allocate inside
/// the allocator. What does not fit is cut.
struct StackText {
    bytes: [u8; 1024],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            bytes: [0; 1024],
            len: 0,
        }
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = self.bytes.len() - self.len;
        let n = s.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_text_cuts_what_does_not_fit() {
        let mut text = StackText::default();
        for _ in 0..200 {
            std::fmt::Write::write_str(&mut text, "0123456789").unwrap();
        }
        assert_eq!(text.len, 1024);
        assert_eq!(&text.bytes[1020..1024], b"0123");
    }
}
