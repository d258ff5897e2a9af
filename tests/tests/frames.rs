//! The simulated board runs its embedded segmenter and counter on camera
//! frames (`frames N FORMAT W H`): the same bytes as the host running the same
//! core preprocessing and Session on the same frame, and a wrong-sized frame
//! refused with a clear message and the input exit status.
use mote_core::heads::{density, segment, MapShape};
use mote_core::preprocess::{PixelFormat, Preprocessor};
use mote_core::{Head, Model};
use mote_host::{
    frames::{self, ClassResult, FrameRun},
    infer,
    npy::Array,
    sim::SimBoard,
};
use mote_tests::sim_firmware;

/// Firmware exit status for a bad input (firmware/src/app.rs).
const EXIT_INPUT: i32 = 5;

/// A deterministic test picture: gradients and a bright square, so the
/// preprocessing's crop and resize have something to get wrong.
fn picture(width: usize, height: usize, seed: usize) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let square = (x / 16 + y / 16 + seed).is_multiple_of(3);
            rgb.push((x * 255 / width.max(1)) as u8);
            rgb.push((y * 255 / height.max(1)) as u8);
            rgb.push(if square { 240 } else { (seed * 60 % 256) as u8 });
        }
    }
    rgb
}

/// What the host makes of `frame` with `model`: core's preprocessing, then a
/// Session (through `infer::run`), then the model's head over output 0.
fn host_run(model: &Model, frame: &[u8], format: PixelFormat, w: usize, h: usize) -> Vec<Vec<u8>> {
    let input = model.input(0).expect("input 0");
    let pre = Preprocessor::new(&input, w, h, format).expect("preprocessor");
    let mut bytes = vec![0u8; pre.input_len()];
    pre.run(frame, &mut bytes).expect("preprocess");
    let shape: Vec<usize> = input.shape.dims().iter().map(|&d| d as usize).collect();
    let values: Vec<i8> = bytes.iter().map(|&b| b as i8).collect();
    let outputs = infer::run(model, &[Array::from_i8(&shape, &values)]).expect("host run");
    outputs.into_iter().map(|a| a.data).collect()
}

/// The head's results on the host, in the form the firmware logs them.
fn host_head(model: &Model, output0: &[u8]) -> (Vec<ClassResult>, Option<(f32, i64, u32)>) {
    let tensor = model.output(0).expect("output 0");
    match model.head() {
        Head::None => (Vec::new(), None),
        Head::Segmentation => {
            let (shape, _, _) = MapShape::of_tensor(&tensor).expect("map shape");
            let mut map = vec![0u8; shape.pixels().unwrap()];
            let seg =
                segment::segment_output::<{ segment::MAX_CLASSES }>(&tensor, output0, &mut map)
                    .expect("segment");
            let classes = seg
                .classes()
                .iter()
                .map(|c| ClassResult {
                    area: c.area,
                    bbox: c.bbox.map(|b| [b.x_min, b.y_min, b.x_max, b.y_max]),
                })
                .collect();
            (classes, None)
        }
        Head::Density => {
            let mut peaks = [density::Peak::default(); 4];
            let d = density::analyze(&tensor, output0, 0.0, &mut peaks).expect("density");
            (
                Vec::new(),
                Some((d.count.value(), d.count.sum_q, d.peaks_found)),
            )
        }
    }
}

fn check_frame(models: &[Model; 2], device: &FrameRun, host: [Vec<Vec<u8>>; 2], what: &str) {
    for (((name, model), run), host) in frames::MODELS
        .iter()
        .zip(models)
        .zip(&device.models)
        .zip(host)
    {
        assert_eq!(run.outputs.len(), model.output_count(), "{what} {name}");
        for (k, (d, h)) in run.outputs.iter().zip(&host).enumerate() {
            assert!(d == h, "{what} {name}: output {k} differs from the host's");
        }
        assert_eq!(
            run.ops.len(),
            model.op_count(),
            "{what} {name}: per-op lines"
        );
        let total = run.instructions.expect("total line");
        let per_op: u64 = run.ops.iter().map(|op| op.instructions).sum();
        assert!(
            per_op <= total && total > 0,
            "{what} {name}: ops {per_op}, total {total}"
        );
        let (classes, count) = host_head(model, &host[0]);
        assert_eq!(run.classes, classes, "{what} {name}: class areas and boxes");
        assert_eq!(
            run.count.map(|c| (c.count, c.sum_q, c.peaks)),
            count,
            "{what} {name}: count"
        );
    }
}

