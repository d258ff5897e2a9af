//! Running sample models through `Session`: the session's plumbing (arena
//! slicing, constants, in-place reshape, profiling callback) must give the
//! same bytes as calling the kernels directly on the graph's data.
use mote_core::kernels::{
    add, average_pool2d, concatenation, conv2d, depthwise_conv2d, dequantize, fully_connected,
    hard_swish, leaky_relu, logistic, max_pool2d, mean, mul, pad, pool, quantize, resize_bilinear,
    resize_nearest, softmax, PerChannel, Shape4, View, ViewMut,
};
use mote_core::le::F32s;
use mote_core::le::I32s;
use mote_core::profile::CycleCounter;
use mote_core::{align_arena, Model, OpCode, Session};
use mote_host::graph::Graph;
use mote_host::{blob, sample};

/// Evaluates the graph op by op with direct kernel calls, each tensor in its
/// own buffer. Returns every tensor's bytes.
fn reference(g: &Graph, inputs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut vals: Vec<Vec<u8>> = g
        .tensors
        .iter()
        .map(|t| t.data.clone().unwrap_or_else(|| vec![0; t.byte_len()]))
        .collect();
    for (&i, data) in g.inputs.iter().zip(inputs) {
        vals[i] = data.clone();
    }
    let s4 = |id: usize| {
        let s = &g.tensors[id].shape;
        let mut d = [1usize; 4];
        d[4 - s.len()..].copy_from_slice(s);
        Shape4::new(d[0], d[1], d[2], d[3])
    };
    let i8s = |b: &[u8]| b.iter().map(|&x| x as i8).collect::<Vec<i8>>();
    for op in &g.ops {
        let o = op.outputs[0];
        let ins: Vec<Vec<i8>> = op.inputs.iter().map(|&i| i8s(&vals[i])).collect();
        let v = |k: usize| View::new(s4(op.inputs[k]), &ins[k]);
        let i32s = |k: usize| I32s::new(&vals[op.inputs[k]]).unwrap();
        let mut out = vec![0i8; g.tensors[o].len()];
        let om = ViewMut::new(s4(o), &mut out);
        let w = &op.params;
        match op.code {
            OpCode::Conv2d => conv2d::eval(
                &conv2d::Params::decode(w).unwrap(),
                v(0),
                v(1),
                Some(i32s(2)),
                PerChannel {
                    multiplier: i32s(3),
                    shift: i32s(4),
                },
                om,
            ),
            OpCode::DepthwiseConv2d => depthwise_conv2d::eval(
                &depthwise_conv2d::Params::decode(w).unwrap(),
                v(0),
                v(1),
                Some(i32s(2)),
                PerChannel {
                    multiplier: i32s(3),
                    shift: i32s(4),
                },
                om,
            ),
            OpCode::FullyConnected => fully_connected::eval(
                &fully_connected::Params::decode(w).unwrap(),
                v(0),
                v(1),
                Some(i32s(2)),
                PerChannel {
                    multiplier: i32s(3),
                    shift: i32s(4),
                },
                om,
            ),
            OpCode::Add => add::eval(&add::Params::decode(w).unwrap(), v(0), v(1), om),
            OpCode::Mul => mul::eval(&mul::Params::decode(w).unwrap(), v(0), v(1), om),
            OpCode::Concatenation => concatenation::eval(
                &concatenation::Params::decode(w).unwrap(),
                (0..ins.len()).map(v).collect::<Vec<_>>(),
                om,
            ),
            OpCode::MaxPool2d => max_pool2d::eval(&pool::Params::decode(w).unwrap(), v(0), om),
            OpCode::AveragePool2d => {
                average_pool2d::eval(&pool::Params::decode(w).unwrap(), v(0), om)
            }
            OpCode::Mean => mean::eval(&mean::Params::decode(w).unwrap(), v(0), om),
            OpCode::Pad => pad::eval(&pad::Params::decode(w).unwrap(), v(0), om),
            OpCode::ResizeNearestNeighbor => {
                resize_nearest::eval(&resize_nearest::Params::decode(w).unwrap(), v(0), om)
            }
            OpCode::ResizeBilinear => {
                resize_bilinear::eval(&resize_bilinear::Params::decode(w).unwrap(), v(0), om)
            }
            OpCode::Reshape => {
                out.copy_from_slice(&ins[0]);
                Ok(())
            }
            OpCode::Logistic => logistic::eval(&logistic::Params::decode(w).unwrap(), v(0), om),
            OpCode::Softmax => softmax::eval(&softmax::Params::decode(w).unwrap(), v(0), om),
            OpCode::HardSwish => {
                hard_swish::eval(&hard_swish::Params::decode(w).unwrap(), v(0), om)
            }
            OpCode::LeakyRelu => {
                leaky_relu::eval(&leaky_relu::Params::decode(w).unwrap(), v(0), om)
            }
            OpCode::Quantize => {
                let p = quantize::Params::decode(w).unwrap();
                let src = op.inputs[0];
                if g.tensors[src].dtype == mote_core::DType::Float32 {
                    let x = F32s::new(&vals[src]).unwrap();
                    quantize::eval_from_f32(&p, x, s4(src), om)
                } else {
                    quantize::eval_requantize(&p, v(0), om)
                }
            }
            OpCode::Dequantize => {
                let mut bytes = vec![0u8; g.tensors[o].byte_len()];
                dequantize::eval(
                    &dequantize::Params::decode(w).unwrap(),
                    v(0),
                    &mut bytes,
                    s4(o),
                )
                .unwrap();
                vals[o] = bytes;
                continue;
            }
            OpCode::Conv2dFused => unreachable!("hand-built graphs are unfused"),
        }
        .unwrap();
        vals[o] = out.iter().map(|&x| x as u8).collect();
    }
    vals
}

