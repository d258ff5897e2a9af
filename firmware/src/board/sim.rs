//! The simulated board: QEMU `mps2-an386` (Cortex-M4F) or `mps2-an500` (Cortex-M7).
//!
//! Logs leave through semihosting (`defmt-semihosting`), and so does the exit
//! status. Time is SysTick on the processor clock: QEMU's mps2 boards clock it
//! at 25 MHz, and with `-icount shift=0` every instruction takes one virtual
//! nanosecond, so one tick is exactly 40 instructions.
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use cortex_m_rt::exception;
use defmt_semihosting as _;
use mote_core::profile::CycleCounter;

/// Instructions per SysTick tick under `-icount shift=0` (1 GHz virtual / 25 MHz).
pub const INSTRUCTIONS_PER_TICK: u64 = 40;
const RELOAD: u32 = 0x00FF_FFFF;

/// SysTick wraps every 2^24 ticks (about 671 M instructions); the exception
/// handler extends it to 64 bits.
static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

pub struct Board {
    pub counter: InstructionCounter,
    /// Arguments given to QEMU with `-append "..."`, read once at start.
    pub args: Args,
}

impl Board {
    pub fn take() -> Self {
        let Some(mut p) = cortex_m::Peripherals::take() else {
            defmt::panic!("peripherals taken twice");
        };
        p.SYST.set_clock_source(SystClkSource::Core);
        p.SYST.set_reload(RELOAD);
        p.SYST.clear_current();
        p.SYST.enable_interrupt();
        p.SYST.enable_counter();
        Board {
            counter: InstructionCounter { _syst: p.SYST },
            args: Args::read(),
        }
    }
}

/// Executed-instruction counter on SysTick (see the module docs).
pub struct InstructionCounter {
    _syst: SYST,
}

impl CycleCounter for InstructionCounter {
    fn now(&mut self) -> u64 {
        loop {
            let before = WRAPS.load(Ordering::Acquire);
            let remaining = SYST::get_current();
            let after = WRAPS.load(Ordering::Acquire);
            // A wrap between the two loads makes `remaining` ambiguous: read again.
            if before == after {
                let ticks =
                    u64::from(before) * (u64::from(RELOAD) + 1) + u64::from(RELOAD - remaining);
                return ticks * INSTRUCTIONS_PER_TICK;
            }
        }
    }
}

/// The semihosting command line (`qemu ... -append "args"`), kept in a fixed buffer.
pub struct Args {
    buf: [u8; 256],
    len: usize,
}

impl Args {
    fn read() -> Self {
        let mut args = Args {
            buf: [0; 256],
            len: 0,
        };
        if let Ok(cmdline) = semihosting::experimental::env::args::<256>() {
            // The first word is the program name.
            for s in cmdline.flatten().skip(1) {
                let need = s.len() + 1;
                if args.len + need > args.buf.len() {
                    break;
                }
                args.buf[args.len..args.len + s.len()].copy_from_slice(s.as_bytes());
                args.buf[args.len + s.len()] = b' ';
                args.len += need;
            }
        }
        args
    }

    /// The words of the command line, after the program name.
    pub fn words(&self) -> impl Iterator<Item = &str> {
        core::str::from_utf8(&self.buf[..self.len])
            .unwrap_or("")
            .split_ascii_whitespace()
    }
}

/// Ends the simulation with `code` as QEMU's exit status.
pub fn exit(code: i32) -> ! {
    semihosting::process::exit(code)
}
