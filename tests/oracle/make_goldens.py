#!/usr/bin/env python3
"""Golden vectors for mote: small int8 TFLite models and what TFLM computes for them.

The script builds a handful of tiny Keras models whose layers, once converted
by TensorFlow's TFLite converter (full int8, per-channel weights, representative
dataset), cover every op that mote-core implements.  It then runs seeded random
inputs through TensorFlow Lite for Microcontrollers itself (the `tflite-micro`
PyPI package runs TFLM's reference kernels) and writes:

    tests/golden/NAME.tflite                  the converted model
    tests/golden/NAME.input{i}.npy            input i (batch 1, NHWC)
    tests/golden/NAME.input{i}.output{j}.npy  TFLM's output j for input i
    tests/golden/NAME.tflm.json               model facts and TFLM's arena usage
    tests/golden/NAME.tensors/                every activation tensor for input 0
                                              (input i > 0: NAME.tensors/input{i}/)
    tests/golden/MANIFEST.json                index of all of the above

Every output is also recomputed with TensorFlow Lite's BUILTIN_REF kernels and
must agree byte for byte; for models with a tensor dump every intermediate
tensor must agree too.  Any disagreement, any op outside mote's list, or any
required op or feature missing from the model set stops the script with an
error.

Run it from the repository root (see tests/oracle/README.md):

    python tests/oracle/make_goldens.py            # (re)write tests/golden
    python tests/oracle/make_goldens.py --check    # regenerate elsewhere, compare
"""

import os
import sys

# Determinism knobs must be in place before TensorFlow is imported.  Hash
# randomisation only takes effect at interpreter start, so re-exec once.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)
os.environ["TF_DETERMINISTIC_OPS"] = "1"
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
# oneDNN may reorder float reductions; keep calibration on the plain kernels.
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ["OMP_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import ctypes  # noqa: E402
import filecmp  # noqa: E402
import hashlib  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from tflite_micro.python.tflite_micro import runtime as tflm  # noqa: E402
from tflite_micro.tensorflow.lite.micro.python import (  # noqa: E402
    schema_py_generated as schema,
)

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.get_logger().setLevel("ERROR")
warnings.filterwarnings("ignore")

SEED = 20261125
# Generous arena for the TFLM runs; the arena actually used is measured.
TFLM_ARENA = 1 << 20
CALIBRATION_SAMPLES = 64

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "golden")

# The ops mote-core implements (issue 3).  The model set must use each of them
# and nothing else.
REQUIRED_OPS = [
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED",
    "ADD",
    "MUL",
    "CONCATENATION",
    "MAX_POOL_2D",
    "AVERAGE_POOL_2D",
    "MEAN",
    "PAD",
    "RESHAPE",
    "RESIZE_NEAREST_NEIGHBOR",
    "RESIZE_BILINEAR",
    "LOGISTIC",
    "SOFTMAX",
    "HARD_SWISH",
    "LEAKY_RELU",
    "QUANTIZE",
    "DEQUANTIZE",
]

OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
ACT_NAMES = {v: k for k, v in vars(schema.ActivationFunctionType).items() if not k.startswith("_")}
PADDING_NAMES = {v: k for k, v in vars(schema.Padding).items() if not k.startswith("_")}
NP_TYPES = {"INT8": np.int8, "INT32": np.int32, "FLOAT32": np.float32, "INT16": np.int16}

L = keras.layers


class OracleError(RuntimeError):
    """A check that makes the goldens untrustworthy failed."""


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


class Resize(L.Layer):
    """`tf.image.resize` as a layer.

    Keras 3's UpSampling2D lowers to RESHAPE+TILE, which TFLM lacks; calling
    tf.image.resize directly converts to RESIZE_NEAREST_NEIGHBOR or
    RESIZE_BILINEAR (half-pixel centres, TF2's default).
    """

    def __init__(self, size, method, **kwargs):
        super().__init__(**kwargs)
        self.size = tuple(size)
        self.method = method

    def call(self, x):
        return tf.image.resize(x, self.size, method=self.method)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "method": self.method}


