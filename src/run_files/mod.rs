//! The files a `verify` run reads and writes, made safe before the first record is judged:
//!
//! - [`paths`]: every path resolved to its file; a written file that is another written file or
//!   a read one is refused (`--output` = `--input` would truncate the evidence being read).
//! - [`preflight`]: every file to be written is shown writable, so a missing folder fails at once.
//! - [`lock`]: exclusive locks on the output and the replay state for the whole run.
//! - [`resume`]: the run record that binds an output to what produced it, and what `--resume`
//!   keeps of the output.

pub mod lock;
pub mod paths;
pub mod preflight;
pub mod resume;
