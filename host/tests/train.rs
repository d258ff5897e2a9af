//! Training on tiny hand-drawn data: the loop learns, checkpoints round-trip,
//! folders load, pre-training touches only the encoder, a batch shared over
//! threads gives the whole batch's gradients.
use std::path::PathBuf;

use candle_core::Tensor;
use mote_host::train::arch::{Act, Arch, ArchBuilder, Shape, Task, SEG_CLASSES};
use mote_host::train::augment::Augment;
use mote_host::train::batch::{collate, BatchTarget, Target};
use mote_host::train::checkpoint;
use mote_host::train::data::{
    ClassFolder, CrowdFolder, DataSource, FaceFolder, Image, InMemory, Label, Sample,
};
use mote_host::train::metrics::Score;
use mote_host::train::net::Net;
use mote_host::train::parallel;
use mote_host::train::pretrain::{pretrain, PretrainConfig};
use mote_host::train::rng::Rng;
use mote_host::train::run::{run, Pretrain, RunSpec};
use mote_host::train::toy;
use mote_host::train::trainer::{TrainConfig, Trainer};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mote-train-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn faces(n: usize, seed: u64) -> InMemory {
    let mut rng = Rng::new(seed);
    InMemory {
        samples: (0..n).map(|_| toy::face(96, &mut rng)).collect(),
        classes: 0,
    }
}

fn crowds(n: usize, seed: u64) -> InMemory {
    let mut rng = Rng::new(seed);
    InMemory {
        samples: (0..n).map(|_| toy::crowd(128, 20, &mut rng)).collect(),
        classes: 0,
    }
}

fn quiet(task: Task, lr: f64) -> TrainConfig {
    let mut c = TrainConfig::new(task);
    c.progress = false;
    c.lr = lr;
    c.batch = 4;
    c.augment = Augment::none();
    c
}

fn loss_of(t: &Trainer, b: &mote_host::train::batch::Batch) -> f32 {
    t.loss(b, true).unwrap().to_scalar::<f32>().unwrap()
}

#[test]
fn one_step_reduces_the_loss() {
    for task in [Task::Segmenter, Task::Counter] {
        let data = if task == Task::Segmenter {
            faces(4, 1)
        } else {
            crowds(4, 1)
        };
        let net = Net::new(task.arch().unwrap(), 3).unwrap();
        let mut t = Trainer::new(net, quiet(task, 1e-3), 4, vec![1.0, 4.0, 5.0]).unwrap();
        let b = t.load(&data, &[0, 1, 2, 3], None).unwrap();
        let before = loss_of(&t, &b);
        t.step(&b).unwrap();
        let after = loss_of(&t, &b);
        assert!(after < before, "{task:?}: loss {before} → {after}");
    }
}

#[test]
fn segmenter_overfits_a_tiny_set() {
    let data = faces(4, 2);
    let net = Net::new(Task::Segmenter.arch().unwrap(), 5).unwrap();
    let mut cfg = quiet(Task::Segmenter, 1e-2);
    cfg.epochs = 60;
    let mut t = Trainer::new(net, cfg, 4, vec![1.0, 3.0, 4.0]).unwrap();
    let b = t.load(&data, &[0, 1, 2, 3], None).unwrap();
    let first = loss_of(&t, &b);
    for _ in 0..60 {
        t.step(&b).unwrap();
    }
    let last = loss_of(&t, &b);
    assert!(last < 0.3 * first, "loss {first} → {last}");
    // Inference mode (running BN statistics) on the same images.
    let Score::Seg(s) = t.evaluate(&data).unwrap() else {
        panic!()
    };
    assert!(s.iou(1) > 0.7, "glasses IoU {:.3}", s.iou(1));
    assert!(s.iou(2) > 0.2, "shadow IoU {:.3}", s.iou(2));
}

#[test]
fn counter_overfits_a_tiny_set() {
    let data = crowds(4, 3);
    let net = Net::new(Task::Counter.arch().unwrap(), 6).unwrap();
    let mut cfg = quiet(Task::Counter, 1e-2);
    cfg.epochs = 60;
    let mut t = Trainer::new(net, cfg, 4, Vec::new()).unwrap();
    let Score::Count(before) = t.evaluate(&data).unwrap() else {
        panic!()
    };
    let b = t.load(&data, &[0, 1, 2, 3], None).unwrap();
    let first = loss_of(&t, &b);
    for _ in 0..60 {
        t.step(&b).unwrap();
    }
    let last = loss_of(&t, &b);
    assert!(last < 0.3 * first, "loss {first} → {last}");
    let Score::Count(after) = t.evaluate(&data).unwrap() else {
        panic!()
    };
    assert!(
        after.mae() < 0.3 * before.mae() && after.rel_mae() < 0.25,
        "MAE {:.2} → {:.2} ({:.1}%)",
        before.mae(),
        after.mae(),
        100.0 * after.rel_mae()
    );
}