def conv_stack():
    """1-channel odd-sized input; plain convolutions and a dense tail.

    Covers CONV_2D with stride 2 SAME, dilation 2, stride (2,1) VALID with a
    non-square kernel, a 1x1 conv, fused RELU6/RELU/NONE; RESHAPE (Flatten);
    FULLY_CONNECTED with RELU6, with RELU and no bias, and with NONE.
    """
    x = inp = keras.Input((17, 13, 1), batch_size=1, name="image")
    x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu6", name="c1_s2_same")(x)
    x = L.Conv2D(5, 3, dilation_rate=2, padding="same", activation="relu", name="c2_dil2")(x)
    x = L.Conv2D(7, (3, 2), strides=(2, 1), padding="valid", name="c3_s2_valid")(x)
    x = L.Conv2D(3, 1, activation="relu", name="c4_1x1")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(10, activation="relu6", name="fc1")(x)
    x = L.Dense(6, activation="relu", use_bias=False, name="fc2_nobias")(x)
    x = L.Dense(3, name="fc3")(x)
    return keras.Model(inp, x, name="conv_stack")


def dw_pool_se():
    """3-channel input; explicit padding, depthwise convs, pooling, squeeze-excite.

    Covers PAD (asymmetric), DEPTHWISE_CONV_2D with depth multiplier 2 (VALID,
    RELU), with dilation 2 (SAME), with stride 2 (SAME, RELU6); HARD_SWISH;
    MEAN with keep_dims (squeeze) and without (global pool); LOGISTIC; MUL
    with broadcasting over H and W; MAX_POOL_2D and AVERAGE_POOL_2D with
    SAME and VALID padding on odd sizes; SOFTMAX.
    """
    x = inp = keras.Input((15, 11, 3), batch_size=1, name="image")
    x = L.ZeroPadding2D(((1, 2), (0, 1)), name="pad")(x)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, activation="relu", name="dw1_mult2")(x)
    x = L.MaxPooling2D(3, strides=2, padding="same", name="maxpool_same")(x)
    x = L.DepthwiseConv2D(3, dilation_rate=2, padding="same", name="dw2_dil2")(x)
    x = L.Conv2D(9, 1, name="expand")(x)
    x = L.Activation("hard_swish", name="hswish")(x)
    s = L.GlobalAveragePooling2D(keepdims=True, name="se_squeeze")(x)
    s = L.Conv2D(9, 1, activation="sigmoid", name="se_gate")(s)
    x = L.Multiply(name="se_scale")([x, s])
    x = L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6", name="dw3_s2")(x)
    x = L.AveragePooling2D(3, strides=1, padding="same", name="avgpool_same")(x)
    x = L.AveragePooling2D(2, strides=1, padding="valid", name="avgpool_valid")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dense(5, name="fc")(x)
    x = L.Softmax(name="softmax")(x)
    return keras.Model(inp, x, name="dw_pool_se")


def encdec():
    """A small U-Net-like encoder-decoder with a segmentation and a density head.

    Covers layers of 100k+ MACs, RESIZE_NEAREST_NEIGHBOR + CONCATENATION skip,
    RESIZE_BILINEAR + ADD skip with fused RELU, LEAKY_RELU, LOGISTIC, and a
    model with two outputs.  Every intermediate tensor is dumped for input 0.
    """
    inp = keras.Input((24, 32, 3), batch_size=1, name="image")
    e1 = L.Conv2D(8, 3, padding="same", activation="relu", name="enc1")(inp)
    e2 = L.Conv2D(12, 3, strides=2, padding="same", activation="relu6", name="enc2_s2")(e1)
    e3 = L.Conv2D(16, 3, strides=2, padding="same", name="enc3_s2")(e2)
    e3 = L.LeakyReLU(negative_slope=0.1, name="enc3_leaky")(e3)
    u2 = Resize((12, 16), "nearest", name="up2_nearest")(e3)
    d2 = L.Concatenate(name="skip2_concat")([u2, e2])
    d2 = L.Conv2D(12, 3, padding="same", activation="relu", name="dec2")(d2)
    density = L.Conv2D(1, 1, activation="relu", name="density_head")(d2)
    u1 = Resize((24, 32), "bilinear", name="up1_bilinear")(d2)
    u1 = L.Conv2D(8, 1, name="dec1_proj")(u1)
    d1 = L.Add(name="skip1_add")([u1, e1])
    d1 = L.ReLU(name="skip1_relu")(d1)
    seg = L.Conv2D(1, 3, padding="same", name="seg_logits")(d1)
    seg = L.Activation("sigmoid", name="seg_mask")(seg)
    return keras.Model(inp, [seg, density], name="encdec")


