//! The exporter against the runtime: an exported network run through
//! `mote-core` must agree with the fake-quantized network (same rounding)
//! almost value for value, and with the float network within a few
//! quantization steps.
use candle_core::{Device, Tensor};
use mote_core::Model;

use super::*;
use crate::train::arch::{Act, Arch, ArchBuilder, Resize, Shape};
use crate::train::data::{InMemory, Sample};
use crate::train::evaluate::{run_int8, score_float, score_int8};
use crate::train::rng::Rng;
use crate::train::toy;

/// A small network with every exported op: CONV_2D (strides 1 and 2),
/// DEPTHWISE_CONV_2D, ADD (+ReLU6 and plain), CONCATENATION, both resizes;
/// batch norms on the inner layers.
fn all_ops_arch() -> Arch {
    let mut b = ArchBuilder::new("all_ops", Shape::new(16, 16, 3));
    let stem = b.conv("stem", 0, 3, 1, 6, Act::Relu6).unwrap();
    let d = b.depthwise("dw", stem, 2).unwrap();
    let p = b.conv("pw", d, 1, 1, 8, Act::None).unwrap();
    let r = b.separable("res", p, 1, 8, true).unwrap();
    let c = b.concat("cat", &[r, p]).unwrap();
    let u = b.upsample("up", c, 2, Resize::Nearest).unwrap();
    let j = b.concat("join", &[u, stem]).unwrap();
    let o = b.conv_plain("head", j, 3, 1, 3, Act::None).unwrap();
    let dd = b.conv_plain("coarse", d, 1, 1, 3, Act::None).unwrap();
    let bu = b.upsample("bup", dd, 2, Resize::Bilinear).unwrap();
    let out = b.add("logits", o, bu, Act::None).unwrap();
    b.finish(out, d).unwrap()
}

/// Randomizes every variable (weights signed, BN statistics positive).
fn randomize(net: &Net, seed: u64) {
    let mut rng = Rng::new(seed);
    for (name, v) in net.named_vars() {
        let n = v.elem_count();
        let vals: Vec<f32> = if name.ends_with(".weight") {
            let fan = (n / v.dims()[0]).max(1) as f32;
            (0..n).map(|_| rng.normal() * (2.0 / fan).sqrt()).collect()
        } else if name.ends_with(".bias") || name.ends_with(".beta") {
            (0..n).map(|_| rng.range(-0.3, 0.3)).collect()
        } else if name.ends_with(".mean") {
            (0..n).map(|_| rng.range(-0.5, 0.5)).collect()
        } else {
            (0..n).map(|_| rng.range(0.5, 1.5)).collect()
        };
        v.set(&Tensor::from_vec(vals, v.dims(), &Device::Cpu).unwrap())
            .unwrap();
    }
}

fn faces(n: usize, size: usize, seed: u64) -> Vec<Sample> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| toy::face(size, &mut rng)).collect()
}

fn batch_of(samples: &[Sample], input: Shape) -> Tensor {
    let data = InMemory {
        samples: samples.to_vec(),
        classes: 3,
    };
    let mut b = image_batches(&data, input, samples.len(), samples.len()).unwrap();
    b.remove(0)
}

/// NCHW floats of image `k` → NHWC order.
fn nhwc(t: &Tensor, k: usize) -> Vec<f32> {
    let (_, c, h, w) = t.dims4().unwrap();
    let v: Vec<f32> = t.get(k).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let mut out = vec![0f32; c * h * w];
    for ch in 0..c {
        for p in 0..h * w {
            out[p * c + ch] = v[ch * h * w + p];
        }
    }
    out
}

struct Agreement {
    values: usize,
    exact: usize,
    max_steps_fake: i32,
    argmax_same: usize,
    pixels: usize,
    /// Int8 vs float, in output quantization steps.
    mean_steps_float: f64,
    p99_steps_float: f64,
}

