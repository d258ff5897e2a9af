//! `frames N FORMAT W H` (simulated board): camera frames from the host
//! through both embedded models.
//!
//! Reads `frame0.bin` .. `frame{N-1}.bin` (each `W x H` pixels of `FORMAT`,
//! e.g. `rgb565`), runs the pipeline on each, and writes every raw output back
//! as `frame{k}.{model}{j}.bin` (e.g. `frame0.segmenter0.bin`). A frame of the
//! wrong size is refused with [`EXIT_INPUT`] before any model runs on it.
//!
//! `models` writes the embedded blobs back (`segmenter.mote`,
//! `counter.mote`), so the host can run exactly what the firmware runs.
use crate::app::{FramesArgs, EXIT_INPUT, EXIT_OUTPUT};
use crate::models::Role;
use crate::pipeline::{self, Models};
use crate::{board::Board, files, memory, stack};

pub fn run(board: &mut Board, args: &FramesArgs) -> i32 {
    let Some(memory::Buffers {
        arena,
        frame,
        class_map,
        ..
    }) = memory::take()
    else {
        defmt::error!("buffers already taken");
        return 1;
    };
    let models = match Models::load() {
        Ok(models) => models,
        Err(code) => return code,
    };
    let expected = args
        .width
        .checked_mul(args.height)
        .and_then(|n| n.checked_mul(args.format.bytes_per_pixel()));
    let Some(expected) = expected.filter(|&n| n > 0 && n <= frame.len()) else {
        defmt::error!(
            "a {=usize}x{=usize} {} frame does not fit the {=usize}-byte frame buffer",
            args.width,
            args.height,
            args.format,
            frame.len()
        );
        return EXIT_INPUT;
    };
    let preprocessors = match models.preprocessors(args.format, args.width, args.height) {
        Ok(p) => p,
        Err(code) => return code,
    };
    for k in 0..args.count {
        let Some(name) = files::Path::new(format_args!("frame{k}.bin")) else {
            return EXIT_INPUT;
        };
        let Some(path) = name.as_c_str() else {
            return EXIT_INPUT;
        };
        let got = match files::read(path, frame) {
            Ok(n) => n,
            Err(e) => {
                defmt::error!(
                    "frame {=u32}: {} (a {=usize}x{=usize} {} frame is {=usize} bytes)",
                    k,
                    e,
                    args.width,
                    args.height,
                    args.format,
                    expected
                );
                return EXIT_INPUT;
            }
        };
        if got != expected {
            defmt::error!(
                "frame {=u32}: {=usize} bytes, a {=usize}x{=usize} {} frame is {=usize} bytes",
                k,
                got,
                args.width,
                args.height,
                args.format,
                expected
            );
            return EXIT_INPUT;
        }
        defmt::info!("frame {=u32}", k);
        let pixels = frame.get(..expected).unwrap_or_default();
        let emit = |role: Role, j: usize, bytes: &[u8]| {
            let name = files::Path::new(format_args!("frame{k}.{}{j}.bin", role.name()));
            match name.as_ref().and_then(|n| n.as_c_str()) {
                Some(path) => files::write(path, bytes).is_ok(),
                None => false,
            }
        };
        if let Err(code) = pipeline::run(
            &models,
            &preprocessors,
            &mut board.counter,
            pixels,
            arena,
            class_map,
            emit,
        ) {
            return code;
        }
    }
    defmt::info!("stack high-water {=usize} bytes", stack::high_water());
    defmt::info!("done");
    0
}

/// `models`: hands the embedded blobs back to the host.
pub fn dump_models() -> i32 {
    for role in Role::ALL {
        let name = files::Path::new(format_args!("{}.mote", role.name()));
        let Some(path) = name.as_ref().and_then(|n| n.as_c_str()) else {
            return EXIT_OUTPUT;
        };
        if let Err(e) = files::write(path, role.blob()) {
            defmt::error!("{=str}: {}", role.name(), e);
            return EXIT_OUTPUT;
        }
    }
    defmt::info!("done");
    0
}