def float_io():
    """Float32 input and output around an int8 body.

    Covers QUANTIZE float32->int8 (input), QUANTIZE int8->int8 (the converter
    requantizes the LOGISTIC output to the concatenation's scale),
    CONCATENATION, RESHAPE to a rank-3 shape, SOFTMAX over the last axis, and
    DEQUANTIZE int8->float32 (output).
    """
    x = inp = keras.Input((7, 5, 2), batch_size=1, name="image")
    a = L.Conv2D(3, 3, padding="same", name="branch_a")(x)
    a = L.Activation("sigmoid", name="branch_a_sigmoid")(a)
    b = L.Conv2D(4, 1, name="branch_b")(x)
    x = L.Concatenate(name="concat")([a, b])
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(6, activation="relu", name="fc")(x)
    x = L.Reshape((2, 3), name="reshape")(x)
    x = L.Softmax(name="softmax")(x)
    return keras.Model(inp, x, name="float_io")


def resize_mix():
    """Resizes by non-integer factors, elementwise ops with fused activations.

    Covers RESIZE_BILINEAR up (7x5 -> 13x9) and down (13x9 -> 6x4),
    RESIZE_NEAREST_NEIGHBOR by a non-integer factor, MUL with fused RELU6
    (no broadcast), ADD with fused RELU6 and with NONE, CONCATENATION of
    three tensors along H, LEAKY_RELU
    with a larger slope, HARD_SWISH, and 5-channel tensors.
    """
    inp = keras.Input((7, 5, 5), batch_size=1, name="image")
    bil = Resize((13, 9), "bilinear", name="up_bilinear")(inp)
    near = Resize((13, 9), "nearest", name="up_nearest")(inp)
    m = L.Multiply(name="mul")([bil, near])
    m = L.ReLU(max_value=6.0, name="mul_relu6")(m)
    c = L.Conv2D(5, 3, padding="same", name="conv")(bil)
    a = L.Add(name="add")([m, c])
    a = L.ReLU(max_value=6.0, name="add_relu6")(a)
    down = Resize((6, 4), "bilinear", name="down_bilinear")(a)
    down = L.LeakyReLU(negative_slope=0.3, name="leaky")(down)
    other = L.Conv2D(5, 3, strides=2, padding="valid", name="conv_s2_valid")(a)
    other = L.Activation("hard_swish", name="hswish")(other)
    both = L.Add(name="add_plain")([down, other])
    out = L.Concatenate(axis=1, name="concat_h")([down, other, both])
    return keras.Model(inp, out, name="resize_mix")


# name -> (builder, inference input/output type, dump every tensor?)
# The dumps are small, and a per-tensor comparison points at the failing op,
# so every model gets one.
MODELS = {
    "conv_stack": (conv_stack, tf.int8, True),
    "dw_pool_se": (dw_pool_se, tf.int8, True),
    "encdec": (encdec, tf.int8, True),
    "float_io": (float_io, tf.float32, True),
    "resize_mix": (resize_mix, tf.int8, True),
}


def randomize_weights(model, rng):
    """Seeded He-uniform kernels and non-zero biases.

    Keras initialises biases to zero, and the converter then drops them; a
    random bias makes the bias path of every kernel matter.
    """
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        kernel = weights[0]
        if isinstance(layer, L.DepthwiseConv2D):
            fan_in = kernel.shape[0] * kernel.shape[1]
        else:
            fan_in = int(np.prod(kernel.shape[:-1]))
        limit = np.sqrt(6.0 / fan_in)
        new = [rng.uniform(-limit, limit, kernel.shape).astype(np.float32)]
        for w in weights[1:]:
            new.append(rng.uniform(-0.3, 0.3, w.shape).astype(np.float32))
        layer.set_weights(new)


def convert(model, io_type, rng):
    """Full-integer conversion with a seeded representative dataset."""
    shape = tuple(model.inputs[0].shape)
    samples = [rng.uniform(-1.0, 1.0, shape).astype(np.float32) for _ in range(CALIBRATION_SAMPLES)]

    def representative():
        for s in samples:
            yield [s]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = io_type
    conv.inference_output_type = io_type
    return bytes(conv.convert())


# --------------------------------------------------------------------------
# Model facts
# --------------------------------------------------------------------------


def _plain(v):
    """Flatbuffer object values -> JSON-friendly values."""
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if hasattr(v, "__dict__"):
        return {k: _plain(x) for k, x in sorted(vars(v).items())}
    return v