#[test]
fn checkpoint_round_trip() {
    let dir = scratch("ckpt");
    let a = Net::new(Task::Counter.arch().unwrap(), 1).unwrap();
    // Move the BN running statistics away from their initial values.
    let x = Tensor::rand(0f32, 1f32, (2, 3, 128, 128), &candle_core::Device::Cpu).unwrap();
    a.forward(&x, true).unwrap();
    checkpoint::save(&a, &dir.join("c.safetensors")).unwrap();
    let b = Net::new(Task::Counter.arch().unwrap(), 2).unwrap();
    let ya: Vec<f32> = a
        .forward(&x, false)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let yb0: Vec<f32> = b
        .forward(&x, false)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_ne!(ya, yb0);
    checkpoint::load(&b, &dir.join("c.safetensors")).unwrap();
    let yb: Vec<f32> = b
        .forward(&x, false)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(ya, yb);
    // A segmenter cannot load a counter checkpoint.
    let s = Net::new(Task::Segmenter.arch().unwrap(), 1).unwrap();
    assert!(checkpoint::load(&s, &dir.join("c.safetensors")).is_err());
}

#[test]
fn folders_load_with_consistent_labels() {
    let dir = scratch("folders");
    toy::write_folder(&dir.join("faces"), 3, false, 4).unwrap();
    toy::write_folder(&dir.join("crowds"), 3, true, 4).unwrap();
    let f = FaceFolder::open(&dir.join("faces"), SEG_CLASSES).unwrap();
    assert_eq!(f.len(), 3);
    let s = f.get(1).unwrap();
    let Label::Mask(m) = &s.label else { panic!() };
    assert_eq!((s.image.w, s.image.h, m.len()), (96, 96, 96 * 96));
    // Glasses pixels are dark in the image.
    let dark = m
        .iter()
        .enumerate()
        .filter(|(_, &k)| k == 1)
        .all(|(i, _)| s.image.rgb[i * 3] < 0.35);
    assert!(dark && m.contains(&1) && m.contains(&2));
    let c = CrowdFolder::open(&dir.join("crowds")).unwrap();
    let s = c.get(0).unwrap();
    let Label::Points(p) = &s.label else { panic!() };
    assert!(!p.is_empty());
    // The density target sums to the number of heads.
    let target = Target::Density {
        out_w: 32,
        out_h: 32,
        scale: 1.0,
        map: std::sync::Arc::new(mote_host::train::density::FixedSigmaDensity::default()),
    };
    let b = collate(
        vec![s.clone()],
        Task::Counter.arch().unwrap().input,
        &target,
    )
    .unwrap();
    let BatchTarget::Density { map, counts } = b.target else {
        panic!()
    };
    assert!((counts[0] - p.len() as f32).abs() < 1e-3);
    assert!((map.sum_all().unwrap().to_scalar::<f32>().unwrap() - p.len() as f32).abs() < 1e-3);
    // Corrupt masks are typed errors, not panics.
    std::fs::write(dir.join("faces/00002.mask.png"), b"not a png").unwrap();
    assert!(f.get(2).is_err());
    std::fs::remove_file(dir.join("crowds/00002.points.csv")).unwrap();
    assert!(CrowdFolder::open(&dir.join("crowds")).is_err());
}

/// Two "fractal" classes the encoder can tell apart: horizontal vs. vertical stripes.
fn stripes(n: usize, size: usize) -> InMemory {
    let mut rng = Rng::new(9);
    let samples = (0..n)
        .map(|i| {
            let k = i % 2;
            let period = 4 + rng.below(6);
            let mut rgb = vec![0f32; size * size * 3];
            for y in 0..size {
                for x in 0..size {
                    let t = if k == 0 { y } else { x };
                    let v = if (t / period) % 2 == 0 { 0.9 } else { 0.1 };
                    for c in 0..3 {
                        rgb[(y * size + x) * 3 + c] = v;
                    }
                }
            }
            Sample {
                image: Image::new(size, size, rgb).unwrap(),
                label: Label::Class(k),
            }
        })
        .collect();
    InMemory {
        samples,
        classes: 2,
    }
}

#[test]
fn pretraining_trains_only_the_encoder() {
    let net = Net::new(Task::Segmenter.arch().unwrap(), 1).unwrap();
    let snapshot = |net: &Net, name: &str| -> Vec<f32> {
        let v = net
            .named_vars()
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1;
        v.as_tensor().flatten_all().unwrap().to_vec1().unwrap()
    };
    let (enc0, dec0) = (
        snapshot(&net, "enc3.pw.weight"),
        snapshot(&net, "dec2.pw.weight"),
    );
    let cfg = PretrainConfig {
        epochs: 3,
        batch: 8,
        lr: 3e-3,
        seed: 1,
        progress: false,
        max_steps: None,
    };
    let r = pretrain(&net, &stripes(16, 96), &cfg).unwrap();
    assert!(r[2].loss < r[0].loss, "{r:?}");
    assert_ne!(snapshot(&net, "enc3.pw.weight"), enc0);
    assert_eq!(snapshot(&net, "dec2.pw.weight"), dec0);
}