#[test]
fn embedded_models_give_the_host_bytes_on_camera_frames() {
    let elf = sim_firmware();
    let blobs = frames::embedded_models(&elf, SimBoard::CortexM4).expect("models command");
    let models = [
        Model::parse(&blobs[0]).expect("segmenter"),
        Model::parse(&blobs[1]).expect("counter"),
    ];
    // Whatever is embedded, both heads must be exercised.
    assert_eq!(models[0].head(), Head::Segmentation);
    assert_eq!(models[1].head(), Head::Density);
    let cases = [
        (PixelFormat::Rgb565Be, 160, 120, SimBoard::CortexM4),
        (PixelFormat::Rgb888, 96, 64, SimBoard::CortexM7),
    ];
    for (format, w, h, board) in cases {
        let frames: Vec<Vec<u8>> = (0..3)
            .map(|seed| frames::encode(format, &picture(w, h, seed)).expect("encode"))
            .collect();
        let run = frames::run_frames(&elf, board, &frames, format, w, h).expect("sim");
        assert_eq!(run.sim.status, 0, "{}", run.sim.log);
        assert_eq!(run.frames.len(), frames.len());
        for (k, (device, frame)) in run.frames.iter().zip(&frames).enumerate() {
            let host = [
                host_run(&models[0], frame, format, w, h),
                host_run(&models[1], frame, format, w, h),
            ];
            check_frame(
                &models,
                device,
                host,
                &format!("{board:?} {format:?} frame {k}"),
            );
        }
        assert!(run.stack_bytes.is_some_and(|b| b > 0), "no stack figure");
    }
}

#[test]
fn the_firmware_hands_back_the_models_it_embeds() {
    let elf = sim_firmware();
    let blobs = frames::embedded_models(&elf, SimBoard::CortexM4).expect("models command");
    for (name, blob) in frames::MODELS.iter().zip(&blobs) {
        let model = mote_core::Model::parse(blob).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(model.op_count() > 0, "{name}");
    }
}

#[test]
fn a_frame_of_the_wrong_size_is_refused() {
    let elf = sim_firmware();
    let (w, h) = (160, 120);
    let good = frames::encode(PixelFormat::Rgb565Be, &picture(w, h, 0)).expect("encode");
    for frame in [
        &good[..good.len() - 1],
        &[good.as_slice(), &[0, 0]].concat()[..],
    ] {
        let run = frames::run_frames(
            &elf,
            SimBoard::CortexM4,
            &[good.clone(), frame.to_vec()],
            PixelFormat::Rgb565Be,
            w,
            h,
        )
        .expect("sim");
        assert_eq!(run.sim.status, EXIT_INPUT, "{}", run.sim.log);
        let wanted = format!(
            "frame 1: {} bytes, a 160x120 Rgb565Be frame is 38400 bytes",
            frame.len()
        );
        assert!(run.sim.log.contains(&wanted), "{}", run.sim.log);
        // Frame 0 was fine and went through both models before frame 1 was refused.
        assert_eq!(run.frames.len(), 1, "{}", run.sim.log);
    }
    // A size the frame buffer cannot hold at all.
    let run = frames::run_frames(
        &elf,
        SimBoard::CortexM7,
        &[good],
        PixelFormat::Rgb888,
        4000,
        3000,
    )
    .expect("sim");
    assert_eq!(run.sim.status, EXIT_INPUT, "{}", run.sim.log);
    assert!(run.sim.log.contains("does not fit"), "{}", run.sim.log);
}
