//! The simulated board runs its embedded segmenter and counter on camera
//! frames (`frames N FORMAT W H`): the same bytes as the host running the same
//! core preprocessing and Session on the same frame, and a wrong-sized frame
//! refused with a clear message and the input exit status.
use mote_host::{
    frames::{self, PixelFormat},
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
            let square = (x / 16 + y / 16 + seed) % 3 == 0;
            rgb.push((x * 255 / width.max(1)) as u8);
            rgb.push((y * 255 / height.max(1)) as u8);
            rgb.push(if square { 240 } else { (seed * 60 % 256) as u8 });
        }
    }
    rgb
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
    let good = PixelFormat::Rgb565.encode(&picture(w, h, 0));
    for frame in [&good[..good.len() - 1], &[good.as_slice(), &[0, 0]].concat()[..]] {
        let run = frames::run_frames(
            &elf,
            SimBoard::CortexM4,
            &[good.clone(), frame.to_vec()],
            "rgb565",
            w,
            h,
        )
        .expect("sim");
        assert_eq!(run.sim.status, EXIT_INPUT, "{}", run.sim.log);
        let wanted = format!("frame 1: {} bytes, a 160x120 Rgb565 frame is 38400 bytes", frame.len());
        assert!(run.sim.log.contains(&wanted), "{}", run.sim.log);
        // Frame 0 was fine and went through both models before frame 1 was refused.
        assert_eq!(run.frames.len(), 1, "{}", run.sim.log);
    }
    // A size the frame buffer cannot hold at all.
    let run = frames::run_frames(&elf, SimBoard::CortexM7, &[good], "rgb888", 4000, 3000)
        .expect("sim");
    assert_eq!(run.sim.status, EXIT_INPUT, "{}", run.sim.log);
    assert!(run.sim.log.contains("does not fit"), "{}", run.sim.log);
}
