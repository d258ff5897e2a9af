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

/// What one op cost on the simulated board.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpCost {
    pub index: u16,
    /// The op's name as the firmware logs it (e.g. `Conv2d`).
    pub op: String,
    pub instructions: u64,
    pub macs: u64,
}

/// A model run on the simulated board (`firmware run`).
#[derive(Debug)]
pub struct ModelRun {
    pub sim: SimRun,
    /// Output tensors' bytes, in the model's output order (empty on failure).
    pub outputs: Vec<Vec<u8>>,
    /// Instructions for the whole inference, as counted on the board.
    pub instructions: Option<u64>,
    pub ops: Vec<OpCost>,
    pub stack_bytes: Option<u64>,
}

/// Runs `blob` on the simulated board with `inputs` (raw tensor bytes, one
/// per model input). `outputs` is how many output files to collect.
/// `arena_limit` caps the firmware's arena, to exercise its arena check.
pub fn run_model(
    elf: &Path,
    board: SimBoard,
    blob: &[u8],
    inputs: &[Vec<u8>],
    outputs: usize,
    arena_limit: Option<usize>,
) -> Result<ModelRun> {
    let dir = tempfile::tempdir().context("creating a folder for the simulation")?;
    std::fs::write(dir.path().join("model.mote"), blob)?;
    for (k, bytes) in inputs.iter().enumerate() {
        std::fs::write(dir.path().join(format!("input{k}.bin")), bytes)?;
    }
    let mut args = vec!["run".to_string()];
    if let Some(limit) = arena_limit {
        args.push(limit.to_string());
    }
    let mut opts = SimOptions::new(board).args(args);
    opts.workdir = Some(dir.path().to_path_buf());
    let sim = run(elf, &opts)?;
    let mut out = Vec::new();
    if sim.status == 0 {
        for k in 0..outputs {
            let path = dir.path().join(format!("output{k}.bin"));
            out.push(
                std::fs::read(&path)
                    .with_context(|| format!("firmware wrote no {}", path.display()))?,
            );
        }
    }
    let ops = sim.log.lines().filter_map(parse_op_line).collect();
    let instructions = sim
        .line("total")
        .and_then(|l| key_value(l, "instructions="));
    let stack_bytes = sim
        .line("stack high-water")
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok());
    Ok(ModelRun {
        sim,
        outputs: out,
        instructions,
        ops,
        stack_bytes,
    })
}

fn key_value(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .and_then(|v| v.parse().ok())
}

/// `INFO  op 3 Conv2d instructions=1234 macs=567`.
pub fn parse_op_line(line: &str) -> Option<OpCost> {
    let mut words = line.split_whitespace().skip_while(|w| *w != "op").skip(1);
    let index = words.next()?.parse().ok()?;
    let op = words.next()?.to_string();
    Some(OpCost {
        index,
        op,
        instructions: key_value(line, "instructions=")?,
        macs: key_value(line, "macs=")?,
    })
}
