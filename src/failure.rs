//! A command's fatal error: the message for its `error: …` line and the exit status (the
//! README's table of exit codes). Below the commands, so that each of them can return one.

/// Exit status of a run that completed with no more rejections than `--max-rejected` allows.
pub const EXIT_OK: u8 = 0;
/// Exit status of a fatal error (a file, the replay store, the output).
pub const EXIT_FATAL: u8 = 1;
/// Exit status of bad usage.
pub const EXIT_USAGE: u8 = 2;
/// Exit status of a run that completed with more rejections than `--max-rejected` allows.
pub const EXIT_TOO_MANY_REJECTED: u8 = 3;
/// Exit status of a run stopped by SIGINT or SIGTERM (128 + SIGINT, as shells report Ctrl-C).
pub const EXIT_INTERRUPTED: u8 = 130;

/// A fatal error: a message for `error: …` and the exit status.
#[derive(Debug)]
pub struct Failure {
    /// The message, naming the file and the problem.
    pub message: String,
    /// [`EXIT_FATAL`], [`EXIT_USAGE`], [`EXIT_TOO_MANY_REJECTED`] or [`EXIT_INTERRUPTED`].
    pub status: u8,
}

impl Failure {
    /// A fatal error (exit 1).
    pub fn fatal(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            status: EXIT_FATAL,
        }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            status: EXIT_USAGE,
        }
    }
}
