//! STM32H743 board (NUCLEO-H743ZI2), run under a debug probe with `probe-rs run`.
//!
//! - Logs: defmt over RTT (`defmt-rtt`); probe-rs decodes them on the host.
//! - Time: the DWT cycle counter, so per-layer figures are core clock cycles
//!   (not instructions as in simulation).
//! - Command: a real board has no command line; it always runs `camera`
//!   (see `camera_app`).
//! - Exit: the status is logged, then a breakpoint halts the core, which ends
//!   `probe-rs run` (use `--catch-hardfault`, its default, so a fault ends it too).
//!
//! Clocks: 480 MHz from the internal 64 MHz HSI (no dependency on the
//! board's crystal or ST-LINK clock output), voltage scale 0 (rev V silicon).
//! Instruction and data caches are on, as a real application would run.
mod bus;
mod dwt;

use defmt_rtt as _;
use stm32h7xx_hal::{
    gpio, i2c, pac,
    prelude::*,
    spi::{self, Enabled, Spi},
};

pub use bus::{CycleDelay, I2cBus, SpiDev};
pub use dwt::DwtCounter;

/// Core clock the board is set up for.
pub const CORE_HZ: u32 = 480_000_000;

/// The ArduCAM Mini 2MP on the NUCLEO's Arduino header: I2C1 on PB8/PB9,
/// SPI1 on PA5/PA6/PB5 with chip select on PD14 (see camera/README.md).
pub type Camera = mote_camera::Ov2640<
    I2cBus<i2c::I2c<pac::I2C1>>,
    SpiDev<Spi<pac::SPI1, Enabled, u8>, gpio::PD14<gpio::Output<gpio::PushPull>>, CycleDelay>,
    CycleDelay,
>;

pub struct Board {
    pub counter: DwtCounter,
    pub args: Args,
    /// Core clock actually reached, in Hz.
    pub core_hz: u32,
    /// The camera's buses; nothing has been sent to it yet.
    pub camera: Camera,
}

impl Board {
    pub fn take() -> Self {
        let (Some(mut cp), Some(dp)) = (cortex_m::Peripherals::take(), pac::Peripherals::take())
        else {
            defmt::panic!("peripherals taken twice");
        };
        cp.SCB.enable_icache();
        cp.SCB.enable_dcache(&mut cp.CPUID);

        let pwrcfg = dp.PWR.constrain().vos0(&dp.SYSCFG).freeze();
        let ccdr = dp
            .RCC
            .constrain()
            .sys_ck(CORE_HZ.Hz())
            // SPI1's kernel clock; the bus clock is divided down from it.
            .pll1_q_ck(48.MHz())
            .freeze(pwrcfg, &dp.SYSCFG);
        let core_hz = ccdr.clocks.c_ck().raw();
        let delay = CycleDelay { core_hz };

        let gpioa = dp.GPIOA.split(ccdr.peripheral.GPIOA);
        let gpiob = dp.GPIOB.split(ccdr.peripheral.GPIOB);
        let gpiod = dp.GPIOD.split(ccdr.peripheral.GPIOD);

        let i2c = dp.I2C1.i2c(
            (
                gpiob.pb8.into_alternate_open_drain(),
                gpiob.pb9.into_alternate_open_drain(),
            ),
            100.kHz(),
            ccdr.peripheral.I2C1,
            &ccdr.clocks,
        );
        let spi = dp.SPI1.spi(
            (
                gpioa.pa5.into_alternate(),
                gpioa.pa6.into_alternate(),
                gpiob.pb5.into_alternate(),
            ),
            spi::MODE_0,
            8.MHz(),
            ccdr.peripheral.SPI1,
            &ccdr.clocks,
        );
        let mut cs = gpiod.pd14.into_push_pull_output();
        cs.set_high();
        let spi = SpiDev {
            bus: spi,
            cs,
            delay,
        };

        Board {
            counter: DwtCounter::start(cp.DCB, cp.DWT),
            args: Args,
            core_hz,
            camera: mote_camera::Ov2640::new(I2cBus(i2c), spi, delay),
        }
    }
}

/// The real board's "command line": always `camera`.
pub struct Args;

impl Args {
    pub fn words(&self) -> impl Iterator<Item = &str> {
        "camera".split_ascii_whitespace()
    }
}

/// Logs `code` and halts. Under `probe-rs run` the breakpoint ends the run;
/// without a debugger a breakpoint would fault, so the core just sleeps.
pub fn exit(code: i32) -> ! {
    if code == 0 {
        defmt::info!("exit status 0");
    } else {
        defmt::error!("exit status {=i32}", code);
    }
    if cortex_m::peripheral::DCB::is_debugger_attached() {
        cortex_m::asm::bkpt();
    }
    loop {
        cortex_m::asm::wfi();
    }
}