/// Runs `images` through the blob, the fake-quantized deploy net and the
/// float network, and measures how they agree.
fn agreement(q: &mut Quantized, float: &Net, divisor: f32, images: &Tensor) -> Agreement {
    let blob = q.blob().unwrap();
    let model = Model::parse(&blob).unwrap();
    let oq = q.act[q.deploy.arch.output];
    let fake = q.fake_quant_forward(images).unwrap();
    let flt = (float.forward(images, false).unwrap() / divisor as f64).unwrap();
    let input = q.deploy.arch.input;
    let n = images.dim(0).unwrap();
    let c = fake.dim(1).unwrap();
    let (mut values, mut exact, mut max_steps, mut argmax_same, mut pixels) = (0, 0, 0, 0, 0);
    let mut float_steps = Vec::new();
    for k in 0..n {
        let rgb = nhwc(&images.get(k).unwrap().unsqueeze(0).unwrap(), 0);
        let got = run_int8(&model, &rgb, input).unwrap();
        let want: Vec<i32> = nhwc(&fake, k)
            .iter()
            .map(|&v| (v / oq.scale).round() as i32 + oq.zero_point)
            .collect();
        let flt = nhwc(&flt, k);
        assert_eq!(got.len(), want.len());
        for ((&g, &w), &f) in got.iter().zip(&want).zip(&flt) {
            values += 1;
            exact += usize::from(g as i32 == w);
            max_steps = max_steps.max((g as i32 - w).abs());
            float_steps.push(((oq.dequantize(g) - f) / oq.scale).abs() as f64);
        }
        for (gp, wp) in got.chunks(c).zip(want.chunks(c)) {
            let am = |v: &[i32]| (0..c).max_by_key(|&i| (v[i], -(i as i32))).unwrap();
            let g: Vec<i32> = gp.iter().map(|&v| v as i32).collect();
            pixels += 1;
            argmax_same += usize::from(am(&g) == am(wp));
        }
    }
    float_steps.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Agreement {
        values,
        exact,
        max_steps_fake: max_steps,
        argmax_same,
        pixels,
        mean_steps_float: float_steps.iter().sum::<f64>() / float_steps.len() as f64,
        p99_steps_float: float_steps[float_steps.len() * 99 / 100],
    }
}

#[test]
fn int8_blob_matches_fake_quant_and_float() {
    let net = Net::new(all_ops_arch(), 3).unwrap();
    randomize(&net, 11);
    let input = net.arch.input;
    let calib = batch_of(&faces(24, 16, 1), input);
    let mut q = Quantized::new(&net, Task::Segmenter, &[calib]).unwrap();
    // The copying ops share one quantization with their inputs.
    let t = |name: &str| {
        1 + q
            .deploy
            .arch
            .layers
            .iter()
            .position(|l| l.name == name)
            .unwrap()
    };
    assert_eq!(q.act[t("cat")], q.act[t("pw")]);
    assert_eq!(q.act[t("join")], q.act[t("stem")]);
    assert_eq!(q.act[t("bup")], q.act[t("coarse")]);
    assert_eq!(q.act[0], INPUT_QUANT);
    let test = batch_of(&faces(6, 16, 2), input);
    let a = agreement(&mut q, &net, 1.0, &test);
    let exact = a.exact as f64 / a.values as f64;
    eprintln!(
        "int8 vs fake quant: {:.4} exact, max {} steps, argmax {}/{}; vs float: mean {:.3} steps, p99 {:.2}",
        exact, a.max_steps_fake, a.argmax_same, a.pixels, a.mean_steps_float, a.p99_steps_float
    );
    // Fake quantization reproduces the runtime bit for bit.
    assert_eq!(
        a.exact, a.values,
        "only {exact:.4} of int8 values equal fake quantization"
    );
    assert_eq!(a.max_steps_fake, 0);
    assert_eq!(a.argmax_same, a.pixels);
    assert!(
        a.mean_steps_float < 1.5,
        "mean error {} steps",
        a.mean_steps_float
    );
    assert!(
        a.p99_steps_float < 6.0,
        "p99 error {} steps",
        a.p99_steps_float
    );
}

/// The counter's blob outputs the real density (the network learned it
/// times `DENSITY_SCALE`): the int8 sum is the float count.
#[test]
fn counter_blob_outputs_real_density() {
    let mut b = ArchBuilder::new("cnt", Shape::new(16, 16, 3));
    let s = b.conv("stem", 0, 3, 2, 8, Act::Relu6).unwrap();
    let d = b.conv_plain("density", s, 1, 1, 1, Act::Relu).unwrap();
    let net = Net::new(b.finish(d, s).unwrap(), 5).unwrap();
    randomize(&net, 5);
    // Shift the density layer's bias up so the map is mostly positive.
    let p = net.layers[1].as_ref().unwrap();
    p.bias
        .set(&Tensor::new(&[2.0f32], &Device::Cpu).unwrap())
        .unwrap();
    let input = net.arch.input;
    let calib = batch_of(&faces(16, 16, 3), input);
    let mut q = Quantized::new(&net, Task::Counter, &[calib]).unwrap();
    let test = batch_of(&faces(4, 16, 4), input);
    let model_blob = q.blob().unwrap();
    let model = Model::parse(&model_blob).unwrap();
    let oq = q.act[q.deploy.arch.output];
    let float = net.forward(&test, false).unwrap();
    let fake = q.fake_quant_forward(&test).unwrap();
    for k in 0..4 {
        let rgb = nhwc(&test.get(k).unwrap().unsqueeze(0).unwrap(), 0);
        let got: f32 = run_int8(&model, &rgb, input)
            .unwrap()
            .iter()
            .map(|&v| oq.dequantize(v))
            .sum();
        let want = float
            .get(k)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
            / DENSITY_SCALE;
        let fq = fake
            .get(k)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(want > 0.5, "degenerate test: float count {want}");
        assert!(
            (got - want).abs() < 0.02 * want,
            "int8 count {got}, float {want}"
        );
        assert!(
            (got - fq).abs() < 2.0 * oq.scale,
            "int8 count {got}, fake quant {fq}"
        );
    }
}

