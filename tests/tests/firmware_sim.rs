//! The firmware on both simulated boards: it boots, logs through defmt, counts
//! instructions exactly, and reports failure as an exit status.
use mote_host::sim::{self, SimBoard, SimOptions};
use mote_tests::sim_firmware;

fn run(board: SimBoard, args: &[&str]) -> sim::SimRun {
    let elf = sim_firmware();
    sim::run(&elf, &SimOptions::new(board).args(args.iter().copied()))
        .unwrap_or_else(|e| panic!("simulation on {board:?} failed: {e:#}"))
}

#[test]
fn boots_and_logs_on_both_boards() {
    for (board, name) in [
        (SimBoard::CortexM4, "CortexM4"),
        (SimBoard::CortexM7, "CortexM7"),
    ] {
        let run = run(board, &[]);
        assert_eq!(run.status, 0, "{board:?} log:\n{}", run.log);
        let banner = run
            .line("mote firmware")
            .unwrap_or_else(|| panic!("no banner:\n{}", run.log));
        assert!(
            banner.ends_with(&format!("on {name}")),
            "wrong CPU in {banner:?}"
        );
        assert!(
            run.line("mote-core").is_some(),
            "core not reported:\n{}",
            run.log
        );
        assert!(run.line("done").is_some(), "did not finish:\n{}", run.log);
        let stack = run.line("stack high-water").expect("stack line");
        let bytes: u64 = stack
            .split_whitespace()
            .nth(2)
            .and_then(|v| v.parse().ok())
            .expect("bytes");
        // Painting works: some stack was used, and far less than the 4 MiB RAM.
        assert!(
            (64..64 * 1024).contains(&bytes),
            "implausible stack high-water: {stack}"
        );
    }
}

/// `calibrate N` runs `N` iterations of a two-instruction loop (`subs; bne`,
/// see firmware/src/calibrate.rs), so the counter must see `2 (N - 1)` more
/// instructions than for `N = 1`. Each of the two measurements is quantised to
/// one SysTick tick (40 instructions), so their difference is exact to within
/// two ticks.
#[test]
fn instruction_counter_matches_a_known_loop() {
    for board in SimBoard::ALL {
        for n in [1_000u64, 250_000, 3_000_000] {
            let run = run(board, &["calibrate", &n.to_string()]);
            assert_eq!(run.status, 0, "{}", run.log);
            let line = run.line("calibrate").expect("calibrate line");
            let loop_count: u64 = field(line, "loop=");
            let expected = 2 * (n - 1);
            assert!(
                loop_count.abs_diff(expected) < 80,
                "{board:?}: measured {loop_count} instructions, loop has {expected} ({line})"
            );
        }
    }
}

#[test]
fn a_panic_is_a_failed_run_with_its_message() {
    for board in SimBoard::ALL {
        let run = run(board, &["panic"]);
        assert_ne!(run.status, 0, "a panic must fail the run:\n{}", run.log);
        assert!(
            run.log.contains("ERROR") && run.log.contains("panic requested"),
            "{}",
            run.log
        );
    }
}

#[test]
fn an_unknown_command_fails() {
    let run = run(SimBoard::CortexM4, &["no-such-command"]);
    assert_eq!(run.status, 2, "{}", run.log);
    assert!(
        run.log.contains("unknown command no-such-command"),
        "{}",
        run.log
    );
}

fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(key))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
}