struct Ticks(u64);
impl CycleCounter for Ticks {
    fn now(&mut self) -> u64 {
        self.0 += 10;
        self.0
    }
}

/// Runs `g` through blob + session and compares with [`reference`];
/// returns (total MACs, arena bytes).
fn check_model(g: &Graph, seed: u64) -> (u64, usize) {
    // Unfused, so the session's per-op reports line up with the reference's
    // ops (fusion has its own equivalence tests in `fuse` and the goldens).
    let bytes = blob::export_unfused(g).unwrap();
    let model = Model::parse(&bytes).unwrap();
    let mut rng = sample::Rng::new(seed);
    let inputs: Vec<Vec<u8>> = g
        .inputs
        .iter()
        .map(|&i| {
            let t = &g.tensors[i];
            if t.dtype == mote_core::DType::Float32 {
                // Reals spanning past the int8 range after quantization.
                (0..t.len())
                    .flat_map(|_| (rng.range(-9000, 9000) as f32 / 1000.0).to_le_bytes())
                    .collect()
            } else {
                rng.i8s(t.len()).iter().map(|&v| v as u8).collect()
            }
        })
        .collect();
    let want = reference(g, &inputs);

    let mut buf = vec![0xAAu8; model.arena_size() + 16];
    let arena = align_arena(&mut buf, 16);
    let mut s = Session::new(&model, arena).unwrap();
    for (k, data) in inputs.iter().enumerate() {
        s.set_input(k, data).unwrap();
    }
    let mut seen = 0;
    let mut total_macs = 0;
    s.run_profiled(&mut Ticks(0), |r| {
        assert_eq!(r.index as usize, seen);
        assert_eq!(r.cycles, 10);
        let op = &g.ops[seen];
        assert_eq!(r.code, op.code);
        assert_eq!(r.output_index as usize, op.outputs[0]);
        assert_eq!(
            r.output,
            &want[op.outputs[0]][..],
            "op {seen} {:?}",
            op.code
        );
        total_macs += r.macs;
        seen += 1;
    })
    .unwrap();
    assert_eq!(seen, g.ops.len());
    // Non-degenerate: every output takes several values, so a comparison
    // against the reference means something.
    for &o in &g.outputs {
        let mut distinct = want[o].clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() >= 3, "output {o} is nearly constant");
    }
    assert!(total_macs > 0);
    for (k, &o) in g.outputs.iter().enumerate() {
        assert_eq!(s.output(k).unwrap(), &want[o][..]);
    }
    // A second run on the same arena (now full of old data; the inputs may
    // have been overwritten, so they are set again) gives the same.
    for (k, data) in inputs.iter().enumerate() {
        s.set_input(k, data).unwrap();
    }
    s.run().unwrap();
    for (k, &o) in g.outputs.iter().enumerate() {
        assert_eq!(s.output(k).unwrap(), &want[o][..]);
    }
    (total_macs, model.arena_size())
}

#[test]
fn sample_models_match_direct_kernel_calls() {
    for (name, g) in sample::all().unwrap() {
        let (macs, _) = check_model(&g, 7);
        assert!(macs > 0, "{name}");
    }
}

