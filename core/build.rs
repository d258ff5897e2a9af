//! Decides whether the kernels may use the Armv7E-M DSP instructions
//! (SXTB16, SMLAD, SSAT, ...) in `kernels::fast`.
//!
//! `cfg(target_feature = "dsp")` would be the natural test, but stable rustc
//! does not report that feature, so it cannot tell a Cortex-M4 from a
//! Cortex-M0+ (both `target_arch = "arm"`). The target name can: every
//! `thumbv7em-*` core has the DSP extension, and a target with `+dsp` in its
//! features (e.g. a Cortex-M33 built with `-C target-feature=+dsp`) says so.
//! Anything else (thumbv6m, thumbv7m, thumbv8m.base, the host) gets the
//! plain-Rust formulation of the same arithmetic, bit for bit.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(mote_dsp)");
    println!("cargo::rerun-if-env-changed=TARGET");
    let target = std::env::var("TARGET").unwrap_or_default();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let arm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "arm");
    let dsp = target.starts_with("thumbv7em") || features.split(',').any(|f| f == "dsp");
    if arm && dsp {
        println!("cargo::rustc-cfg=mote_dsp");
    }
}