/// Both shipped architectures export within the device budgets.
#[test]
fn shipped_architectures_export_within_budget() {
    for task in [Task::Segmenter, Task::Counter] {
        let net = Net::new(task.arch().unwrap(), 1).unwrap();
        let input = net.arch.input;
        let mut rng = Rng::new(9);
        let samples: Vec<Sample> = (0..2)
            .map(|_| match task {
                Task::Segmenter => toy::face(input.w, &mut rng),
                Task::Counter => toy::crowd(input.w, 10, &mut rng),
            })
            .collect();
        let calib = batch_of(&samples, input);
        let q = Quantized::new(&net, task, &[calib]).unwrap();
        let blob = q.blob().unwrap();
        let model = Model::parse(&blob).unwrap();
        assert!(
            model.arena_size() <= 96 * 1024,
            "{}: arena {}",
            task.name(),
            model.arena_size()
        );
        assert!(
            model.constant_bytes() <= 64 * 1024,
            "{}: constants {}",
            task.name(),
            model.constant_bytes()
        );
        assert_eq!(model.head(), head_of(task));
        assert_eq!(crate::train::evaluate::task_of(&model).unwrap(), task);
    }
}

/// Fine-tuning changes the weights, keeps the loss finite, and the
/// fine-tuned blob still matches its fake quantization.
#[test]
fn quantization_aware_fine_tuning_stays_exact() {
    let net = Net::new(all_ops_arch(), 4).unwrap();
    randomize(&net, 12);
    let input = net.arch.input;
    let train = InMemory {
        samples: faces(16, 16, 5),
        classes: 3,
    };
    let calib = batch_of(&train.samples, input);
    let mut q = Quantized::new(&net, Task::Segmenter, &[calib]).unwrap();
    let before: Vec<f32> = q.deploy.layers[0]
        .as_ref()
        .unwrap()
        .weight
        .as_tensor()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let mut cfg = QatConfig::new(Task::Segmenter, 2);
    cfg.batch = 8;
    cfg.progress = false;
    cfg.lr = 1e-3;
    let losses = q.fine_tune(&train, &cfg).unwrap();
    assert_eq!(losses.len(), 2);
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(
        losses[1] < losses[0],
        "fine-tuning did not lower the loss: {losses:?}"
    );
    assert!(q.deploy.fake_quant.is_none());
    let after: Vec<f32> = q.deploy.layers[0]
        .as_ref()
        .unwrap()
        .weight
        .as_tensor()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert!(before.iter().zip(&after).any(|(a, b)| a != b));
    let test = batch_of(&faces(4, 16, 6), input);
    let deploy_copy = crate::train::fold::folded_net(&q.deploy).unwrap();
    let a = agreement(&mut q, &deploy_copy, 1.0, &test);
    assert_eq!(a.exact, a.values);
}

/// The int8 score of the blob and the float score agree on the same data
/// (a random network: what matters is that both paths score the same
/// predictions the same way).
#[test]
fn int8_and_float_scores_agree() {
    let net = Net::new(all_ops_arch(), 6).unwrap();
    randomize(&net, 13);
    let input = net.arch.input;
    let data = InMemory {
        samples: faces(8, 16, 7),
        classes: 3,
    };
    let calib = batch_of(&data.samples, input);
    let q = Quantized::new(&net, Task::Segmenter, &[calib]).unwrap();
    let blob = q.blob().unwrap();
    let model = Model::parse(&blob).unwrap();
    let f = score_float(&net, Task::Segmenter, &data, 1.0, 4).unwrap();
    let i = score_int8(&model, Task::Segmenter, &data).unwrap();
    let (Score::Seg(f), Score::Seg(i)) = (&f, &i) else {
        panic!("segmentation scores expected");
    };
    let pixels: u64 = 8 * 16 * 16;
    assert!(f.union.iter().sum::<u64>() >= pixels);
    for k in 0..3 {
        assert!(
            (f.iou(k) - i.iou(k)).abs() < 0.05,
            "class {k}: {} vs {}",
            f.iou(k),
            i.iou(k)
        );
    }
    assert!(within_tolerance(
        &Score::Seg(f.clone()),
        &Score::Seg(f.clone())
    ));
}

