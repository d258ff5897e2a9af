#!/usr/bin/env bash
# Reproduces the shipped models in models/ from nothing but this repository:
# synthetic data (fixed seeds), training, the fractal pre-training ablation,
# int8 export with calibration, and the model cards (metrics measured on a
# held-out set rendered with another seed).
#
#   bash scripts/train-models.sh            # everything (about 30 minutes on 2 cores)
#   STAGE=export bash scripts/train-models.sh   # only re-export existing runs
#
# Work folders go to runs/ (ignored by git); blobs and cards to models/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
cargo build --quiet --release -p mote-host
mote=target/release/mote
data=runs/data
stage=${STAGE:-all}

# Training set sizes and epochs: each model's training fits 20 minutes on
# the 2-core reference machine (run.txt in each run folder has the time).
# The two trainings run one after the other, each on every core (each
# batch is shared over the cores, host/src/train/parallel.rs).
SEG_TRAIN=9000 SEG_EPOCHS=5
CNT_TRAIN=12000 CNT_EPOCHS=10
# The ablation: a quarter of the budget, with and without fractal
# pre-training (the pre-trained run spends one of its epochs on fractals).
ABL_EPOCHS=2

if [ "$stage" = all ]; then
  echo "== synthetic data in $data/"
  $mote synth faces --count $SEG_TRAIN --seed 1 --out $data/faces-train --quiet
  $mote synth faces --count 500 --seed 2 --out $data/faces-val --quiet
  $mote synth faces --count 500 --seed 3 --out $data/faces-test --quiet
  $mote synth crowds --count $CNT_TRAIN --seed 1 --out $data/crowds-train --quiet
  $mote synth crowds --count 500 --seed 2 --out $data/crowds-val --quiet
  $mote synth crowds --count 500 --seed 3 --out $data/crowds-test --quiet
  $mote synth fractals --classes 100 --per-class 40 --size 64 --seed 1 --out $data/fractals --quiet

  echo "== training (one model after the other, on every core)"
  $mote train segmenter --data $data/faces-train --val $data/faces-val \
    --out runs/segmenter --epochs $SEG_EPOCHS --seed 1 --quiet
  $mote train counter --data $data/crowds-train --val $data/crowds-val \
    --out runs/counter --epochs $CNT_EPOCHS --seed 1 --quiet
fi

if [ "$stage" = all ] || [ "$stage" = ablation ]; then
  echo "== fractal pre-training ablation (same budget, with and without; one core each)"
  $mote train segmenter --data $data/faces-train --val $data/faces-val \
    --out runs/segmenter-scratch --epochs $ABL_EPOCHS --seed 2 --threads 1 --quiet &
  a=$!
  $mote train segmenter --data $data/faces-train --val $data/faces-val \
    --out runs/segmenter-fractals --epochs $((ABL_EPOCHS - 1)) --seed 2 \
    --pretrain fractals $data/fractals --pretrain-epochs 1 --threads 1 --quiet &
  b=$!
  wait $a
  wait $b
fi

echo "== int8 export and model cards"
$mote export runs/segmenter -o models/segmenter.mote --eval $data/faces-test \
  --ablation runs/segmenter-scratch --ablation runs/segmenter-fractals --quiet
$mote export runs/counter -o models/counter.mote --eval $data/crowds-test --quiet
$mote eval models/segmenter.mote --data $data/faces-test
$mote eval models/counter.mote --data $data/crowds-test