#[test]
fn planner_shares_memory() {
    let g = sample::two_branches(2).unwrap();
    let bytes = blob::export(&g).unwrap();
    let model = Model::parse(&bytes).unwrap();
    let sum: usize = g
        .tensors
        .iter()
        .filter(|t| !t.is_constant())
        .map(|t| t.byte_len())
        .sum();
    assert!(
        model.arena_size() < sum,
        "arena {} vs sum {sum}",
        model.arena_size()
    );
}

/// Random graphs of CONCATENATION, ADD and in-place RESHAPE over earlier
/// tensors (so many tensors stay alive across many ops): the planner's
/// arena must be accepted by the parser and, run through the session, give
/// every output exactly as separate buffers do. An unsound plan shows up as
/// clobbered values.
#[test]
fn random_graphs_plan_soundly() {
    use mote_core::kernels::{add as add_k, concatenation as cat_k, Activation, Quant};
    use mote_host::graph::{DType, Quantization};
    let q = Quantization::PerTensor {
        scale: 0.05,
        zero_point: -3,
    };
    let kq = Quant::new(0.05, -3);
    let add_words = {
        let p = add_k::prepare(Activation::None, kq, kq, kq).unwrap();
        let mut w = Vec::new();
        p.encode(&mut |x| w.push(x));
        w
    };
    let cat_words = {
        let p = cat_k::prepare(3, 4, true).unwrap();
        let mut w = Vec::new();
        p.encode(&mut |x| w.push(x));
        w
    };
    let (mut total_ops, mut total_arena, mut total_bytes) = (0, 0, 0);
    for seed in 0..40u64 {
        let mut rng = sample::Rng::new(seed);
        let mut g = Graph::new();
        let c0 = 1 + rng.range(0, 5) as usize;
        let x = g.add_activation("x", &[1, 3, 3, c0], DType::Int8, q.clone());
        let mut acts = vec![x];
        let n_ops = 4 + rng.range(0, 16) as usize;
        for k in 0..n_ops {
            let pick = |rng: &mut sample::Rng, acts: &[usize]| {
                acts[rng.range(0, acts.len() as i32 - 1) as usize]
            };
            match rng.range(0, 2) {
                0 => {
                    let n = 1 + rng.range(0, 2) as usize;
                    let ins: Vec<usize> = (0..n).map(|_| pick(&mut rng, &acts)).collect();
                    let c: usize = ins.iter().map(|&i| g.tensors[i].shape[3]).sum();
                    if c > 40 {
                        continue;
                    }
                    let o =
                        g.add_activation(format!("cat{k}"), &[1, 3, 3, c], DType::Int8, q.clone());
                    g.add_op(OpCode::Concatenation, &ins, &[o], cat_words.clone());
                    acts.push(o);
                }
                1 => {
                    let a = pick(&mut rng, &acts);
                    let same: Vec<usize> = acts
                        .iter()
                        .copied()
                        .filter(|&t| g.tensors[t].shape == g.tensors[a].shape)
                        .collect();
                    let b = pick(&mut rng, &same);
                    let shape = g.tensors[a].shape.clone();
                    let o = g.add_activation(format!("add{k}"), &shape, DType::Int8, q.clone());
                    g.add_op(OpCode::Add, &[a, b], &[o], add_words.clone());
                    acts.push(o);
                }
                _ => {
                    let a = pick(&mut rng, &acts);
                    let shape = g.tensors[a].shape.clone();
                    let o = g.add_activation(format!("reshape{k}"), &shape, DType::Int8, q.clone());
                    g.add_op(OpCode::Reshape, &[a], &[o], vec![]);
                    acts.push(o);
                }
            }
        }
        if g.ops.is_empty() {
            continue;
        }
        total_ops += g.ops.len();
        let last = *acts.last().unwrap();
        let mut outputs = vec![last];
        for _ in 0..rng.range(0, 2) {
            let t = acts[rng.range(1, acts.len() as i32 - 1).max(1) as usize];
            if t != x && !outputs.contains(&t) {
                outputs.push(t);
            }
        }
        g.inputs = vec![x];
        g.outputs = outputs;
        // Tensors nobody reads or writes (skipped ops) are pruned first.
        g.prune();
        let (_, arena) = check_model(&g, seed);
        total_arena += arena;
        total_bytes += g
            .tensors
            .iter()
            .filter(|t| !t.is_constant())
            .map(|t| t.byte_len())
            .sum::<usize>();
    }
    assert!(total_ops > 200, "only {total_ops} ops generated");
    // The plans really share memory (else the test proves little).
    assert!(
        total_arena * 10 < total_bytes * 9,
        "arena {total_arena} vs tensors {total_bytes}"
    );
}