#[test]
fn a_run_leaves_checkpoints_and_logs() {
    let dir = scratch("run");
    toy::write_folder(&dir.join("train"), 8, false, 1).unwrap();
    toy::write_folder(&dir.join("val"), 4, false, 2).unwrap();
    // Fractal folder layout: DIR/<class>/*.png.
    for (k, s) in stripes(8, 48).samples.iter().enumerate() {
        toy::write_sample(&dir.join(format!("fractals/c{}", k % 2)), k, s).unwrap();
    }
    assert_eq!(
        ClassFolder::open(&dir.join("fractals")).unwrap().classes(),
        2
    );
    let mut cfg = quiet(Task::Segmenter, 3e-3);
    cfg.epochs = 2;
    cfg.out = Some(dir.join("out"));
    let spec = RunSpec {
        config: cfg,
        data: dir.join("train"),
        val: dir.join("val"),
        pretrain: Some(Pretrain::FractalFolder {
            dir: dir.join("fractals"),
            epochs: 1,
        }),
        command: "test".into(),
    };
    let reports = run(&spec).unwrap();
    assert_eq!(reports.len(), 2);
    for f in ["best.safetensors", "last.safetensors", "log.csv", "run.txt"] {
        assert!(dir.join("out").join(f).exists(), "{f} missing");
    }
    let log = std::fs::read_to_string(dir.join("out/log.csv")).unwrap();
    assert_eq!(log.lines().count(), 3);
    let run_txt = std::fs::read_to_string(dir.join("out/run.txt")).unwrap();
    assert!(run_txt.contains("task=segmenter") && run_txt.contains("pretrain=fractals"));
    let net = Net::new(Task::Segmenter.arch().unwrap(), 9).unwrap();
    checkpoint::load(&net, &dir.join("out/best.safetensors")).unwrap();
}

/// A counter-shaped net without batch norm. Its batch loss (density MSE and
/// count L1, both means over images) is the mean of its images' losses, so
/// gradients summed over shards must equal the whole batch's.
fn plain_counter() -> Arch {
    let mut b = ArchBuilder::new("plain", Shape::new(128, 128, 3));
    let x = b.input();
    let s = b.conv_plain("stem", x, 3, 2, 8, Act::Relu6).unwrap();
    let d = b.depthwise_with("dw", s, 2, Act::Relu6, false).unwrap();
    let y = b.conv_plain("density", d, 1, 1, 1, Act::Relu).unwrap();
    b.finish(y, d).unwrap()
}

#[test]
fn shards_split_images_and_targets_in_order() {
    let t = Trainer::new(
        Net::new(plain_counter(), 5).unwrap(),
        quiet(Task::Counter, 1e-3),
        6,
        vec![],
    )
    .unwrap();
    let b = t.load(&crowds(6, 2), &[0, 1, 2, 3, 4, 5], None).unwrap();
    let shards = b.shards(4).unwrap();
    let sizes: Vec<usize> = shards.iter().map(|s| s.len()).collect();
    assert_eq!(sizes, [2, 2, 1, 1]);
    let counts = |b: &mote_host::train::batch::Batch| match &b.target {
        BatchTarget::Density { counts, .. } => counts.clone(),
        _ => panic!("counter batch without densities"),
    };
    let joined: Vec<f32> = shards.iter().flat_map(counts).collect();
    assert_eq!(joined, counts(&b));
    let images: Vec<Tensor> = shards.iter().map(|s| s.images.clone()).collect();
    let diff = (Tensor::cat(&images, 0).unwrap() - &b.images)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert_eq!(diff, 0.0);
    assert_eq!(b.shards(9).unwrap().len(), 6, "never an empty shard");
}

