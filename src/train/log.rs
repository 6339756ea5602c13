//! `RUN/log.jsonl`: one JSON line per training step.

use crate::error::{Error, Result};
use std::path::Path;

/// Makes the log end where a state saved after `steps_done` steps ends, before a resumed run
/// appends to it: a run killed after its last save logged steps the saved state never
/// reached, and those steps are run again. Lines carry the 0-based index of their step, so
/// the lines kept are those below `steps_done`; a torn last line (killed mid-write) goes too.
/// The log is rewritten atomically; returns how many lines were dropped.
pub fn truncate_log(path: &Path, steps_done: u64) -> Result<usize> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut kept = String::with_capacity(text.len());
    let mut dropped = 0;
    for line in text.lines() {
        let line_step = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("step").and_then(|s| s.as_u64()));
        match line_step {
            Some(s) if s < steps_done => {
                kept.push_str(line);
                kept.push('\n');
            }
            _ => dropped += 1,
        }
    }
    if dropped > 0 {
        crate::io::write_atomic(path, kept.as_bytes())?;
    }
    Ok(dropped)
}
