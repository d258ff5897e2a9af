//! The benchmark report: `bench/report.json` (every figure) and
//! `bench/report.md` (the same, as tables for people).
use std::fmt::Write as _;

use serde_json::{json, Value};

use super::{flash::FlashSplit, ModelBench, Source};

pub struct Report {
    /// The command line that produced it.
    pub command: String,
    /// `bench::toolchain_text`: the compiler that built the firmware.
    pub toolchain: String,
    pub flash: FlashSplit,
    /// The real-board firmware (STM32H743), which links only the shipped
    /// models' kernels (`shipped-ops`); `None` when it was not built.
    pub board_flash: Option<FlashSplit>,
    pub models: Vec<ModelBench>,
    /// Wall-clock seconds `mote bench` took on the machine that ran it.
    pub seconds: f64,
}

fn run_json(m: &ModelBench) -> Value {
    Value::Array(
        m.runs
            .iter()
            .map(|r| {
                json!({
                    "cpu": r.cpu,
                    "instructions": r.op_instructions,
                    "instructions_with_logging": r.total_instructions,
                    "instructions_per_mac": r.per_mac(m.macs),
                    "stack_bytes": r.stack_bytes,
                    "ops": r.ops.iter().map(|op| json!({
                        "index": op.index,
                        "op": op.op,
                        "instructions": op.instructions,
                        "macs": op.macs,
                        "instructions_per_mac": op.instructions as f64 / op.macs.max(1) as f64,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// One firmware's flash split as JSON.
fn flash_json(f: &FlashSplit) -> Value {
    json!({
        "flash_bytes": f.flash_bytes,
        "text_bytes": f.text_bytes,
        "rodata_bytes": f.rodata_bytes,
        "data_bytes": f.data_bytes,
        "mote_core_code_bytes": f.mote_core_code_bytes,
        "runtime_code_bytes": f.runtime_code_bytes,
        "other_code_bytes": f.other_code_bytes,
        "largest_mote_core_functions": f.largest_mote_core.iter()
            .map(|(n, s)| json!({"name": n, "bytes": s})).collect::<Vec<_>>(),
    })
}

impl Report {
    pub fn to_json(&self) -> Value {
        let f = &self.flash;
        json!({
            "command": self.command,
            "toolchain": self.toolchain,
            "seconds": self.seconds,
            "method": {
                "instructions": "QEMU -icount shift=0, SysTick on the firmware (40 instructions per tick); \
                                 `instructions` sums the ops' own counts, `instructions_with_logging` spans \
                                 the whole inference including the firmware's per-op log lines",
                "flash": "firmware ELF: allocated sections below RAM plus .data's load image; code split by \
                          function symbols whose demangled name contains `mote_core` vs all others",
            },
            "flash": flash_json(f),
            "board_flash": self.board_flash.as_ref().map(flash_json),
            "models": self.models.iter().map(|m| {
                let mut v = json!({
                    "key": m.key,
                    "name": m.name,
                    "source": m.source.name(),
                    "description": m.description,
                    "blob_bytes": m.blob_bytes,
                    "weights_bytes": m.constant_bytes,
                    "arena_bytes": m.arena_bytes,
                    "tflm_arena_bytes": m.tflm_arena_bytes,
                    "ops": m.ops,
                    "macs": m.macs,
                    "runs": run_json(m),
                });
                if let Source::Layer { cmsis_nn_m4, target_m4 } = m.source {
                    v["cmsis_nn_m4_instructions_per_mac"] = json!(cmsis_nn_m4);
                    v["target_m4_instructions_per_mac"] = json!(target_m4);
                }
                v
            }).collect::<Vec<_>>(),
        })
    }

    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# mote benchmarks\n");
        let _ = writeln!(
            s,
            "Made by `{}` in {:.0} s. Firmware built with {}.\n",
            self.command, self.seconds, self.toolchain
        );
        let _ = writeln!(
            s,
            "Instructions are executed instructions on QEMU (`-icount shift=0`, mps2-an386 \
             Cortex-M4 and mps2-an500 Cortex-M7), counted by the firmware's SysTick \
             (40 instructions per tick), not cycles. *Instructions* is the sum of the ops' own \
             counts; *with logging* spans the whole inference, including the firmware's per-op \
             defmt lines. Every run's outputs equal the host's (`mote_core` on x86), \
             byte for byte. Counts are deterministic for a given firmware build and input; \
             `bench/budgets.json` holds them in CI (`tests/tests/bench_budget.rs`).\n"
        );

        let _ = writeln!(s, "## Layer benchmarks (issue 7)\n");
        let _ = writeln!(
            s,
            "Single-op int8 models, random weights and input (fixed seed), per-channel \
             quantization. CMSIS-NN's figures are Arm's DSP code paths (gcc 12 -O3) under \
             QEMU 7.2, from issue 7.\n"
        );
        let _ = writeln!(
            s,
            "| layer | MACs | CMSIS-NN M4 instr/MAC | target M4 | mote M4 instr/MAC | mote M7 instr/MAC | arena bytes | weights bytes |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for m in &self.models {
            let Source::Layer {
                cmsis_nn_m4,
                target_m4,
            } = m.source
            else {
                continue;
            };
            let _ = writeln!(
                s,
                "| {} | {} | {:.2} | ≤ {:.1} | {} | {} | {} | {} |",
                m.description,
                m.macs,
                cmsis_nn_m4,
                target_m4,
                per_mac(m, "cortex-m4"),
                per_mac(m, "cortex-m7"),
                m.arena_bytes,
                m.constant_bytes
            );
        }

        let _ = writeln!(s, "\n## Models\n");
        let _ = writeln!(
            s,
            "| model | ops | MACs | M4 instructions | M4 instr/MAC | M7 instructions | M7 instr/MAC | M4 with logging | stack M4 / M7 | arena | TFLM arena | blob | weights |"
        );
        let _ = writeln!(
            s,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for m in &self.models {
            let get = |cpu| m.runs.iter().find(|r| r.cpu == cpu);
            let (m4, m7) = (get("cortex-m4"), get("cortex-m7"));
            let instr =
                |r: Option<&super::CpuRun>| r.map_or("-".into(), |r| r.op_instructions.to_string());
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {} | {} |",
                m.key,
                m.ops,
                m.macs,
                instr(m4),
                per_mac(m, "cortex-m4"),
                instr(m7),
                per_mac(m, "cortex-m7"),
                m4.map_or("-".into(), |r| r.total_instructions.to_string()),
                m4.map_or("-".into(), |r| r.stack_bytes.to_string()),
                m7.map_or("-".into(), |r| r.stack_bytes.to_string()),
                m.arena_bytes,
                m.tflm_arena_bytes.map_or("-".into(), |b| b.to_string()),
                m.blob_bytes,
                m.constant_bytes
            );
        }
        if !self.models.iter().any(|m| m.source == Source::Shipped) {
            let _ = writeln!(
                s,
                "\nNo shipped models yet (`models/*.mote` is empty): golden and layer models only."
            );
        }

        let f = &self.flash;
        let _ = writeln!(s, "\n## Flash (firmware ELF)\n");
        let _ = writeln!(
            s,
            "Method: flash = allocated sections below RAM (vector table, `.text`, `.rodata`) \
             plus `.data`'s load image. Code is split with the ELF's symbol table: sizes of \
             function symbols whose demangled name contains `mote_core` (its functions and \
             generics instantiated for its types) vs all other function symbols (application, \
             cortex-m-rt, defmt, semihosting, `core`, compiler builtins). Fat LTO inlines some \
             `mote_core` code into firmware functions, so the `mote_core` figure is a lower bound. \
             `.rodata` holds the two embedded shipped blobs (their weights included, see the \
             tables above); other models reach the simulated board at run time through \
             semihosting.\n"
        );
        let board = self.board_flash.as_ref();
        let _ = writeln!(
            s,
            "Two builds: the simulated board (every kernel, since it runs any model) and the \
             real board (STM32H743, `--features board-h743`), which links only the kernels of \
             the shipped models (`shipped-ops`). \"Runtime\" is `mote_core` without camera \
             preprocessing and the task heads: model reader, planner, interpreter, kernels.\n"
        );
        let _ = writeln!(
            s,
            "| part | simulated board (all ops) | real board (shipped ops) |\n|---|---:|---:|"
        );
        let field = |g: fn(&FlashSplit) -> u64| board.map_or("-".to_string(), |b| g(b).to_string());
        type Row = (&'static str, fn(&FlashSplit) -> u64);
        let rows: [Row; 7] = [
            ("flash total", |f| f.flash_bytes),
            ("`.text`", |f| f.text_bytes),
            ("`.rodata`", |f| f.rodata_bytes),
            ("`.data` (load image)", |f| f.data_bytes),
            ("`mote_core` functions", |f| f.mote_core_code_bytes),
            (
                "of which runtime (reader, planner, interpreter, kernels)",
                |f| f.runtime_code_bytes,
            ),
            ("other code", |f| f.other_code_bytes),
        ];
        for (label, g) in rows {
            let _ = writeln!(s, "| {label} | {} | {} |", g(f), field(g));
        }
        for (title, split) in [("simulated board", Some(f)), ("real board", board)] {
            let Some(split) = split else { continue };
            let _ = writeln!(s, "\nLargest `mote_core` functions, {title}:\n");
            let _ = writeln!(s, "| function | bytes |\n|---|---:|");
            for (name, size) in &split.largest_mote_core {
                let _ = writeln!(s, "| `{}` | {size} |", name.replace('|', "\\|"));
            }
        }

        let _ = writeln!(s, "\n## Per op\n");
        for m in &self.models {
            let _ = writeln!(s, "### {}\n", m.key);
            let _ = writeln!(
                s,
                "| # | op | MACs | M4 instructions | M4 instr/MAC | M7 instructions | M7 instr/MAC |"
            );
            let _ = writeln!(s, "|---:|---|---:|---:|---:|---:|---:|");
            let m4 = m.runs.iter().find(|r| r.cpu == "cortex-m4");
            let m7 = m.runs.iter().find(|r| r.cpu == "cortex-m7");
            let ops = m4.or(m7).map(|r| r.ops.as_slice()).unwrap_or_default();
            for (k, op) in ops.iter().enumerate() {
                let cell = |r: Option<&super::CpuRun>| {
                    r.and_then(|r| r.ops.get(k))
                        .map_or(("-".into(), "-".into()), |o| {
                            (
                                o.instructions.to_string(),
                                format!("{:.2}", o.instructions as f64 / o.macs.max(1) as f64),
                            )
                        })
                };
                let (a, b) = cell(m4);
                let (c, d) = cell(m7);
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {a} | {b} | {c} | {d} |",
                    op.index, op.op, op.macs
                );
            }
            let _ = writeln!(s);
        }
        s
    }
}

fn per_mac(m: &ModelBench, cpu: &str) -> String {
    m.runs
        .iter()
        .find(|r| r.cpu == cpu)
        .map_or("-".into(), |r| format!("{:.2}", r.per_mac(m.macs)))
}