#[test]
fn sharded_gradients_equal_the_whole_batch() {
    let t = Trainer::new(
        Net::new(plain_counter(), 5).unwrap(),
        quiet(Task::Counter, 1e-3),
        6,
        vec![],
    )
    .unwrap();
    let b = t.load(&crowds(6, 2), &[0, 1, 2, 3, 4, 5], None).unwrap();
    let vars = t.net.trainable(false);
    let (whole_loss, whole) = parallel::grads(&b, 1, &vars, |s, p| t.loss(s, p)).unwrap();
    for threads in [2, 4] {
        let (loss, sharded) = parallel::grads(&b, threads, &vars, |s, p| t.loss(s, p)).unwrap();
        assert!(
            (loss - whole_loss).abs() <= 1e-5 * whole_loss.abs(),
            "{threads} threads: loss {loss} vs {whole_loss}"
        );
        for v in &vars {
            let a = whole.get(v.as_tensor()).unwrap().flatten_all().unwrap();
            let s = sharded.get(v.as_tensor()).unwrap().flatten_all().unwrap();
            let a = a.to_vec1::<f32>().unwrap();
            let s = s.to_vec1::<f32>().unwrap();
            let scale = a.iter().fold(0f32, |m, x| m.max(x.abs()));
            assert!(scale > 0.0, "a gradient of zero tests nothing");
            for (x, y) in a.iter().zip(&s) {
                assert!(
                    (x - y).abs() <= 1e-4 * scale,
                    "{threads} threads: {x} vs {y}"
                );
            }
        }
    }
}

#[test]
fn data_parallel_training_is_deterministic() {
    let data = faces(4, 3);
    let run = || {
        let mut cfg = quiet(Task::Segmenter, 1e-3);
        cfg.threads = 2;
        let net = Net::new(Task::Segmenter.arch().unwrap(), 4).unwrap();
        let mut t = Trainer::new(net, cfg, 4, vec![1.0, 4.0, 5.0]).unwrap();
        for _ in 0..2 {
            let b = t.load(&data, &[0, 1, 2, 3], None).unwrap();
            t.step(&b).unwrap();
        }
        // Every variable, batch-norm running statistics included.
        t.net
            .named_vars()
            .into_iter()
            .map(|(name, v)| {
                (
                    name,
                    v.as_tensor()
                        .flatten_all()
                        .unwrap()
                        .to_vec1::<f32>()
                        .unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let first = run();
    assert!(first.iter().any(|(n, _)| n.ends_with(".bn.mean")));
    assert_eq!(first, run());
}

/// An identity 1x1 convolution with batch norm: the batch norm sees the
/// input images themselves, so its population statistics are known.
fn identity_bn() -> Net {
    let mut b = ArchBuilder::new("bn", Shape::new(8, 8, 3));
    let x = b.input();
    let y = b.conv("id", x, 1, 1, 3, Act::None).unwrap();
    let net = Net::new(b.finish(y, y).unwrap(), 3).unwrap();
    let p = net.layers[0].as_ref().unwrap();
    let eye = Tensor::eye(3, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap();
    p.weight.set(&eye.reshape((3, 3, 1, 1)).unwrap()).unwrap();
    net
}

fn first_weights(net: &Net) -> Vec<f32> {
    let w = net.layers[0].as_ref().unwrap().weight.as_tensor();
    w.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

#[test]
fn bn_census_sets_the_population_statistics() {
    let net = identity_bn();
    let mut rng = Rng::new(11);
    // Two batches of 4 images whose channels have different scales and
    // whose batches have different means, as sparse and dense crowds do.
    let batches: Vec<Vec<f32>> = (0..2)
        .map(|k| {
            (0..4 * 3 * 64)
                .map(|i| {
                    let c = (i / 64) % 3;
                    (c as f32 + 1.0) * rng.normal() + 3.0 * k as f32
                })
                .collect()
        })
        .collect();
    let tensors = batches
        .iter()
        .map(|v| Tensor::from_vec(v.clone(), (4, 3, 8, 8), &candle_core::Device::Cpu));
    let weight_before = first_weights(&net);
    assert_eq!(net.recompute_bn_stats(tensors).unwrap(), 2);
    let bn = net.layers[0].as_ref().unwrap().bn.as_ref().unwrap();
    let mean = bn.mean.as_tensor().to_vec1::<f32>().unwrap();
    let var = bn.var.as_tensor().to_vec1::<f32>().unwrap();
    for c in 0..3 {
        let xs: Vec<f64> = batches
            .iter()
            .flat_map(|v| {
                (0..4).flat_map(move |n| v[(n * 3 + c) * 64..(n * 3 + c + 1) * 64].to_vec())
            })
            .map(f64::from)
            .collect();
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / xs.len() as f64;
        assert!(
            (mean[c] as f64 - m).abs() < 1e-4,
            "channel {c}: mean {} vs {m}",
            mean[c]
        );
        // The population variance includes the spread between the batches'
        // means; an average of the batch variances would miss 2.25.
        assert!(
            (var[c] as f64 - v).abs() < 1e-3 * v,
            "channel {c}: var {} vs {v}",
            var[c]
        );
    }
    // Only statistics move: the weights are what training left.
    let weight_after = first_weights(&net);
    assert_eq!(weight_before, weight_after);
    // No batch leaves the statistics alone.
    assert_eq!(net.recompute_bn_stats(std::iter::empty()).unwrap(), 0);
    assert_eq!(bn.mean.as_tensor().to_vec1::<f32>().unwrap(), mean);
}
