//! Host ≡ device: every golden model gives the same output bytes on the
//! simulated Cortex-M4 and Cortex-M7 as `mote-core` on this machine (and so as
//! TFLM, which `golden.rs` checks); and the firmware's faults (a rejected
//! blob, an arena too small, a wrong-sized frame) are typed errors with their
//! own exit status, never a crash.
use mote_host::{
    infer,
    npy::Array,
    sim::{self, SimBoard},
};
use mote_tests::{
    golden::{compile, golden_dir, manifest},
    sim_firmware,
};

/// Firmware exit statuses (firmware/src/run_model.rs).
const EXIT_MODEL: i32 = 3;
const EXIT_ARENA: i32 = 4;
const EXIT_INPUT: i32 = 5;

fn load(name: &str) -> Array {
    Array::read(&golden_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e:#}"))
}

#[test]
fn every_golden_model_gives_the_host_bytes_on_both_boards() {
    let elf = sim_firmware();
    for golden in manifest() {
        let compiled = compile(&golden).unwrap_or_else(|e| panic!("{}: {e:#}", golden.name));
        let model = mote_core::Model::parse(&compiled.blob).expect("blob parses");
        let case = &golden.cases[0];
        let input = load(&case.input);
        let host = infer::run(&model, std::slice::from_ref(&input)).expect("host run");
        for board in SimBoard::ALL {
            let run = sim::run_model(
                &elf,
                board,
                &compiled.blob,
                std::slice::from_ref(&input.data),
                model.output_count(),
                None,
            )
            .unwrap_or_else(|e| panic!("{} on {board:?}: {e:#}", golden.name));
            assert_eq!(
                run.sim.status, 0,
                "{} on {board:?}:\n{}",
                golden.name, run.sim.log
            );
            assert_eq!(run.outputs.len(), host.len());
            for (k, (device, host)) in run.outputs.iter().zip(&host).enumerate() {
                assert!(
                    device == &host.data,
                    "{} output {k} differs on {board:?}",
                    golden.name
                );
            }
            // The board reports a cost for every op and a total covering them.
            assert_eq!(
                run.ops.len(),
                model.op_count(),
                "{}:\n{}",
                golden.name,
                run.sim.log
            );
            let per_op: u64 = run.ops.iter().map(|op| op.instructions).sum();
            let total = run.instructions.expect("total line");
            assert!(
                per_op <= total && total > 0,
                "{}: ops {per_op} > total {total}",
                golden.name
            );
            assert!(run.stack_bytes.is_some_and(|b| b > 0), "no stack figure");
        }
    }
}

fn encdec() -> (Vec<u8>, Vec<u8>, usize) {
    let golden = manifest()
        .into_iter()
        .find(|g| g.name == "encdec")
        .expect("encdec golden");
    let compiled = compile(&golden).expect("compile");
    let input = load(&golden.cases[0].input).data;
    (compiled.blob, input, compiled.arena_size)
}

#[test]
fn a_corrupt_blob_is_rejected_at_boot() {
    let elf = sim_firmware();
    let (mut blob, input, _) = encdec();
    let last = blob.len() - 1;
    blob[last] ^= 0x40; // breaks the CRC
    let run = sim::run_model(
        &elf,
        SimBoard::CortexM4,
        &blob,
        std::slice::from_ref(&input),
        2,
        None,
    )
    .expect("sim");
    assert_eq!(run.sim.status, EXIT_MODEL, "{}", run.sim.log);
    assert!(run.sim.log.contains("model rejected"), "{}", run.sim.log);

    let truncated = &blob[..blob.len() / 2];
    let run = sim::run_model(&elf, SimBoard::CortexM7, truncated, &[input], 2, None).expect("sim");
    assert_eq!(run.sim.status, EXIT_MODEL, "{}", run.sim.log);
}

#[test]
fn an_arena_too_small_is_refused() {
    let elf = sim_firmware();
    let (blob, input, arena) = encdec();
    let run = sim::run_model(
        &elf,
        SimBoard::CortexM4,
        &blob,
        std::slice::from_ref(&input),
        2,
        Some(arena - 1),
    )
    .expect("sim");
    assert_eq!(run.sim.status, EXIT_ARENA, "{}", run.sim.log);
    assert!(run.sim.log.contains("arena of"), "{}", run.sim.log);
    // Exactly the planned size is enough.
    let run =
        sim::run_model(&elf, SimBoard::CortexM4, &blob, &[input], 2, Some(arena)).expect("sim");
    assert_eq!(run.sim.status, 0, "{}", run.sim.log);
}

#[test]
fn a_frame_of_the_wrong_size_is_refused() {
    let elf = sim_firmware();
    let (blob, input, _) = encdec();
    for frame in [
        &input[..input.len() - 1],
        &[input.as_slice(), &[0]].concat()[..],
    ] {
        let run = sim::run_model(&elf, SimBoard::CortexM4, &blob, &[frame.to_vec()], 2, None)
            .expect("sim");
        assert_eq!(run.sim.status, EXIT_INPUT, "{}", run.sim.log);
        assert!(run.sim.log.contains("input 0"), "{}", run.sim.log);
    }
}
