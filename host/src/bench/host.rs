//! `mote bench --host FILE`: inferences per second of `mote-core` on the
//! machine running `mote` (x86 or whatever the host is), single thread.
//!
//! This is the figure set next to TFLite's and TFLM's own x86 timings by
//! `bench/tflite_compare.py`, so the method is the same as that script's:
//! a short warm-up, then batches of inferences until the time is up; the
//! rate reported is the median over batches (robust to a busy machine), and
//! the mean is given too. Each inference copies its input into the arena and
//! runs every op, cycling through the given inputs.
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Result};
use mote_core::{align_arena, Model, Session};

use crate::infer;
use crate::npy::Array;

/// How many batches the timed period is split into (the median is taken
/// over them).
const BATCHES: u32 = 15;

/// The result of timing one model.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTiming {
    /// Inferences in the timed period (warm-up excluded).
    pub inferences: u64,
    /// Length of the timed period.
    pub seconds: f64,
    /// Median over batches of (inferences / batch time).
    pub median_per_second: f64,
    /// `inferences / seconds`.
    pub mean_per_second: f64,
    /// The arena the model's blob asks for, in bytes.
    pub arena_bytes: usize,
}

impl HostTiming {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "inferences": self.inferences,
            "seconds": self.seconds,
            "inferences_per_second": self.median_per_second,
            "mean_inferences_per_second": self.mean_per_second,
            "ms_per_inference": 1000.0 / self.median_per_second,
            "arena_bytes": self.arena_bytes,
        })
    }
}

/// Times `model` for about `seconds` (after a warm-up of about a tenth of
/// that), with `inputs` as successive inputs of its single input tensor.
pub fn time(model: &Model<'_>, inputs: &[Array], seconds: f64) -> Result<HostTiming> {
    let err = |e: mote_core::Error| anyhow!("{e}");
    ensure!(!inputs.is_empty(), "no input to time the model with");
    ensure!(
        seconds.is_finite() && seconds > 0.0,
        "the time must be a positive number of seconds, not {seconds}"
    );
    for input in inputs {
        infer::check_inputs(model, std::slice::from_ref(input))?;
    }
    let mut buf = vec![0u8; model.arena_size() + model.arena_align()];
    let arena = align_arena(&mut buf, model.arena_align());
    let mut session = Session::new(model, arena).map_err(err)?;
    let mut next = 0usize;
    let mut once = |session: &mut Session<'_, '_>| -> Result<()> {
        let input = &inputs[next % inputs.len()];
        next = next.wrapping_add(1);
        session.set_input(0, &input.data).map_err(err)?;
        session.run().map_err(err)
    };

    // Warm-up; also sizes the batches so that there are about BATCHES of them.
    let warm = Duration::from_secs_f64(seconds / 10.0);
    let started = Instant::now();
    let mut warm_runs = 0u64;
    while warm_runs < 3 || started.elapsed() < warm {
        once(&mut session)?;
        warm_runs += 1;
    }
    let per_run = started.elapsed().as_secs_f64() / warm_runs as f64;
    let batch = ((seconds / f64::from(BATCHES) / per_run) as u64).max(1);

    let mut rates = Vec::new();
    let mut inferences = 0u64;
    let timed = Instant::now();
    while rates.len() < BATCHES as usize || timed.elapsed().as_secs_f64() < seconds {
        let t = Instant::now();
        for _ in 0..batch {
            once(&mut session)?;
        }
        rates.push(batch as f64 / t.elapsed().as_secs_f64());
        inferences += batch;
    }
    let total = timed.elapsed().as_secs_f64();
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    Ok(HostTiming {
        inferences,
        seconds: total,
        median_per_second: median,
        mean_per_second: inferences as f64 / total,
        arena_bytes: model.arena_size(),
    })
}
