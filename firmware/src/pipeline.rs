//! One camera frame through both embedded models, the same on every board:
//! preprocess the frame into the model's input (mote-core), run the model with
//! per-op counts, hand its raw outputs to the board, and log what its head
//! makes of them. The segmenter runs first, then the counter, in one arena.
use mote_core::heads::density::{self, Peak};
use mote_core::heads::{segment, MapShape};
use mote_core::preprocess::{PixelFormat, Preprocessor};
use mote_core::profile::CycleCounter;
use mote_core::{Head, Model, Session};

use crate::app::{EXIT_ARENA, EXIT_INPUT, EXIT_MODEL, EXIT_OUTPUT};
use crate::{models::Role, profile};

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
                    "{=str}: {=usize} bytes, {=usize} ops, arena {=usize} bytes, head {=str}",
                    role.name(),
                    role.blob().len(),
                    m.op_count(),
                    m.arena_size(),
                    m.head().name()
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

    /// Each model's preprocessor for frames of `width x height` pixels of
    /// `format`, checked once before any frame (exit status [`EXIT_INPUT`]
    /// if a model cannot take such frames).
    pub fn preprocessors(
        &self,
        format: PixelFormat,
        width: usize,
        height: usize,
    ) -> Result<[Preprocessor; 2], i32> {
        let mut made = [None, None];
        for ((role, model), slot) in Role::ALL.into_iter().zip(&self.models).zip(&mut made) {
            let input = model.input(0).map_err(|_| EXIT_MODEL)?;
            match Preprocessor::new(&input, width, height, format) {
                Ok(p) => *slot = Some(p),
                Err(e) => {
                    defmt::error!(
                        "{=str}: {=usize}x{=usize} {} frames: {}",
                        role.name(),
                        width,
                        height,
                        format,
                        e
                    );
                    return Err(EXIT_INPUT);
                }
            }
        }
        match made {
            [Some(a), Some(b)] => Ok([a, b]),
            _ => Err(EXIT_INPUT),
        }
    }
}

/// Runs both models on `frame` (the camera's bytes, made into each model's
/// input by its preprocessor) in `arena` (`class_map`: scratch for the
/// segmentation head). `emit(role, k, bytes)` receives
/// each model's raw output `k` and returns `false` if it could not keep it.
/// The error is the exit status for the failure, already logged.
pub fn run(
    models: &Models,
    preprocessors: &[Preprocessor; 2],
    counter: &mut impl CycleCounter,
    frame: &[u8],
    arena: &mut [u8],
    class_map: &mut [u8],
    mut emit: impl FnMut(Role, usize, &[u8]) -> bool,
) -> Result<(), i32> {
    let each = Role::ALL.into_iter().zip(&models.models).zip(preprocessors);
    for ((role, model), preprocessor) in each {
        let name = role.name();
        let mut session = match Session::new(model, &mut *arena) {
            Ok(session) => session,
            Err(e) => {
                defmt::error!("{=str}: arena refused: {}", name, e);
                return Err(EXIT_ARENA);
            }
        };
        let Ok(dst) = session.input(0) else {
            return Err(EXIT_MODEL);
        };
        let start = counter.now();
        if let Err(e) = preprocessor.run(frame, dst) {
            defmt::error!("{=str}: frame to model input: {}", name, e);
            return Err(EXIT_INPUT);
        }
        defmt::info!(
            "preprocess {=str}={=u64} model={=str}",
            profile::COUNTER_UNIT,
            counter.now() - start,
            name
        );
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
        report(role, model, &session, class_map)?;
    }
    Ok(())
}

/// Most density peaks logged per frame.
const PEAKS: usize = 4;

/// Logs what the model's head (the blob's `head` field) makes of its output
/// 0: per-class areas and bounding boxes, or the count and strongest peaks.
/// `class_map` is scratch for the segmenter's class map (H x W bytes).
fn report(role: Role, model: &Model, session: &Session, class_map: &mut [u8]) -> Result<(), i32> {
    let name = role.name();
    let (Ok(tensor), Ok(output)) = (model.output(0), session.output(0)) else {
        return Err(EXIT_OUTPUT);
    };
    match model.head() {
        Head::None => {}
        Head::Segmentation => {
            let pixels = MapShape::of_tensor(&tensor)
                .ok()
                .and_then(|(shape, _, _)| shape.pixels())
                .unwrap_or(0);
            let Some(map) = class_map.get_mut(..pixels) else {
                defmt::error!(
                    "{=str}: a {=usize}-pixel class map does not fit {=usize} bytes of scratch",
                    name,
                    pixels,
                    class_map.len()
                );
                return Err(EXIT_OUTPUT);
            };
            let seg =
                match segment::segment_output::<{ segment::MAX_CLASSES }>(&tensor, output, map) {
                    Ok(seg) => seg,
                    Err(e) => {
                        defmt::error!("{=str}: segmentation head: {}", name, e);
                        return Err(EXIT_OUTPUT);
                    }
                };
            for (class, stats) in seg.classes().iter().enumerate() {
                match stats.bbox {
                    Some(b) => defmt::info!(
                        "{=str} class {=usize} area={=u32} bbox={=u16},{=u16},{=u16},{=u16}",
                        name,
                        class,
                        stats.area,
                        b.x_min,
                        b.y_min,
                        b.x_max,
                        b.y_max
                    ),
                    None => defmt::info!("{=str} class {=usize} area=0", name, class),
                }
            }
        }
        Head::Density => {
            let mut peaks = [Peak::default(); PEAKS];
            let found = match density::analyze(&tensor, output, 0.0, &mut peaks) {
                Ok(found) => found,
                Err(e) => {
                    defmt::error!("{=str}: density head: {}", name, e);
                    return Err(EXIT_OUTPUT);
                }
            };
            defmt::info!(
                "{=str} count={=f32} sum_q={=i64} peaks={=u32}",
                name,
                found.count.value(),
                found.count.sum_q,
                found.peaks_found
            );
            for p in peaks.iter().take(found.peaks) {
                defmt::info!("{=str} peak x={=u16} y={=u16} q={=i8}", name, p.x, p.y, p.q);
            }
        }
    }
    Ok(())
}
