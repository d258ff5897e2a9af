//! Cycle counting, abstracted so one run can report cost per layer on any board.
//!
//! On hardware this is the DWT cycle counter; under QEMU (`-icount shift=0`)
//! SysTick counts executed instructions instead, because DWT reads zero there.

/// A free-running counter of processor cycles (or instructions, in simulation).
pub trait CycleCounter {
    /// The current count. Must be monotonic between two calls within one run;
    /// implementations extend narrow hardware counters to 64 bits.
    fn now(&mut self) -> u64;
}

/// A counter for builds that do not profile: always reads zero.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCounter;

impl CycleCounter for NoCounter {
    fn now(&mut self) -> u64 {
        0
    }
}
