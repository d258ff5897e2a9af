//! Stack high-water mark by painting.
//!
//! cortex-m-rt's `paint-stack` feature fills the free RAM between the statics
//! and the initial stack pointer with a known word before `main`. Whatever
//! the program has pushed since has overwritten it, so the first unpainted
//! word from the bottom marks the deepest the stack ever reached.
use cortex_m_rt::STACK_PAINT_VALUE;

extern "C" {
    /// Initial stack pointer (top of the stack), from cortex-m-rt's link.x.
    static _stack_start: u32;
    /// Lowest address the stack may grow to (end of the statics).
    static _stack_end: u32;
}

/// Bytes of stack used so far, at most.
pub fn high_water() -> usize {
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let bottom = core::ptr::addr_of!(_stack_end) as usize;
    let mut addr = bottom;
    while addr < top {
        // SAFETY: [bottom, top) is RAM reserved for the stack by the linker
        // script, word-aligned (asserted there), and readable at any time.
        let word = unsafe { core::ptr::read_volatile(addr as *const u32) };
        if word != STACK_PAINT_VALUE {
            break;
        }
        addr += 4;
    }
    top - addr
}
