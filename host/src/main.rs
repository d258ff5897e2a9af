//! `mote`: the command-line front end. Each subcommand lives in `cmd/`.
use clap::Parser;

mod cmd;

fn main() -> anyhow::Result<()> {
    keep_freed_memory();
    cmd::Cli::parse().run()
}

/// Training allocates and frees the same multi-megabyte tensors every step.
/// With glibc's defaults each of them is `mmap`ed, then handed back to the
/// kernel when freed, and the next step faults every page in again (zeroed):
/// measured on a segmenter training run, 597 k page faults and 7.5 s of CPU
/// for 8 steps, against 136 k and 4.9 s with freed memory kept in the heap,
/// for the same bytes out. So raise the mmap threshold to glibc's maximum
/// (32 MiB on 64-bit) and never trim the heap. Data-parallel training adds
/// worker threads, whose glibc arenas grow and shrink their heaps on their
/// own: there a 64 MiB top pad took a 2-thread segmenter run from 13 s of
/// system time (page faults) to 1 s, and from 30 to 53 images per second.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: `mallopt` only changes allocator tuning parameters; it is
    // called before any other thread exists, and a rejected value leaves
    // the default in place (its return value says so; both are harmless).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}
