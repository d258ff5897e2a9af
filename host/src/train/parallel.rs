//! Data-parallel gradients on the CPU cores.
//!
//! Why: candle's CPU backend runs these small layers on one thread (its
//! element-wise ops are serial and the matmuls are below its threading
//! threshold), so a training step used one core of the two. Here a batch is
//! cut into shards, each shard's forward and backward pass runs on its own
//! thread against the same variables, and the gradients are summed,
//! weighted by shard size: the gradient of the batch's mean loss when the
//! loss is a mean over images. Batch norm then normalises each shard by its
//! own statistics (as ghost batch norm does) and only the first shard
//! updates the running statistics, so a run is deterministic for a given
//! thread count.
use anyhow::{anyhow, bail, Result};
use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use super::batch::Batch;
use super::net::Pass;

/// The cores to use: `MOTE_THREADS` if set, else every available core.
pub fn default_threads() -> usize {
    std::env::var("MOTE_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Mean loss of `batch` and the gradients of `vars`, computed on up to
/// `threads` shards at once. `loss` maps a shard to its scalar mean loss.
pub fn grads<F>(batch: &Batch, threads: usize, vars: &[Var], loss: F) -> Result<(f32, GradStore)>
where
    F: Fn(&Batch, Pass) -> Result<Tensor> + Sync,
{
    let shards = batch.shards(threads)?;
    if shards.len() == 1 {
        let l = loss(batch, Pass::Train)?;
        return Ok((l.to_scalar::<f32>()?, l.backward()?));
    }
    let results: Vec<Result<(f32, GradStore)>> = std::thread::scope(|s| {
        let handles: Vec<_> = shards
            .iter()
            .enumerate()
            .map(|(k, shard)| {
                let loss = &loss;
                s.spawn(move || -> Result<(f32, GradStore)> {
                    let pass = if k == 0 {
                        Pass::Train
                    } else {
                        Pass::TrainShard
                    };
                    let l = loss(shard, pass)?;
                    Ok((l.to_scalar::<f32>()?, l.backward()?))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("training thread panicked")))
            })
            .collect()
    });
    let n = batch.len() as f64;
    let mut total = 0f64;
    let mut stores = Vec::with_capacity(shards.len());
    for (shard, result) in shards.iter().zip(results) {
        let (l, g) = result?;
        let w = shard.len() as f64 / n;
        total += l as f64 * w;
        stores.push((w, g));
    }
    // The summed gradients go into the first shard's store (candle has no
    // public constructor for an empty one); its other entries are unused.
    let mut sums = Vec::with_capacity(vars.len());
    for v in vars {
        let mut sum: Option<Tensor> = None;
        for (w, g) in &stores {
            if let Some(t) = g.get(v.as_tensor()) {
                let t = (t * *w)?;
                sum = Some(match sum {
                    None => t,
                    Some(s) => (s + t)?,
                });
            }
        }
        sums.push(sum);
    }
    let Some((_, mut out)) = stores.into_iter().next() else {
        bail!("empty batch");
    };
    for (v, sum) in vars.iter().zip(sums) {
        if let Some(s) = sum {
            out.insert(v.as_tensor(), s);
        }
    }
    Ok((total as f32, out))
}
