//! Instruction budgets (`bench/budgets.json`): each model's measured count on
//! each CPU plus a small margin. Counts are deterministic for one firmware
//! build, so a test can hold them exactly; they are only comparable for the
//! compiler that built the firmware, which the file records.
use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value};

use super::ModelBench;

/// Margin over the measured count when budgets are written.
pub const MARGIN: f64 = 0.02;

#[derive(Clone, Debug, PartialEq)]
pub struct Budgets {
    /// `bench::toolchain_text` of the build the budgets were measured with.
    pub toolchain: String,
    pub margin: f64,
    /// `key` (`layer/conv1x1_...`) → CPU → instruction budget (ops' own counts).
    pub budgets: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Budgets {
    /// Budgets of `models`: measured + `margin`, rounded up.
    pub fn from_models(toolchain: &str, models: &[ModelBench], margin: f64) -> Budgets {
        let budgets = models
            .iter()
            .map(|m| {
                let per_cpu = m
                    .runs
                    .iter()
                    .map(|r| {
                        let b = (r.op_instructions as f64 * (1.0 + margin)).ceil() as u64;
                        (r.cpu.to_owned(), b)
                    })
                    .collect();
                (m.key.clone(), per_cpu)
            })
            .collect();
        Budgets {
            toolchain: toolchain.to_owned(),
            margin,
            budgets,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "about": "Instruction budgets per inference (sum of the ops' counts, QEMU -icount), \
                      measured + margin. Valid for firmware built by `toolchain`. \
                      Regenerate with `mote bench --update-budgets`.",
            "toolchain": self.toolchain,
            "margin": self.margin,
            "budgets": self.budgets,
        })
    }

    pub fn read(path: &Path) -> Result<Budgets> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let v: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let toolchain = v["toolchain"]
            .as_str()
            .ok_or_else(|| anyhow!("{}: no toolchain", path.display()))?
            .to_owned();
        let margin = v["margin"]
            .as_f64()
            .ok_or_else(|| anyhow!("{}: no margin", path.display()))?;
        let budgets = serde_json::from_value(v["budgets"].clone())
            .with_context(|| format!("{}: budgets", path.display()))?;
        Ok(Budgets {
            toolchain,
            margin,
            budgets,
        })
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.to_json())? + "\n";
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }

    pub fn get(&self, key: &str, cpu: &str) -> Option<u64> {
        self.budgets.get(key)?.get(cpu).copied()
    }
}
