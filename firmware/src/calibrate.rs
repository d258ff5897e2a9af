//! A loop whose instruction count is known from its machine code, to check the
//! instruction counter: `n` iterations of `subs; bne` execute exactly `2 n`
//! instructions, whatever the compiler does around them.
use mote_core::profile::CycleCounter;

#[inline(never)]
fn spin(n: u32) {
    // SAFETY: register-only arithmetic and a local branch; touches no memory.
    #[cfg(target_arch = "arm")]
    unsafe {
        core::arch::asm!(
            "2:",
            "subs {n}, {n}, #1",
            "bne 2b",
            n = inout(reg) n => _,
            options(nomem, nostack),
        );
    }
    #[cfg(not(target_arch = "arm"))]
    core::hint::black_box(n);
}

/// Counts `spin(n)`; `n` must be at least 1.
pub fn measure(counter: &mut impl CycleCounter, n: u32) -> u64 {
    let n = n.max(1);
    let start = counter.now();
    spin(n);
    counter.now() - start
}
