//! Core clock cycles from the DWT cycle counter (CYCCNT), extended to 64 bits.
use cortex_m::peripheral::{DCB, DWT};
use mote_core::profile::CycleCounter;

/// CYCCNT is 32 bits: it wraps every 2^32 cycles, about 8.9 s at 480 MHz.
/// `now` counts a wrap whenever a reading is below the previous one, so the
/// 64-bit value is right **provided `now` is called at least once per 2^32
/// cycles**. Per-layer profiling reads it around every op, far more often.
pub struct DwtCounter {
    _dwt: DWT,
    last: u32,
    wraps: u32,
}

impl DwtCounter {
    /// Turns on trace (DEMCR.TRCENA, which powers the DWT), unlocks the DWT
    /// (the Cortex-M7 has a software lock on it) and starts CYCCNT from 0.
    pub fn start(mut dcb: DCB, mut dwt: DWT) -> Self {
        dcb.enable_trace();
        DWT::unlock();
        dwt.set_cycle_count(0);
        dwt.enable_cycle_counter();
        DwtCounter {
            _dwt: dwt,
            last: 0,
            wraps: 0,
        }
    }
}

impl CycleCounter for DwtCounter {
    fn now(&mut self) -> u64 {
        let count = DWT::cycle_count();
        if count < self.last {
            self.wraps = self.wraps.wrapping_add(1);
        }
        self.last = count;
        (u64::from(self.wraps) << 32) | u64::from(count)
    }
}