def tensor_facts(model_t, sg, idx):
    t = sg.tensors[idx]
    q = t.quantization
    scales = [float(s) for s in q.scale] if q is not None and q.scale is not None else []
    zps = [int(z) for z in q.zeroPoint] if q is not None and q.zeroPoint is not None else []
    buf = model_t.buffers[t.buffer] if t.buffer < len(model_t.buffers) else None
    constant = buf is not None and (
        (buf.data is not None and len(buf.data) > 0) or (getattr(buf, "size", 0) or 0) > 0
    )
    facts = {
        "index": int(idx),
        "name": t.name.decode("utf-8") if isinstance(t.name, bytes) else str(t.name),
        "shape": [int(d) for d in t.shape] if t.shape is not None else [],
        "dtype": TYPE_NAMES[t.type],
        "scale": scales,
        "zero_point": zps,
        "quantized_dimension": int(q.quantizedDimension) if q is not None else 0,
        "constant": bool(constant),
    }
    # Small int32 constants are op parameters (new shapes, paddings, axes,
    # resize sizes, short biases): spell them out for the importer's tests.
    if constant and t.type == schema.TensorType.INT32 and buf.data is not None:
        values = np.frombuffer(bytes(bytearray(buf.data)), dtype="<i4")
        if values.size <= 16:
            facts["data"] = [int(v) for v in values]
    return facts


def op_macs(op_name, ins, outs):
    """Multiply-accumulates of the compute ops (0 for the others)."""
    out = outs[0]["shape"]
    if op_name == "CONV_2D":
        _, kh, kw, cin = ins[1]["shape"]
        return int(np.prod(out)) * kh * kw * cin
    if op_name == "DEPTHWISE_CONV_2D":
        _, kh, kw, _ = ins[1]["shape"]
        return int(np.prod(out)) * kh * kw
    if op_name == "FULLY_CONNECTED":
        return int(np.prod(out)) * ins[1]["shape"][1]
    return 0


def decode_options(opts):
    """Builtin options with enum fields also spelled out."""
    if opts is None:
        return {}
    d = _plain(opts)
    if "fusedActivationFunction" in d:
        d["fusedActivationFunctionName"] = ACT_NAMES[d["fusedActivationFunction"]]
    if "padding" in d and isinstance(d["padding"], int):
        d["paddingName"] = PADDING_NAMES[d["padding"]]
    return d


def model_facts(tflite_bytes):
    model_t = tflm.convert_bytearray_to_object(bytearray(tflite_bytes))
    if len(model_t.subgraphs) != 1:
        raise OracleError(f"expected one subgraph, got {len(model_t.subgraphs)}")
    sg = model_t.subgraphs[0]
    tensors = [tensor_facts(model_t, sg, i) for i in range(len(sg.tensors))]
    producer = {int(i): None for i in sg.inputs}
    ops = []
    for k, op in enumerate(sg.operators):
        code = model_t.operatorCodes[op.opcodeIndex]
        name = OP_NAMES.get(tflm.get_builtin_code_from_operator_code(code), "UNKNOWN")
        if name == "CUSTOM":
            name = "CUSTOM:" + code.customCode.decode()
        ins = [int(i) for i in op.inputs]
        outs = [int(o) for o in op.outputs]
        for o in outs:
            producer[o] = k
        in_t = [tensors[i] if i >= 0 else None for i in ins]
        out_t = [tensors[o] for o in outs]
        ops.append(
            {
                "index": k,
                "op": name,
                "version": int(code.version),
                "inputs": ins,
                "outputs": outs,
                "input_shapes": [t["shape"] if t else None for t in in_t],
                "input_types": [t["dtype"] if t else None for t in in_t],
                "output_shapes": [t["shape"] for t in out_t],
                "output_types": [t["dtype"] for t in out_t],
                "options": decode_options(op.builtinOptions),
                "macs": op_macs(name, in_t, out_t),
            }
        )
    for t in tensors:
        t["producer_op"] = producer.get(t["index"])
    return {
        "inputs": [tensors[int(i)] for i in sg.inputs],
        "outputs": [tensors[int(o)] for o in sg.outputs],
        "ops": ops,
        "tensors": tensors,
    }


# --------------------------------------------------------------------------
# Running TFLM and TFLite's reference kernels
# --------------------------------------------------------------------------


def capture_native_output(fn):
    """Run fn() with the process's fd 1 and 2 going to a file; return the text.

    TFLM prints its allocation report from C++ (MicroPrintf), which Python's
    sys.stdout/sys.stderr redirection cannot see.
    """
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    sys.stderr.flush()
    libc.fflush(None)
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        try:
            fn()
            libc.fflush(None)
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        tmp.seek(0)
        return tmp.read().decode("utf-8", "replace")


