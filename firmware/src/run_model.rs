//! `run`: load a model and its inputs from the host, run it with per-op
//! instruction counts, and hand the outputs back.
//!
//! Files (relative to QEMU's folder): `model.mote`, `input0.bin`..., written
//! back as `output0.bin`... Each failure has its own exit status so the host
//! can tell a bad model from a bad frame without parsing the log.
use mote_core::{Model, Session};

use crate::{board::Board, files, memory, profile, stack};

use crate::app::{EXIT_ARENA, EXIT_INPUT, EXIT_MODEL, EXIT_OUTPUT};

/// Runs `model.mote` on its inputs; `arena_limit` caps the arena (to test
/// the too-small-arena path).
pub fn run(board: &mut Board, arena_limit: Option<usize>) -> i32 {
    let Some(memory::Buffers {
        model: model_buf,
        arena,
        ..
    }) = memory::take()
    else {
        defmt::error!("buffers already taken");
        return 1;
    };
    let len = match files::read(c"model.mote", model_buf) {
        Ok(len) => len,
        Err(e) => {
            defmt::error!("cannot load model.mote: {}", e);
            return EXIT_MODEL;
        }
    };
    let blob = model_buf.get(..len).unwrap_or_default();
    let model = match Model::parse(blob) {
        Ok(model) => model,
        Err(e) => {
            defmt::error!("model rejected: {}", e);
            return EXIT_MODEL;
        }
    };
    defmt::info!(
        "model: {=usize} bytes, {=usize} ops, arena {=usize} bytes, constants {=usize} bytes",
        len,
        model.op_count(),
        model.arena_size(),
        model.constant_bytes()
    );
    let arena_len = arena_limit.unwrap_or(arena.len()).min(arena.len());
    let arena = arena.get_mut(..arena_len).unwrap_or_default();
    let mut session = match Session::new(&model, arena) {
        Ok(session) => session,
        Err(e) => {
            defmt::error!("arena of {=usize} bytes refused: {}", arena_len, e);
            return EXIT_ARENA;
        }
    };
    for k in 0..model.input_count() {
        let Some(name) = files::Path::new(format_args!("input{k}.bin")) else {
            return EXIT_INPUT;
        };
        let Some(path) = name.as_c_str() else {
            return EXIT_INPUT;
        };
        let Ok(dst) = session.input(k) else {
            return EXIT_INPUT;
        };
        let expected = dst.len();
        match files::read(path, dst) {
            Ok(n) if n == expected => {}
            Ok(n) => {
                defmt::error!(
                    "input {=usize}: {=usize} bytes, model expects {=usize}",
                    k,
                    n,
                    expected
                );
                return EXIT_INPUT;
            }
            Err(e) => {
                defmt::error!(
                    "input {=usize}: {} (model expects {=usize} bytes)",
                    k,
                    e,
                    expected
                );
                return EXIT_INPUT;
            }
        }
    }

    if let Err(e) = profile::run(&mut board.counter, &mut session, "model") {
        defmt::error!("run failed: {}", e);
        return EXIT_MODEL;
    }

    for k in 0..model.output_count() {
        let name = files::Path::new(format_args!("output{k}.bin"));
        let (Some(path), Ok(bytes)) = (name.as_ref().and_then(|n| n.as_c_str()), session.output(k))
        else {
            return EXIT_OUTPUT;
        };
        if let Err(e) = files::write(path, bytes) {
            defmt::error!("output {=usize}: {}", k, e);
            return EXIT_OUTPUT;
        }
    }
    defmt::info!("stack high-water {=usize} bytes", stack::high_water());
    defmt::info!("done");
    0
}
