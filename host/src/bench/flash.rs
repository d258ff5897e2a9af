//! What the firmware puts in flash, read from its ELF.
//!
//! Method: flash is every allocated section that lives in the image (below
//! RAM at 0x2000_0000: vector table, `.text`, `.rodata`) plus the load image
//! of `.data`. Runtime code is split by the ELF's symbol table: the sizes of
//! function symbols whose demangled name mentions `mote_core` (its own
//! functions and generic code instantiated for its types) against every other
//! function symbol (the firmware application, `cortex-m-rt`, defmt,
//! semihosting, `core`, compiler builtins). With fat LTO, a `mote_core`
//! function inlined into a firmware function counts as firmware, so the
//! `mote_core` figure is a lower bound of the runtime's code.
use std::path::Path;

use anyhow::{Context, Result};
use object::{Object, ObjectSection, ObjectSymbol, SectionFlags, SymbolKind};

/// Where RAM starts on the simulated boards (`firmware/memory.x`).
const RAM_START: u64 = 0x2000_0000;
const SHF_ALLOC: u64 = 0x2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlashSplit {
    /// Every byte the image needs in flash.
    pub flash_bytes: u64,
    /// `.text` (all code).
    pub text_bytes: u64,
    /// `.rodata` (constants, defmt's tables live outside flash).
    pub rodata_bytes: u64,
    /// `.data`'s initial values, copied from flash at boot.
    pub data_bytes: u64,
    /// Function symbols of `mote_core`.
    pub mote_core_code_bytes: u64,
    /// The part of them that is the runtime proper (model reader, planner,
    /// interpreter, kernels): `mote_core` minus camera preprocessing and the
    /// task heads, which an application may or may not use.
    pub runtime_code_bytes: u64,
    /// All other function symbols.
    pub other_code_bytes: u64,
    /// The largest `mote_core` functions (demangled, hash stripped), by size.
    pub largest_mote_core: Vec<(String, u64)>,
}

/// Reads the split from the firmware ELF at `path`.
pub fn split(path: &Path) -> Result<FlashSplit> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let file = object::File::parse(&*bytes).context("parsing the firmware ELF")?;
    let mut split = FlashSplit {
        flash_bytes: 0,
        text_bytes: 0,
        rodata_bytes: 0,
        data_bytes: 0,
        mote_core_code_bytes: 0,
        runtime_code_bytes: 0,
        other_code_bytes: 0,
        largest_mote_core: Vec::new(),
    };
    for section in file.sections() {
        let alloc = matches!(section.flags(), SectionFlags::Elf { sh_flags, .. } if sh_flags.0 & SHF_ALLOC != 0);
        let name = section.name().unwrap_or("");
        let is_bss = matches!(section.kind(), object::SectionKind::UninitializedData);
        if !alloc || is_bss {
            continue;
        }
        if name == ".data" {
            split.data_bytes += section.size();
            split.flash_bytes += section.size();
        } else if section.address() < RAM_START {
            split.flash_bytes += section.size();
            match name {
                ".text" => split.text_bytes += section.size(),
                ".rodata" => split.rodata_bytes += section.size(),
                _ => {}
            }
        }
    }
    let mut mote = Vec::new();
    for symbol in file.symbols() {
        if symbol.kind() != SymbolKind::Text || symbol.size() == 0 {
            continue;
        }
        let name = format!(
            "{:#}",
            rustc_demangle::demangle(symbol.name().unwrap_or(""))
        );
        if name.contains("mote_core") {
            split.mote_core_code_bytes += symbol.size();
            if !name.contains("mote_core::preprocess") && !name.contains("mote_core::heads") {
                split.runtime_code_bytes += symbol.size();
            }
            mote.push((name, symbol.size()));
        } else {
            split.other_code_bytes += symbol.size();
        }
    }
    mote.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    mote.truncate(10);
    split.largest_mote_core = mote;
    Ok(split)
}
