//! The real-board firmware (STM32H743) builds and is laid out for the chip:
//! there is no board here, so this checks the ELF a probe would flash.
use mote_host::firmware::{self, BoardKind};
use object::{elf, read::elf::ElfFile32, Endianness, Object, ObjectSection};

const FLASH: std::ops::Range<u64> = 0x0800_0000..0x0800_0000 + 2 * 1024 * 1024;
const AXI_SRAM: std::ops::Range<u64> = 0x2400_0000..0x2400_0000 + 512 * 1024;

#[test]
fn h743_firmware_is_laid_out_for_the_chip() {
    let elf_path = firmware::build(BoardKind::H743)
        .unwrap_or_else(|e| panic!("real-board firmware build failed: {e:#}"));
    let sim_path = firmware::build(BoardKind::Sim).expect("simulated-board firmware");
    assert_ne!(elf_path, sim_path, "each board needs its own ELF");

    let data = std::fs::read(&elf_path).expect("read ELF");
    let file = ElfFile32::<Endianness>::parse(&*data).expect("a 32-bit ELF");
    assert_eq!(file.elf_header().e_machine.get(file.endian()), elf::EM_ARM);

    // The vector table sits at the start of flash, where the H743 boots from:
    // word 0 is the initial stack pointer (top of AXI SRAM), word 1 the reset
    // handler (a Thumb address in flash).
    let vectors = file
        .section_by_name(".vector_table")
        .expect(".vector_table section");
    assert_eq!(vectors.address(), FLASH.start);
    let words = vectors.data().expect("vector table bytes");
    let word = |k: usize| u32::from_le_bytes(words[4 * k..4 * k + 4].try_into().unwrap()) as u64;
    assert_eq!(word(0), AXI_SRAM.end, "initial stack pointer");
    let reset = word(1);
    assert!(
        reset & 1 == 1,
        "reset vector {reset:#x} is not a Thumb address"
    );
    assert!(
        FLASH.contains(&(reset & !1)),
        "reset vector {reset:#x} outside flash"
    );

    // Code and constants in flash, data in AXI SRAM.
    for name in [".text", ".rodata"] {
        let s = file
            .section_by_name(name)
            .unwrap_or_else(|| panic!("no {name}"));
        assert!(FLASH.contains(&s.address()), "{name} at {:#x}", s.address());
        assert!(
            s.address() + s.size() <= FLASH.end,
            "{name} overflows flash"
        );
    }
    for name in [".data", ".bss"] {
        let s = file
            .section_by_name(name)
            .unwrap_or_else(|| panic!("no {name}"));
        assert!(
            AXI_SRAM.contains(&s.address()),
            "{name} at {:#x}",
            s.address()
        );
        assert!(
            s.address() + s.size() <= AXI_SRAM.end,
            "{name} overflows RAM"
        );
    }

    // defmt's interned strings: what probe-rs decodes the RTT log with.
    let defmt = file.section_by_name(".defmt").expect(".defmt section");
    assert!(defmt.size() > 0, "empty .defmt section");
    // The RTT control block that defmt-rtt writes the log to.
    assert!(
        file.symbols()
            .any(|s| object::ObjectSymbol::name(&s) == Ok("_SEGGER_RTT")),
        "no RTT control block"
    );
}

/// The real board links only the shipped models' kernels (`shipped-ops`),
/// while the simulated board, which runs any model, links all of them.
#[test]
fn h743_firmware_links_only_the_shipped_models_kernels() {
    use object::ObjectSymbol;
    let kernels = |path: &std::path::Path| -> std::collections::BTreeSet<String> {
        let data = std::fs::read(path).expect("read ELF");
        let file = object::File::parse(&*data).expect("ELF");
        file.symbols()
            .filter(|s| s.kind() == object::SymbolKind::Text)
            .filter_map(|s| {
                let name = format!("{:#}", rustc_demangle::demangle(s.name().ok()?));
                let rest = name.split("mote_core::kernels::").nth(1)?;
                let op = rest.split("::").next()?;
                Some(op.to_string())
            })
            .collect()
    };
    let board = kernels(&firmware::build(BoardKind::H743).expect("real-board firmware"));
    let sim = kernels(&firmware::build(BoardKind::Sim).expect("simulated-board firmware"));
    for op in ["conv2d", "depthwise_conv2d", "conv2d_fused", "add"] {
        assert!(board.contains(op), "real board lacks {op}: {board:?}");
    }
    for op in [
        "mul",
        "softmax",
        "logistic",
        "max_pool2d",
        "fully_connected",
        "mean",
    ] {
        assert!(sim.contains(op), "simulated board lacks {op}: {sim:?}");
        assert!(!board.contains(op), "real board links {op}: {board:?}");
    }
}
