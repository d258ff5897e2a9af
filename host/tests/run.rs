//! Running sample models through `Session`: the session's plumbing (arena
//! slicing, constants, in-place reshape, profiling callback) must give the
//! same bytes as calling the kernels directly on the graph's data.
use mote_core::kernels::{conv2d, PerChannel, Shape4, View, ViewMut};
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
        match op.code {
            OpCode::Conv2d => {
                let p = conv2d::Params::decode(&op.params).unwrap();
                let [x, w, b, m, s] = op.inputs[..] else {
                    panic!("conv arity")
                };
                let (xd, wd) = (i8s(&vals[x]), i8s(&vals[w]));
                let mut out = vec![0i8; g.tensors[o].len()];
                conv2d::eval(
                    &p,
                    View::new(s4(x), &xd),
                    View::new(s4(w), &wd),
                    Some(I32s::new(&vals[b]).unwrap()),
                    PerChannel {
                        multiplier: I32s::new(&vals[m]).unwrap(),
                        shift: I32s::new(&vals[s]).unwrap(),
                    },
                    ViewMut::new(s4(o), &mut out),
                )
                .unwrap();
                vals[o] = out.iter().map(|&v| v as u8).collect();
            }
            OpCode::Reshape => vals[o] = vals[op.inputs[0]].clone(),
            other => panic!("reference has no {other:?}"),
        }
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

fn check_model(g: &Graph, seed: u64) {
    let bytes = blob::export(g).unwrap();
    let model = Model::parse(&bytes).unwrap();
    let mut rng = sample::Rng::new(seed);
    let inputs: Vec<Vec<u8>> = g
        .inputs
        .iter()
        .map(|&i| {
            rng.i8s(g.tensors[i].len())
                .iter()
                .map(|&v| v as u8)
                .collect()
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
}

#[test]
fn sample_models_match_direct_kernel_calls() {
    for (name, g) in sample::all().unwrap() {
        eprintln!("{name}");
        check_model(&g, 7);
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