/// Every intermediate tensor (made a graph output) is bit-exact too, so
/// no error hides behind a later clamp or argmax.
#[test]
fn every_tensor_is_bit_exact() {
    let net = Net::new(all_ops_arch(), 3).unwrap();
    randomize(&net, 11);
    let input = net.arch.input;
    let calib = batch_of(&faces(24, 16, 1), input);
    let mut q = Quantized::new(&net, Task::Segmenter, &[calib]).unwrap();
    let test = batch_of(&faces(2, 16, 2), input);
    q.deploy.fake_quant = Some(calibrate::fake_quant_table(&q.act));
    let ts = q
        .deploy
        .forward_all(&test, q.deploy.arch.output, false)
        .unwrap();
    q.deploy.fake_quant = None;
    for (t, fake) in ts.iter().enumerate().skip(1) {
        let mut g = q.graph().unwrap();
        g.outputs = vec![t];
        let blob = crate::blob::export(&g).unwrap();
        let model = Model::parse(&blob).unwrap();
        let aq = q.act[t];
        let (mut n, mut ex) = (0, 0);
        for k in 0..2 {
            let rgb = nhwc(&test.get(k).unwrap().unsqueeze(0).unwrap(), 0);
            let got = run_int8(&model, &rgb, input).unwrap();
            let want = nhwc(fake.as_ref().unwrap(), k);
            for (g, w) in got.iter().zip(&want) {
                n += 1;
                ex += usize::from(*g as i32 == (w / aq.scale).round() as i32 + aq.zero_point);
            }
        }
        assert_eq!(ex, n, "tensor {t} {}", q.deploy.arch.layers[t - 1].name);
    }
}

/// `mote export` end to end on a tiny trained run: blob and card written,
/// the card's int8 numbers are what scoring the written blob gives (what
/// `mote eval` prints), and the ablation table lists both runs.
#[test]
fn export_run_writes_blob_and_card() {
    use crate::train::run::{run as train_run, RunSpec};
    use crate::train::trainer::TrainConfig;
    let dir = tempfile::tempdir().unwrap();
    let (data, val) = (dir.path().join("train"), dir.path().join("val"));
    toy::write_folder(&data, 8, false, 1).unwrap();
    toy::write_folder(&val, 4, false, 2).unwrap();
    let mut runs = Vec::new();
    for name in ["a", "b"] {
        let mut config = TrainConfig::new(Task::Segmenter);
        config.epochs = 1;
        config.batch = 4;
        config.max_steps = Some(1);
        config.progress = false;
        config.out = Some(dir.path().join(name));
        train_run(&RunSpec {
            config,
            data: data.clone(),
            val: val.clone(),
            pretrain: None,
            command: format!("target/release/mote train segmenter --out {name}"),
        })
        .unwrap();
        runs.push(dir.path().join(name));
    }
    let out = dir.path().join("models").join("toy.mote");
    let mut spec = ExportSpec::new(&runs[0], &out);
    spec.calib_images = 4;
    spec.ablation = vec![runs[1].clone()];
    spec.qat_epochs = 1;
    spec.force_qat = true;
    spec.qat_max_steps = Some(1);
    let r = export_run(&spec).unwrap();
    let blob = std::fs::read(&out).unwrap();
    assert_eq!(blob, r.blob);
    let model = Model::parse(&blob).unwrap();
    assert_eq!(model.head(), mote_core::Head::Segmentation);
    let data_val = crate::train::run::open_folder(Task::Segmenter, &val).unwrap();
    let again = crate::train::evaluate::score_blob(&blob, data_val.as_ref()).unwrap();
    assert_eq!(&again, r.int8());
    assert!(r.qat.is_some());
    let card = std::fs::read_to_string(dir.path().join("models").join("toy.md")).unwrap();
    assert_eq!(card, r.card);
    for needle in [
        "## Architecture",
        "| 0 | stem | CONV_2D | 3x3 /1 |",
        "## Accuracy",
        "mean IoU",
        "## Fractal pre-training ablation",
        "## Reproduce",
        "mote train segmenter --out a",
        "mote eval",
    ] {
        assert!(card.contains(needle), "card lacks {needle:?}:\n{card}");
    }
    let Score::Seg(s) = r.int8() else {
        panic!("segmentation score expected")
    };
    assert!(card.contains(&format!("{:.4}", s.miou())));
    assert!(card.contains(&format!(
        "| arena bytes (planned by mote) | {} |",
        model.arena_size()
    )));
}