ARENA_LINE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
DETAIL_LINE = re.compile(
    r"'([^']+)' used (\d+) bytes with alignment overhead \(requested (\d+) bytes for (\d+) ([^)]*)\)"
)


def parse_allocations(text):
    arena = {}
    for m in ARENA_LINE.finditer(text):
        arena[m.group(1)] = int(m.group(2))
    if set(arena) != {"total", "head", "tail"}:
        raise OracleError(f"could not parse TFLM's allocation report:\n{text}")
    details = [
        {
            "what": m.group(1),
            "used_bytes": int(m.group(2)),
            "requested_bytes": int(m.group(3)),
            "count": int(m.group(4)),
            "unit": m.group(5),
        }
        for m in DETAIL_LINE.finditer(text)
    ]
    return arena, details


def tflm_invoke(tflite_bytes, x, n_out, arena_size=TFLM_ARENA, config=None):
    kwargs = {"arena_size": arena_size}
    if config is not None:
        kwargs["intrepreter_config"] = config
    it = tflm.Interpreter.from_bytes(tflite_bytes, **kwargs)
    it.set_input(x, 0)
    it.invoke()
    return it, [np.array(it.get_output(j), copy=True) for j in range(n_out)]


# Runs one TFLM allocation + invoke in a child process: TFLM's allocator
# underflows and crashes (SIGSEGV) on some arenas smaller than its persistent
# data, which must not take the whole script down.
_ARENA_PROBE = """
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
model = open(sys.argv[1], "rb").read()
x = np.load(sys.argv[2])
try:
    it = runtime.Interpreter.from_bytes(model, arena_size=int(sys.argv[3]))
    it.set_input(x, 0)
    it.invoke()
except RuntimeError:
    sys.exit(1)
"""


