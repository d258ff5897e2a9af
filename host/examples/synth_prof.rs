//! Render-only timing of the synthetic generators (no PNG encoding, no disk):
//! `cargo run --release -p mote-host --example synth_prof -- faces|crowds [N]`.
//! Run it under `perf stat -e task-clock` to get CPU time per image.
use mote_host::synth::{crowds, faces};

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "faces".into());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(400);
    let t = std::time::Instant::now();
    for i in 0..n {
        if which == "faces" {
            std::hint::black_box(faces::render(1, i, 96));
        } else {
            std::hint::black_box(crowds::render(1, i, 128));
        }
    }
    let ms = t.elapsed().as_secs_f64() * 1000.0 / n.max(1) as f64;
    eprintln!("{which}: {ms:.2} ms wall per image (single thread)");
}
