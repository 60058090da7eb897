//! How a run reports its steps.

/// Receives the name of each step as it starts, for a progress display.
pub trait Progress: Send + Sync {
    fn step(&self, message: &str);
}

/// Logs `message` and shows it on `progress`.
pub(crate) fn step(progress: &dyn Progress, message: &str) {
    tracing::info!("{message}");
    progress.step(message);
}
