//! One profiled inference, logged the same way on every board: a line per op
//! and a total. The unit is the board counter's: instructions in simulation,
//! core clock cycles on a real board (`counter` names it in the log).
use mote_core::{profile::CycleCounter, Session};

/// What the board's counter counts, for the log.
pub const COUNTER_UNIT: &str = if cfg!(feature = "board-sim") {
    "instructions"
} else {
    "cycles"
};

/// Runs `session` once, logging each op's count and MACs and the total, each
/// line tagged `model=NAME` so logs of several models can be told apart.
pub fn run(
    counter: &mut impl CycleCounter,
    session: &mut Session,
    name: &str,
) -> mote_core::Result<u64> {
    let mut total_macs = 0u64;
    let start = counter.now();
    session.run_profiled(counter, |op| {
        total_macs += op.macs;
        defmt::info!(
            "op {=u16} {} {=str}={=u64} macs={=u64} model={=str}",
            op.index,
            op.code,
            COUNTER_UNIT,
            op.cycles,
            op.macs,
            name
        );
    })?;
    let total = counter.now() - start;
    defmt::info!(
        "total {=str}={=u64} macs={=u64} model={=str}",
        COUNTER_UNIT,
        total,
        total_macs,
        name
    );
    Ok(total)
}
