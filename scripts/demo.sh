#!/usr/bin/env bash
# The demo: set the machine up, render synthetic data (pictures in out/demo/),
# build the firmware, and run it on both simulated boards (QEMU mps2-an386
# Cortex-M4F and mps2-an500 Cortex-M7): its self-check, a model from the TFLM
# golden set, whose outputs must equal the host's byte for byte, and the
# embedded segmenter and counter on camera frames made from the synthetic pictures.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
bash scripts/setup.sh
cargo build --quiet --release -p mote-host
mote=target/release/mote
out=out/demo
mkdir -p "$out"

echo "== synthetic data (contact sheets in $out/)"
# Seed 4: none of these images was seen in training (seeds 1-3 made the
# training, validation and held-out sets of the shipped models).
$mote synth faces --count 16 --seed 4 --out "$out/faces" --preview "$out/faces.png" --quiet
$mote synth crowds --count 8 --seed 4 --size 160 --out "$out/crowds" --preview "$out/crowds.png" --quiet
$mote synth fractals --classes 4 --per-class 4 --seed 1 --out "$out/fractals" --preview "$out/fractals.png" --quiet

echo "== the shipped models on the host (mote-core, x86): masks, overlays, heat maps, counts in $out/run/"
$mote run models/segmenter.mote "$out"/faces/0000[0-7].png --out "$out/run"
$mote run models/counter.mote "$out"/crowds/0000[0-7].png --out "$out/run"
echo "true counts (heads):"
for f in "$out"/crowds/0000[0-7].points.csv; do
  echo "  $(basename "$f" .points.csv): $(($(wc -l < "$f") - 1))"
done

model=tests/golden/encdec.tflite
input=tests/golden/encdec.input0.npy
echo "== $model on the host (mote-core, x86)"
$mote infer "$model" --input "$input" --output "$out/host0.npy" --output "$out/host1.npy"
for cpu in cortex-m4 cortex-m7; do
  echo "== $cpu"
  $mote sim --cpu "$cpu" --command "calibrate 1000000"
  $mote sim "$model" --cpu "$cpu" --input "$input" --output "$out/$cpu.0.npy" --output "$out/$cpu.1.npy"
  cmp "$out/host0.npy" "$out/$cpu.0.npy" && cmp "$out/host1.npy" "$out/$cpu.1.npy" \
    && echo "$cpu: outputs identical to the host's"
done
echo "== the firmware's embedded segmenter and counter on camera frames (160x120 RGB565)"
# Pictures become camera frames; the firmware preprocesses them, runs both
# models and logs areas, boxes and the count; each frame's picture (class
# overlay | density heat map) goes to $out/frames/.
$mote sim --cpu cortex-m4 --format rgb565 --camera 160x120 --out "$out/frames" \
  --frames "$out/faces/00000.png" "$out/faces/00001.png" "$out/crowds/00000.png" "$out/crowds/00001.png"
echo "== pictures: $out/faces.png $out/crowds.png $out/fractals.png $out/run/*.png $out/frames/frame*.png"