def tflm_min_arena(tflite_path, input_path, upper):
    """Smallest arena (bytes) with which TFLM allocates and invokes the model."""

    def fits(size):
        proc = subprocess.run(
            [sys.executable, "-c", _ARENA_PROBE, tflite_path, input_path, str(size)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return proc.returncode == 0

    lo, hi = 1, upper
    # The reported total leaves out the temporary memory TFLM needs while
    # planning, so the smallest working arena may lie above it.
    while not fits(hi):
        lo = hi + 1
        hi *= 2
        if hi > TFLM_ARENA:
            raise OracleError(f"TFLM does not run in {TFLM_ARENA} bytes")
    while lo < hi:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def reference_interpreter(tflite_bytes):
    it = tf.lite.Interpreter(
        model_content=tflite_bytes,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True,
        num_threads=1,
    )
    it.allocate_tensors()
    return it


def reference_invoke(tflite_bytes, x):
    it = reference_interpreter(tflite_bytes)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it


def make_inputs(facts, rng):
    """Three inputs per model.

    int8: uniform over [-128, 127]; only -128 and 127 (saturation paths);
    uniform over [-20, 20] (small activations, where rounding dominates).
    float32: uniform over [-1, 1] (the calibrated range); over [-3, 3]
    (saturates the input QUANTIZE); exact rounding ties (n + 0.5) * scale of
    the input QUANTIZE (ties must round away from zero).
    """
    info = facts["inputs"][0]
    shape = tuple(info["shape"])
    if info["dtype"] == "INT8":
        return [
            rng.integers(-128, 128, shape, dtype=np.int8),
            rng.choice(np.array([-128, 127], dtype=np.int8), shape),
            rng.integers(-20, 21, shape, dtype=np.int8),
        ]
    if info["dtype"] == "FLOAT32":
        # The float model's QUANTIZE op gives the int8 scale of its output.
        q = next(op for op in facts["ops"] if op["op"] == "QUANTIZE" and op["input_types"][0] == "FLOAT32")
        out_q = facts["tensors"][q["outputs"][0]]
        scale = np.float32(out_q["scale"][0])
        ties = (rng.integers(-100, 100, shape) + 0.5).astype(np.float32) * scale
        return [
            rng.uniform(-1.0, 1.0, shape).astype(np.float32),
            rng.uniform(-3.0, 3.0, shape).astype(np.float32),
            ties.astype(np.float32),
        ]
    raise OracleError(f"unsupported input type {info['dtype']}")


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
        f.write("\n")


def save_npy(path, arr):
    np.save(path, np.ascontiguousarray(arr), allow_pickle=False)


def build_one(name, builder, io_type, dump_tensors, out_dir, log):
    # Each model gets its own seeds so that adding or reordering models does
    # not change the others.
    seed = SEED + sum(name.encode())
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = builder()
    randomize_weights(model, rng)
    tflite_bytes = convert(model, io_type, rng)
    facts = model_facts(tflite_bytes)
    n_out = len(facts["outputs"])

    tflite_path = os.path.join(out_dir, f"{name}.tflite")
    with open(tflite_path, "wb") as f:
        f.write(tflite_bytes)

    inputs = make_inputs(facts, rng)
    cases = []
    for i, x in enumerate(inputs):
        want_shape = tuple(facts["inputs"][0]["shape"])
        if x.shape != want_shape:
            raise OracleError(f"{name}: input shape {x.shape} != {want_shape}")
        _, outs = tflm_invoke(tflite_bytes, x, n_out)
        ref = reference_invoke(tflite_bytes, x)
        for j, (o, d) in enumerate(zip(outs, ref.get_output_details())):
            r = ref.get_tensor(d["index"])
            if o.dtype != r.dtype or o.shape != r.shape or o.tobytes() != r.tobytes():
                raise OracleError(f"{name}: input {i} output {j}: TFLM and TFLite BUILTIN_REF disagree")
            if list(o.shape) != facts["outputs"][j]["shape"]:
                raise OracleError(f"{name}: output {j} shape {o.shape} != model's")
        in_file = f"{name}.input{i}.npy"
        save_npy(os.path.join(out_dir, in_file), x)
        out_files = []
        for j, o in enumerate(outs):
            out_file = f"{name}.input{i}.output{j}.npy"
            save_npy(os.path.join(out_dir, out_file), o)
            out_files.append(out_file)
        cases.append({"input": in_file, "outputs": out_files})

    # Arena: TFLM's RecordingMicroAllocator report after one invoke, plus the
    # smallest arena with which it really runs (found by bisection).
    holder = {}

    def report():
        it, _ = tflm_invoke(tflite_bytes, inputs[0], n_out)
        it.print_allocations()
        holder["it"] = it

    text = capture_native_output(report)
    arena, details = parse_allocations(text)
    min_arena = tflm_min_arena(tflite_path, os.path.join(out_dir, cases[0]["input"]), arena["total"])

    tensors_dir = None
    if dump_tensors:
        tensors_dir = dump_all_tensors(name, tflite_bytes, facts, inputs, n_out, out_dir)

    total_macs = sum(op["macs"] for op in facts["ops"])
    tflm_json = {
        "model": f"{name}.tflite",
        "description": " ".join((builder.__doc__ or "").split()),
        "inference_io_type": "FLOAT32" if io_type == tf.float32 else "INT8",
        "arena": {
            "total_bytes": arena["total"],
            "head_bytes": arena["head"],
            "tail_bytes": arena["tail"],
            "min_working_arena_bytes": min_arena,
            "details": details,
            "note": (
                "From TFLM's RecordingMicroAllocator on the x86-64 host build "
                "(tflite-micro Python package). 'head' is the non-persistent "
                "area: the planned activation buffers and kernel scratch, the "
                "part comparable to mote's activation arena. 'tail' holds "
                "TFLM's persistent structs (64-bit pointers here, so smaller on "
                "a Cortex-M). min_working_arena_bytes is the smallest arena size "
                "passed to TFLM with which allocation and invoke succeed "
                "(bisection). It can exceed the total, because the report leaves "
                "out the temporary memory used while planning, or fall short of "
                "it by alignment slack."
            ),
        },
        "ops_used": sorted({op["op"] for op in facts["ops"]}),
        "total_macs": total_macs,
        "max_layer_macs": max(op["macs"] for op in facts["ops"]),
        "inputs": facts["inputs"],
        "outputs": facts["outputs"],
        "ops": facts["ops"],
        "tensors": facts["tensors"],
    }
    write_json(os.path.join(out_dir, f"{name}.tflm.json"), tflm_json)
    log(
        f"{name}: {len(tflite_bytes)} B, ops {tflm_json['ops_used']}, MACs {total_macs}, "
        f"arena total {arena['total']} head {arena['head']} min {min_arena}"
    )
    return {
        "name": name,
        "tflite": f"{name}.tflite",
        "tflm_json": f"{name}.tflm.json",
        "inference_io_type": tflm_json["inference_io_type"],
        "input_shape": facts["inputs"][0]["shape"],
        "output_shapes": [o["shape"] for o in facts["outputs"]],
        "ops_used": tflm_json["ops_used"],
        "total_macs": total_macs,
        "max_layer_macs": tflm_json["max_layer_macs"],
        "tflm_arena_total_bytes": arena["total"],
        "tflm_arena_head_bytes": arena["head"],
        "cases": cases,
        "tensors_dir": tensors_dir,
    }, facts


def dump_all_tensors(name, tflite_bytes, facts, inputs, n_out, out_dir):
    """Every activation tensor for each input, from TFLM, checked against TFLite.

    input0's tensors sit directly in NAME.tensors/ (the layout the Rust tests
    read first); input i > 0 gets NAME.tensors/input{i}/ with the same names.
    """
    dir_name = f"{name}.tensors"
    tdir = os.path.join(out_dir, dir_name)
    outputs = {o["index"] for o in facts["outputs"]}
    entries = []
    for t in facts["tensors"]:
        if t["constant"]:
            continue
        role = "input" if t["producer_op"] is None else "intermediate"
        if t["index"] in outputs:
            role = "output"
        entries.append(
            {
                "index": t["index"],
                "file": f"{t['index']}.npy",
                "name": t["name"],
                "shape": t["shape"],
                "dtype": t["dtype"],
                "scale": t["scale"],
                "zero_point": t["zero_point"],
                "producer_op": t["producer_op"],
                "role": role,
            }
        )
    runs = []
    for i, x in enumerate(inputs):
        sub = "" if i == 0 else f"input{i}"
        run_dir = os.path.join(tdir, sub) if sub else tdir
        os.makedirs(run_dir, exist_ok=True)
        it, _ = tflm_invoke(tflite_bytes, x, n_out, config=tflm.InterpreterConfig.kPreserveAllTensors)
        ref = reference_invoke(tflite_bytes, x)
        for e in entries:
            idx = e["index"]
            got = it.GetTensor(idx, 0)
            data = None if got is None else got.get("tensor_data")
            if data is None:
                raise OracleError(f"{name}: TFLM kept no data for tensor {idx}")
            want = ref.get_tensor(idx)
            data = np.asarray(data).reshape(e["shape"]).astype(NP_TYPES[e["dtype"]], copy=False)
            if data.dtype != want.dtype or data.tobytes() != want.tobytes():
                raise OracleError(
                    f"{name}: input {i} tensor {idx} ({e['name']}): TFLM and TFLite BUILTIN_REF disagree"
                )
            save_npy(os.path.join(run_dir, e["file"]), data)
        runs.append({"input": f"{name}.input{i}.npy", "dir": sub or "."})
    write_json(
        os.path.join(tdir, "tensors.json"),
        {
            "model": f"{name}.tflite",
            "input": f"{name}.input0.npy",
            "note": (
                "Every non-constant tensor of the model after running an input "
                "through TFLM (kPreserveAllTensors); each equals TFLite's "
                "BUILTIN_REF result byte for byte. The files for input0 are in "
                "this folder; 'runs' gives the folder for every input. "
                "producer_op is the op's index in execution order (null for the "
                "model input)."
            ),
            "runs": runs,
            "tensors": entries,
        },
    )
    return dir_name


def check_coverage(all_facts):
    """Fail unless the model set uses exactly mote's ops and shows the features
    the issue asks for."""
    used = {}
    for name, facts in all_facts.items():
        for op in facts["ops"]:
            used.setdefault(op["op"], []).append(name)
    problems = []
    missing = [op for op in REQUIRED_OPS if op not in used]
    if missing:
        problems.append(f"required ops missing from every model: {missing}")
    extra = sorted(op for op in used if op not in REQUIRED_OPS)
    if extra:
        problems.append(f"ops outside mote's list (would need support in mote): {extra}")

    ops = [(n, op) for n, f in all_facts.items() for op in f["ops"]]

    def has(pred):
        return any(pred(op) for _, op in ops)

    def opt(op, key):
        return op["options"].get(key)

    features = {
        "conv stride 2 SAME": lambda o: o["op"] == "CONV_2D" and opt(o, "strideH") == 2 and opt(o, "paddingName") == "SAME",
        "conv stride 2 VALID": lambda o: o["op"] == "CONV_2D" and opt(o, "strideH") == 2 and opt(o, "paddingName") == "VALID",
        "conv dilation 2": lambda o: o["op"] == "CONV_2D" and opt(o, "dilationHFactor") == 2,
        "depthwise multiplier 2": lambda o: o["op"] == "DEPTHWISE_CONV_2D" and opt(o, "depthMultiplier") == 2,
        "fused NONE": lambda o: opt(o, "fusedActivationFunctionName") == "NONE",
        "fused RELU": lambda o: opt(o, "fusedActivationFunctionName") == "RELU",
        "fused RELU6": lambda o: opt(o, "fusedActivationFunctionName") == "RELU6",
        "QUANTIZE float32->int8": lambda o: o["op"] == "QUANTIZE" and o["input_types"][0] == "FLOAT32",
        "QUANTIZE int8->int8": lambda o: o["op"] == "QUANTIZE" and o["input_types"][0] == "INT8",
        "DEQUANTIZE int8->float32": lambda o: o["op"] == "DEQUANTIZE" and o["output_types"][0] == "FLOAT32",
        "layer with 100k+ MACs": lambda o: o["macs"] >= 100_000,
    }
    for feature, pred in features.items():
        if not has(pred):
            problems.append(f"no op shows: {feature}")
    in_channels = {f["inputs"][0]["shape"][-1] for f in all_facts.values()}
    for c in (1, 3):
        if c not in in_channels:
            problems.append(f"no model has a {c}-channel input")
    if problems:
        raise OracleError("coverage check failed:\n  " + "\n  ".join(problems))
    return {op: sorted(set(models)) for op, models in sorted(used.items())}


def generate(out_dir, log):
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    entries, all_facts = [], {}
    for name, (builder, io_type, dump) in MODELS.items():
        entry, facts = build_one(name, builder, io_type, dump, out_dir, log)
        entries.append(entry)
        all_facts[name] = facts
    coverage = check_coverage(all_facts)

    files = {}
    for root, _, names in sorted(os.walk(out_dir)):
        for n in sorted(names):
            path = os.path.join(root, n)
            rel = os.path.relpath(path, out_dir).replace(os.sep, "/")
            files[rel] = sha256(path)
    manifest = {
        "generator": "tests/oracle/make_goldens.py",
        "seed": SEED,
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "tflite-micro": importlib.metadata.version("tflite-micro"),
            "numpy": np.__version__,
        },
        "naming": {
            "model": "NAME.tflite",
            "facts": "NAME.tflm.json (ops, tensors, quantization, TFLM arena)",
            "input": "NAME.input{i}.npy (batch 1, NHWC, the model's input dtype)",
            "output": "NAME.input{i}.output{j}.npy (TFLM's output j of the model for input i)",
            "tensors": (
                "NAME.tensors/{tensor_index}.npy + tensors.json: all activations for input0; "
                "NAME.tensors/input{i}/{tensor_index}.npy: the same for input i"
            ),
        },
        "models": entries,
        "op_coverage": coverage,
        "files": files,
    }
    write_json(os.path.join(out_dir, "MANIFEST.json"), manifest)
    total = sum(os.path.getsize(os.path.join(out_dir, p)) for p in files)
    log(f"wrote {len(files) + 1} files, {total} bytes, to {out_dir}")


def compare_dirs(a, b):
    """List of relative paths that differ between two trees."""
    diffs = []

    def walk(cmp, prefix):
        diffs.extend(prefix + n for n in cmp.left_only + cmp.right_only + cmp.funny_files)
        _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
        diffs.extend(prefix + n for n in mismatch + errors)
        for n, sub in sorted(cmp.subdirs.items()):
            walk(sub, prefix + n + "/")

    walk(filecmp.dircmp(a, b), "")
    return sorted(diffs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default tests/golden)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="regenerate into a temporary folder and compare byte for byte with --out",
    )
    args = parser.parse_args()

    def log(msg):
        print(f"[make_goldens] {msg}", flush=True)

    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = os.path.join(tmp, "golden")
            generate(fresh, log)
            diffs = compare_dirs(args.out, fresh)
        if diffs:
            log("MISMATCH: regenerated goldens differ in: " + ", ".join(diffs))
            return 1
        log(f"OK: regenerated goldens are byte-identical to {args.out}")
        return 0
    generate(args.out, log)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OracleError as e:
        print(f"[make_goldens] ERROR: {e}", file=sys.stderr)
        sys.exit(2)
