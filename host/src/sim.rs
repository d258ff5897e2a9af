//! Running the firmware on a simulated board (QEMU) and reading what it said.
//!
//! QEMU runs with `-icount shift=0`: every instruction takes one virtual
//! nanosecond, so the firmware's SysTick counts instructions and the figures
//! it logs are the same on every machine. Its defmt frames arrive on QEMU's
//! stdout through semihosting and are decoded with `defmt-print`.
use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context, Result};

/// A simulated board: a QEMU machine and its CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimBoard {
    /// `mps2-an386`: Cortex-M4F.
    CortexM4,
    /// `mps2-an500`: Cortex-M7.
    CortexM7,
}

impl SimBoard {
    pub const ALL: [SimBoard; 2] = [SimBoard::CortexM4, SimBoard::CortexM7];

    pub fn machine(self) -> &'static str {
        match self {
            SimBoard::CortexM4 => "mps2-an386",
            SimBoard::CortexM7 => "mps2-an500",
        }
    }

    pub fn cpu(self) -> &'static str {
        match self {
            SimBoard::CortexM4 => "cortex-m4",
            SimBoard::CortexM7 => "cortex-m7",
        }
    }

    /// Parses `cortex-m4` / `m4` / `mps2-an386` and the M7 equivalents.
    pub fn parse(name: &str) -> Result<SimBoard> {
        match name.to_ascii_lowercase().as_str() {
            "cortex-m4" | "m4" | "mps2-an386" => Ok(SimBoard::CortexM4),
            "cortex-m7" | "m7" | "mps2-an500" => Ok(SimBoard::CortexM7),
            other => bail!("unknown simulated CPU {other:?}: use cortex-m4 or cortex-m7"),
        }
    }
}

/// What one simulated run produced.
#[derive(Debug)]
pub struct SimRun {
    /// QEMU's exit status: the firmware's semihosting exit code.
    pub status: i32,
    /// The raw defmt byte stream.
    pub raw: Vec<u8>,
    /// The decoded log, one message per line (`INFO  ...`).
    pub log: String,
}

impl SimRun {
    /// The first log line that starts with `prefix` after the level, e.g. `calibrate`.
    pub fn line(&self, prefix: &str) -> Option<&str> {
        self.log.lines().find_map(|line| {
            let msg = line.split_once(' ').map(|(_, rest)| rest.trim_start())?;
            msg.starts_with(prefix).then_some(msg)
        })
    }
}

/// Options for one run.
#[derive(Clone, Debug)]
pub struct SimOptions {
    pub board: SimBoard,
    /// Words passed to the firmware (semihosting command line).
    pub args: Vec<String>,
    /// Folder QEMU runs in: semihosting file paths are relative to it.
    pub workdir: Option<PathBuf>,
    /// Wall-clock limit; the run is killed and reported as an error past it.
    pub timeout: Duration,
}

impl SimOptions {
    pub fn new(board: SimBoard) -> Self {
        SimOptions {
            board,
            args: Vec::new(),
            workdir: None,
            timeout: Duration::from_secs(300),
        }
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }
}

fn tool(name: &str, hint: &str) -> Result<PathBuf> {
    crate::firmware::which(name)
        .or_else(|| {
            let home = std::env::var_os("CARGO_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
            let path = home.join("bin").join(name);
            path.is_file().then_some(path)
        })
        .ok_or_else(|| anyhow!("`{name}` not found: {hint}"))
}

/// Runs `elf` under QEMU and decodes its log.
pub fn run(elf: &Path, opts: &SimOptions) -> Result<SimRun> {
    let qemu = tool(
        "qemu-system-arm",
        "install it with `bash scripts/setup.sh` (Debian: qemu-system-arm)",
    )?;
    let mut cmd = Command::new(qemu);
    cmd.args(["-machine", opts.board.machine(), "-cpu", opts.board.cpu()])
        .args(["-nographic", "-monitor", "none", "-serial", "none"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .args(["-icount", "shift=0"])
        .arg("-kernel")
        .arg(elf)
        .args(["-append", &opts.args.join(" ")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = &opts.workdir {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn().context("starting qemu-system-arm")?;
    let mut stdout = child.stdout.take().context("qemu stdout")?;
    let mut stderr = child.stderr.take().context("qemu stderr")?;
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).map(|_| buf)
    });
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        stderr.read_to_end(&mut buf).map(|_| buf)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > opts.timeout {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "simulation exceeded {:?} ({} {:?})",
                opts.timeout,
                opts.board.machine(),
                opts.args
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    let raw = out_reader
        .join()
        .map_err(|_| anyhow!("stdout reader panicked"))??;
    let qemu_err = err_reader
        .join()
        .map_err(|_| anyhow!("stderr reader panicked"))??;
    let Some(code) = status.code() else {
        bail!(
            "qemu killed by a signal: {}",
            String::from_utf8_lossy(&qemu_err)
        );
    };
    let log = decode(elf, &raw)?;
    Ok(SimRun {
        status: code,
        raw,
        log,
    })
}

/// Decodes a defmt byte stream with `defmt-print -e ELF`.
pub fn decode(elf: &Path, raw: &[u8]) -> Result<String> {
    let printer = tool(
        "defmt-print",
        "install it with `bash scripts/setup.sh` (cargo install defmt-print)",
    )?;
    let mut child = Command::new(printer)
        .arg("-e")
        .arg(elf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting defmt-print")?;
    let mut stdin = child.stdin.take().context("defmt-print stdin")?;
    let input = raw.to_vec();
    let writer = thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output()?;
    writer
        .join()
        .map_err(|_| anyhow!("defmt-print writer panicked"))??;
    if !out.status.success() {
        bail!(
            "defmt-print failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
