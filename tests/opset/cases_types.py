"""Cases for the types and ops of opsets 19..21 (used by make_cases.py):
float8 (FLOAT8E4M3FN 17, E4M3FNUZ 18, E5M2 19, E5M2FNUZ 20) in Cast/CastLike/QuantizeLinear/
DequantizeLinear, 4-bit integers (UINT4 21, INT4 22) in Cast and blocked QDQ, DeformConv (19),
and hostile models that edgeml must refuse with one error line.

onnx 1.12 knows none of these types (no enum values, no helper support, no ReferenceEvaluator), so
tensors are built by hand (raw_data / int32_data, 4-bit values packed two per byte, low nibble
first) and the spec's rules are written out below (f8_encode, f8_decode, int4 casts) for the few
values where ONNX Runtime departs from the spec; everything else is compared with ONNX Runtime.
onnxruntime-node cannot return float8 or 4-bit tensors, so graphs cast them to float32 / int8.
"""
import math

import numpy as np
from onnx import TensorProto as TP

F8E4M3FN, F8E4M3FNUZ, F8E5M2, F8E5M2FNUZ, UINT4, INT4 = 17, 18, 19, 20, 21, 22
F8 = (F8E4M3FN, F8E4M3FNUZ, F8E5M2, F8E5M2FNUZ)
F8_NAME = {17: "e4m3fn", 18: "e4m3fnuz", 19: "e5m2", 20: "e5m2fnuz"}
# exponent bits, mantissa bits, bias, uz (NaN = 0x80, no -0), has inf
F8_FMT = {17: (4, 3, 7, False, False), 18: (4, 3, 8, True, False),
          19: (5, 2, 15, False, True), 20: (5, 2, 16, True, False)}


# ---- the spec's float8 rules ------------------------------------------------------------------
def f8_decode(code, dt):
    e, m, bias, uz, inf = F8_FMT[dt]
    sign = -1.0 if code & 0x80 else 1.0
    mag = code & 0x7F
    ef, mant = mag >> m, mag & ((1 << m) - 1)
    if uz and code == 0x80:
        return math.nan
    if inf and ef == (1 << e) - 1:
        return sign * math.inf if mant == 0 else math.nan
    if not uz and not inf and mag == 0x7F:
        return math.nan
    if ef == 0:
        return sign * mant * 2.0 ** (1 - bias - m)
    return sign * (1 + mant / 2.0 ** m) * 2.0 ** (ef - bias)


def _f8_grid(dt):
    """(codes, values) of the non-negative finite magnitudes, plus one code past the largest
    (the value an unbounded exponent would give: rounding to it means overflow)."""
    e, m, bias, uz, inf = F8_FMT[dt]
    codes = [c for c in range(0x80) if not math.isnan(f8_decode(c, dt))
             and not math.isinf(f8_decode(c, dt))]
    top = codes[-1]
    ef = top >> m
    ulp = 2.0 ** (max(ef, 1) - bias - m)
    return codes + [top + 1], [f8_decode(c, dt) for c in codes] + [f8_decode(top, dt) + ulp]


def f8_encode(x, dt, saturate):
    """float32 x -> float8 code: round to nearest, ties to even; saturate: out of range and
    +-inf give +-max, else NaN (+-inf for E5M2); the FNUZ types have no -0."""
    e, m, bias, uz, inf = F8_FMT[dt]
    x = float(np.float32(x))
    nan = 0x80 if uz else 0x7F
    codes, vals = _f8_grid(dt)
    top = codes[-2]
    sign = 0x80 if math.copysign(1.0, x) < 0 else 0
    if math.isnan(x):
        return nan
    if math.isinf(x):
        return sign | top if saturate else (sign | 0x7C if inf else nan)
    a = abs(x)
    if a >= vals[-1]:  # at or past the value one step beyond the largest finite one
        return sign | top if saturate else (sign | 0x7C if inf else nan)
    best = None
    for c, v in zip(codes, vals):
        d = abs(a - v)
        if best is None or d < best[0] or (d == best[0] and c % 2 == 0):
            best = (d, c)
    c = best[1]
    if c == codes[-1]:  # rounded past the largest finite value
        return sign | top if saturate else (sign | 0x7C if inf else nan)
    if c == 0:
        return 0 if uz else sign
    return sign | c


def f8_roundtrip(xs, dt, saturate):
    return np.array([f8_decode(f8_encode(x, dt, saturate), dt) for x in xs], np.float32)


def int4_from_float(xs, dt):
    """ONNX's reference: round to nearest even, clamp to the range (NaN -> 0)."""
    lo, hi = (-8, 7) if dt == INT4 else (0, 15)
    out = []
    for x in np.asarray(xs, np.float32):
        out.append(0 if np.isnan(x) else int(np.rint(np.clip(x, lo, hi))))
    return np.array(out, np.int8 if dt == INT4 else np.uint8)


# ---- hand-built tensors ---------------------------------------------------------------------
def f8_tensor(dt, codes, dims, raw=True):
    t = TP()
    t.data_type = dt
    t.dims.extend(dims)
    if raw:
        t.raw_data = bytes(int(c) & 0xFF for c in codes)
    else:
        t.int32_data.extend(int(c) & 0xFF for c in codes)
    return t


def pack4(vals):
    b = bytearray((len(vals) + 1) // 2)
    for i, v in enumerate(vals):
        b[i // 2] |= (int(v) & 15) << (4 * (i % 2))
    return bytes(b)


def int4_tensor(dt, vals, dims, raw=True):
    t = TP()
    t.data_type = dt
    t.dims.extend(dims)
    if raw:
        t.raw_data = pack4(vals)
    else:
        t.int32_data.extend(pack4(vals))
    return t


def raw_tensor(dt, dims, data):
    t = TP()
    t.data_type = dt
    t.dims.extend(dims)
    t.raw_data = data
    return t


# ONNX Runtime departs from the spec in two windows, both with saturate=0: E4M3FN gives 448
# instead of NaN for 480 <= |x| < 496, and E5M2 gives NaN instead of inf for
# 61440 <= |x| < 65536 (its rounding carry into the exponent field). The ORT cases leave them
# out; the -spec cases check them against f8_encode.
def in_ort_quirk(x):
    a = abs(float(x))
    return 480 <= a < 496 or 61440 <= a < 65536


def add(case, N, rng_for):
    f32 = np.float32
    # ---- Cast to float8 ---------------------------------------------------------------------
    r = rng_for("float8-cast")
    special = [0.0, -0.0, 1.0, -1.0, 0.3, -2.75, 3.3, 17.0, 19.0, 448, -448, 449, 464, -464, 465,
               479, 496, 500, 512, 1e4, 57344, -57344, 57345, 61439, 65536, 70000, 1e30, -1e30,
               np.inf, -np.inf, np.nan, -np.nan, 240, -240, 247, 248, 255, 256, 2 ** -6, 2 ** -7,
               2 ** -9, -2 ** -9, 2 ** -10, 3 * 2 ** -11, 2 ** -11, 5 * 2 ** -12, 2 ** -14,
               2 ** -15, 2 ** -16, 2 ** -17, 3 * 2 ** -18, 2 ** -18, -2 ** -18, 1e-30, 1e-40]
    rand = (r.uniform(-1, 1, 200) * np.exp2(r.integers(-20, 18, 200))).astype(f32)
    xs = np.array([v for v in list(np.array(special, f32)) + list(rand) if not in_ort_quirk(v)], f32)
    quirk = np.array([480, 480.25, 488, -490, 495.9, 61440, 61472, -63000, 65535.5], f32)
    for opset in (19, 21):
        nodes, outs = [], []
        for dt in F8:
            for sat in (0, 1):
                o = "%s_sat%d" % (F8_NAME[dt], sat)
                nodes += [N("Cast", ["x"], [o + "_8"], to=dt, saturate=sat),
                          N("Cast", [o + "_8"], [o], to=TP.FLOAT)]
                outs.append((o, TP.FLOAT))
        case("Cast-%d-float8" % opset, opset, nodes, {"x": xs}, outs)
    nodes, outs, exp = [], [], {}
    for dt in F8:
        for sat in (0, 1):
            o = "%s_sat%d" % (F8_NAME[dt], sat)
            nodes += [N("Cast", ["x"], [o + "_8"], to=dt, saturate=sat),
                      N("Cast", [o + "_8"], [o], to=TP.FLOAT)]
            outs.append((o, TP.FLOAT))
            exp[o] = f8_roundtrip(np.concatenate([xs, quirk]), dt, sat)
    case("Cast-19-float8-spec", 19, nodes, {"x": np.concatenate([xs, quirk])}, outs, expected=exp)

    # ---- Cast from float8 (every code, raw_data and int32_data) -------------------------------
    nodes, outs, inits = [], [], {}
    for dt in F8:
        n = F8_NAME[dt]
        inits["all_" + n] = f8_tensor(dt, range(256), [16, 16], raw=True)
        # ONNX Runtime casts float8 -0 (0x80) to bool True; the spec says False (as edgeml)
        inits["nz_" + n] = f8_tensor(dt, [c for c in range(256) if c != 0x80], [255])
        finite = [c for c in range(256) if math.isfinite(f8_decode(c, dt))]
        small = [c for c in finite if 0 <= f8_decode(c, dt) < 128]
        inits["fin_" + n] = f8_tensor(dt, finite, [len(finite)], raw=False)
        inits["small_" + n] = f8_tensor(dt, small, [len(small)], raw=True)
        nodes += [N("Cast", ["all_" + n], [n + "_f32"], to=TP.FLOAT),
                  N("Cast", ["all_" + n], [n + "_f16"], to=TP.FLOAT16),
                  N("Cast", ["all_" + n], [n + "_f64"], to=TP.DOUBLE),
                  N("Cast", ["nz_" + n], [n + "_bool"], to=TP.BOOL),
                  N("Cast", ["fin_" + n], [n + "_int32"], to=TP.INT32),
                  N("Cast", ["fin_" + n], [n + "_int64"], to=TP.INT64),
                  N("Cast", ["small_" + n], [n + "_uint8"], to=TP.UINT8),
                  N("Cast", ["small_" + n], [n + "_int8"], to=TP.INT8)]
        outs += [(n + "_f32", TP.FLOAT), (n + "_f16", TP.FLOAT16), (n + "_f64", TP.DOUBLE),
                 (n + "_bool", TP.BOOL), (n + "_int32", TP.INT32), (n + "_int64", TP.INT64),
                 (n + "_uint8", TP.UINT8), (n + "_int8", TP.INT8)]
        for dt2 in F8:
            if dt2 == dt:
                continue
            for sat in (0, 1):
                o = "%s_to_%s_sat%d" % (n, F8_NAME[dt2], sat)
                nodes += [N("Cast", ["all_" + n], [o + "_8"], to=dt2, saturate=sat),
                          N("Cast", [o + "_8"], [o], to=TP.FLOAT)]
                outs.append((o, TP.FLOAT))
    case("Cast-19-from-float8", 19, nodes, {}, outs, inits)

    # ---- other source types -> float8 --------------------------------------------------------
    r = rng_for("float8-src")
    srcs = {"h": (r.uniform(-600, 600, 40).astype(np.float16)),
            "d": np.concatenate([r.uniform(-300, 300, 30), [1e300, -1e-300, 0.1, 2 ** -12]]),
            "i32": np.array([-70000, -300, -17, -1, 0, 1, 2, 3, 13, 100, 300, 448, 449, 70000],
                            np.int32),
            "i64": np.array([-(1 << 40), -5, 0, 7, 1000, 1 << 20], np.int64),
            "u8": np.arange(0, 256, 5).astype(np.uint8),
            "b": np.array([True, False, True])}
    srcs = {k: np.array([v for v in a if not in_ort_quirk(v)], a.dtype) for k, a in srcs.items()}
    nodes, outs = [], []
    for k in srcs:
        for dt in F8:
            for sat in (0, 1):
                o = "%s_%s_sat%d" % (k, F8_NAME[dt], sat)
                nodes += [N("Cast", [k], [o + "_8"], to=dt, saturate=sat),
                          N("Cast", [o + "_8"], [o], to=TP.FLOAT)]
                outs.append((o, TP.FLOAT))
    case("Cast-19-to-float8-types", 19, nodes, srcs, outs)
    case("CastLike-19-float8", 19,
         [N("CastLike", ["x", "like_fn"], ["fn_8"]), N("Cast", ["fn_8"], ["fn"], to=TP.FLOAT),
          N("CastLike", ["x", "like_e5"], ["e5_8"], saturate=0),
          N("Cast", ["e5_8"], ["e5_nosat"], to=TP.FLOAT),
          N("CastLike", ["fn_8", "like_f"], ["back"])],
         {"x": xs}, [("fn", TP.FLOAT), ("e5_nosat", TP.FLOAT), ("back", TP.FLOAT)],
         {"like_fn": f8_tensor(F8E4M3FN, [0], [1]), "like_e5": f8_tensor(F8E5M2, [0], [1]),
          "like_f": np.zeros((1,), f32)})

    # ---- QuantizeLinear / DequantizeLinear with float8 ---------------------------------------
    r = rng_for("float8-qdq")
    xq = np.concatenate([r.uniform(-300, 300, 22), [0, -0.0]]).astype(f32).reshape(4, 6)
    sa, sb = r.uniform(0.1, 2, 4).astype(f32), r.uniform(0.1, 2, (4, 2)).astype(f32)
    for i in range(4):  # keep x / scale out of ONNX Runtime's non-saturating quirk windows
        for j in range(6):
            if any(in_ort_quirk(xq[i, j] / s) for s in (f32(0.5), sa[i], sb[i, j // 3])):
                xq[i, j] = 1.0
    nodes, outs, inits = [], [], {"s": np.array(0.5, f32), "sa": sa, "sb": sb}
    for dt in F8:
        n = F8_NAME[dt]
        inits["z_" + n] = f8_tensor(dt, [0], [])
        inits["za_" + n] = f8_tensor(dt, [0] * 4, [4], raw=False)
        for tag, ins, attrs in (("tensor", ["x", "s", "z_" + n], {}),
                                ("tensor_nosat", ["x", "s", "z_" + n], {"saturate": 0}),
                                ("axis0", ["x", "sa", "za_" + n], {"axis": 0})):
            o = "%s_%s" % (n, tag)
            nodes += [N("QuantizeLinear", ins, [o + "_q"], **attrs),
                      N("Cast", [o + "_q"], [o], to=TP.FLOAT),
                      N("DequantizeLinear", [o + "_q"] + ins[1:], [o + "_dq"],
                        **({"axis": attrs["axis"]} if "axis" in attrs else {}))]
            outs += [(o, TP.FLOAT), (o + "_dq", TP.FLOAT)]
    case("QuantizeLinear-19-float8", 19, nodes, {"x": xq}, outs, inits)
    nodes, outs = [], []
    for dt in F8:
        n = F8_NAME[dt]
        o = n + "_blocked"
        nodes += [N("QuantizeLinear", ["x", "sb"], [o + "_q"], axis=1, block_size=3, output_dtype=dt),
                  N("Cast", [o + "_q"], [o], to=TP.FLOAT),
                  N("DequantizeLinear", [o + "_q", "sb"], [o + "_dq"], axis=1, block_size=3)]
        outs += [(o, TP.FLOAT), (o + "_dq", TP.FLOAT)]
    case("QuantizeLinear-21-float8-blocked", 21, nodes, {"x": xq}, outs, {"sb": inits["sb"]})
    nodes, outs, inits = [], [], {"s": r.uniform(0.1, 2, 3).astype(f32)}
    for dt in F8:
        n = F8_NAME[dt]
        finite = [c for c in range(256) if math.isfinite(f8_decode(c, dt))][:48]
        inits["q_" + n] = f8_tensor(dt, finite, [3, 16])
        nodes.append(N("DequantizeLinear", ["q_" + n, "s"], [n], axis=0))
        outs.append((n, TP.FLOAT))
    case("DequantizeLinear-19-float8", 19, nodes, {}, outs, inits)

    # ---- 4-bit integers -----------------------------------------------------------------------
    r = rng_for("int4")
    i4 = [-8, -7, -1, 0, 1, 5, 7]                        # odd count: the last byte half used
    u4 = [0, 1, 7, 8, 14, 15, 3, 9, 2]
    case("Cast-21-int4", 21,
         [N("Cast", ["i4_raw"], ["i4_to_i8"], to=TP.INT8),
          N("Cast", ["i4_typed"], ["i4_typed_to_i32"], to=TP.INT32),
          N("Cast", ["i4_raw"], ["i4_to_f32"], to=TP.FLOAT),
          N("Cast", ["u4_raw"], ["u4_to_u8"], to=TP.UINT8),
          N("Cast", ["u4_raw"], ["u4_to_f16"], to=TP.FLOAT16),
          N("Cast", ["u4_typed"], ["u4_to_i64"], to=TP.INT64),
          N("Cast", ["i4_raw"], ["i4_u4"], to=UINT4), N("Cast", ["i4_u4"], ["i4_to_u4"], to=TP.UINT8),
          N("Cast", ["ints"], ["w_i4"], to=INT4), N("Cast", ["w_i4"], ["ints_to_i4"], to=TP.INT8),
          N("Cast", ["ints"], ["w_u4"], to=UINT4), N("Cast", ["w_u4"], ["ints_to_u4"], to=TP.INT32),
          N("Cast", ["fl"], ["f_i4"], to=INT4), N("Cast", ["f_i4"], ["floats_to_i4"], to=TP.INT8),
          N("Cast", ["flu"], ["f_u4"], to=UINT4), N("Cast", ["f_u4"], ["floats_to_u4"], to=TP.UINT8)],
         {"ints": np.array([-20, -9, -8, -1, 0, 7, 8, 15, 16, 300, -300], np.int32),
          "fl": np.array([-8, -7.2, -3.6, -0.4, 0, 0.3, 2.7, 6.9, 7], f32),
          "flu": np.array([0, 0.4, 3.2, 9.8, 14.6, 15], f32)},
         [("i4_to_i8", TP.INT8), ("i4_typed_to_i32", TP.INT32), ("i4_to_f32", TP.FLOAT),
          ("u4_to_u8", TP.UINT8), ("u4_to_f16", TP.FLOAT16), ("u4_to_i64", TP.INT64),
          ("i4_to_u4", TP.UINT8), ("ints_to_i4", TP.INT8), ("ints_to_u4", TP.INT32),
          ("floats_to_i4", TP.INT8), ("floats_to_u4", TP.UINT8)],
         {"i4_raw": int4_tensor(INT4, i4 + i4[:5], [12]),
          "i4_typed": int4_tensor(INT4, i4, [7], raw=False),
          "u4_raw": int4_tensor(UINT4, u4, [9]), "u4_typed": int4_tensor(UINT4, u4[:5], [5], raw=False)})
    # ONNX Runtime rounds float -> int4 half away from zero and wraps out-of-range values; the
    # spec's reference rounds half to even and clamps (edgeml does): ties and out of range here.
    fx = np.array([-20, -9.5, -8.5, -7.5, -0.5, 0.5, 1.5, 2.5, 6.5, 7.5, 8, 15.5, 16, 40,
                   np.nan, np.inf, -np.inf], f32)
    # (ONNX Runtime 1.30 has no Reshape-21/Transpose-21 for int4: checked here too)
    i12 = np.array(i4 + i4[:5], np.int8)
    case("Cast-21-int4-spec", 21,
         [N("Cast", ["x"], ["a"], to=INT4), N("Cast", ["a"], ["to_int4"], to=TP.INT8),
          N("Cast", ["x"], ["b"], to=UINT4), N("Cast", ["b"], ["to_uint4"], to=TP.UINT8),
          N("Reshape", ["i4_raw", "shp"], ["i4_r"]), N("Transpose", ["i4_r"], ["i4_t"], perm=[1, 0]),
          N("Cast", ["i4_t"], ["i4_reshaped"], to=TP.INT8)],
         {"x": fx}, [("to_int4", TP.INT8), ("to_uint4", TP.UINT8), ("i4_reshaped", TP.INT8)],
         {"i4_raw": int4_tensor(INT4, i12, [12]), "shp": np.array([3, 4], np.int64)},
         expected={"to_int4": int4_from_float(fx, INT4), "to_uint4": int4_from_float(fx, UINT4),
                   "i4_reshaped": i12.reshape(3, 4).T.copy()})

    # QuantizeLinear / DequantizeLinear: per tensor, per axis, blocked with odd block sizes
    x57 = r.uniform(-6, 6, (5, 7)).astype(f32)
    sc_b3 = r.uniform(0.3, 1.0, (5, 3)).astype(f32)      # axis 1: 7 = 3 + 3 + 1
    sc_b2 = r.uniform(0.3, 1.0, (3, 7)).astype(f32)      # axis 0: 5 = 2 + 2 + 1
    sc_b9 = r.uniform(0.3, 1.0, (5, 1)).astype(f32)      # block larger than the axis
    zp_i4 = int4_tensor(INT4, r.integers(-3, 4, 15), [5, 3])
    zp_u4 = int4_tensor(UINT4, r.integers(5, 11, 21), [3, 7])
    nodes, outs = [], []
    for tag, ins, attrs, dt in (
            ("i4_tensor", ["x", "s"], {"output_dtype": INT4}, INT4),
            ("u4_tensor", ["x", "s", "zu"], {}, UINT4),
            ("i4_axis", ["x", "sa", "za"], {"axis": 1}, INT4),
            ("i4_b3", ["x", "sb3", "zb3"], {"axis": 1, "block_size": 3}, INT4),
            ("u4_b2", ["x", "sb2", "zb2"], {"axis": 0, "block_size": 2}, UINT4),
            ("u4_b9", ["x", "sb9"], {"axis": 1, "block_size": 9, "output_dtype": UINT4}, UINT4),
            ("i8_b3", ["x", "sb3", "z8"], {"axis": 1, "block_size": 3}, TP.INT8),
            ("u8_b2", ["x", "sb2"], {"axis": 0, "block_size": 2}, TP.UINT8),
            ("i16_b3", ["x", "sb3"], {"axis": 1, "block_size": 3, "output_dtype": TP.INT16}, TP.INT16),
            ("u16_b2", ["x", "sb2", "z16"], {"axis": -2, "block_size": 2}, TP.UINT16)):
        qa = dict(attrs)
        da = {k: v for k, v in attrs.items() if k != "output_dtype"}
        nodes += [N("QuantizeLinear", ins, [tag + "_q"], **qa),
                  N("DequantizeLinear", [tag + "_q"] + ins[1:], [tag + "_dq"], **da)]
        outs.append((tag + "_dq", TP.FLOAT))
        if dt in (INT4, UINT4):
            nodes.append(N("Cast", [tag + "_q"], [tag], to=TP.INT8 if dt == INT4 else TP.UINT8))
            outs.append((tag, TP.INT8 if dt == INT4 else TP.UINT8))
        else:
            outs.append((tag + "_q", dt))
    qinits = {"s": np.array(0.7, f32), "zu": int4_tensor(UINT4, [8], []),
              "sa": r.uniform(0.3, 1.0, 7).astype(f32), "za": int4_tensor(INT4, r.integers(-2, 3, 7), [7]),
              "sb3": sc_b3, "zb3": zp_i4, "sb2": sc_b2, "zb2": zp_u4, "sb9": sc_b9,
              "z8": r.integers(-5, 5, (5, 3)).astype(np.int8),
              "z16": r.integers(30000, 35000, (3, 7)).astype(np.uint16)}
    case("QuantizeLinear-21-int4-blocked", 21, nodes, {"x": x57}, outs, qinits)
    nodes, outs = [], []
    q57 = int4_tensor(INT4, r.integers(-8, 8, 35), [5, 7])
    u57 = int4_tensor(UINT4, r.integers(0, 16, 35), [5, 7], raw=False)
    case("DequantizeLinear-21-int4", 21,
         [N("DequantizeLinear", ["q", "sb3", "zb3"], ["i4_b3"], axis=1, block_size=3),
          N("DequantizeLinear", ["q", "s"], ["i4_tensor"]),
          N("DequantizeLinear", ["u", "sb2", "zb2"], ["u4_b2"], axis=0, block_size=2),
          N("DequantizeLinear", ["u", "sb9"], ["u4_b9"], axis=1, block_size=9),
          N("DequantizeLinear", ["q", "s16"], ["i4_f16_scale"])],
         {}, [("i4_b3", TP.FLOAT), ("i4_tensor", TP.FLOAT), ("u4_b2", TP.FLOAT), ("u4_b9", TP.FLOAT),
              ("i4_f16_scale", TP.FLOAT16)],
         {"q": q57, "u": u57, "sb3": sc_b3, "zb3": zp_i4, "sb2": sc_b2, "zb2": zp_u4,
          "sb9": sc_b9, "s": np.array(0.25, f32), "s16": np.array(0.5, np.float16)})

    # ---- DeformConv ---------------------------------------------------------------------------
    r = rng_for("deformconv")

    def dc_case(name, xs, ws, oshape, attrs, bias=False, mask=False, scale=1.5, dtype=f32):
        ins = {"x": r.uniform(-1, 1, xs).astype(dtype), "w": r.uniform(-1, 1, ws).astype(dtype),
               "offset": (r.uniform(-1, 1, oshape) * scale).astype(dtype)}
        names = ["x", "w", "offset"]
        if bias:
            ins["b"] = r.uniform(-1, 1, ws[0]).astype(dtype)
            names.append("b")
        if mask:
            if not bias:
                names.append("")
            ms = (oshape[0], oshape[1] // 2) + tuple(oshape[2:])
            ins["mask"] = r.uniform(0, 1, ms).astype(dtype)
            names.append("mask")
        t = TP.DOUBLE if dtype == np.float64 else TP.FLOAT
        case(name, 19, [N("DeformConv", names, ["y"], **attrs)], ins, [("y", t)])

    dc_case("DeformConv-19", (1, 1, 5, 5), (1, 1, 3, 3), (1, 18, 3, 3), {})
    dc_case("DeformConv-19-bias-mask-pads", (2, 3, 6, 7), (4, 3, 3, 3), (2, 18, 6, 7),
            {"pads": [1, 1, 1, 1], "kernel_shape": [3, 3]}, bias=True, mask=True)
    dc_case("DeformConv-19-strides-dilations", (1, 2, 9, 8), (3, 2, 2, 3), (1, 12, 4, 3),
            {"strides": [2, 3], "dilations": [2, 1], "pads": [0, 1, 1, 0]}, bias=True)
    dc_case("DeformConv-19-groups", (2, 4, 5, 6), (6, 2, 2, 2), (2, 16, 4, 5),
            {"group": 2, "offset_group": 2}, bias=True, mask=True)
    dc_case("DeformConv-19-offset-group4", (1, 4, 4, 4), (2, 4, 3, 3), (1, 72, 4, 4),
            {"offset_group": 4, "pads": [1, 1, 1, 1]}, mask=True)
    dc_case("DeformConv-19-far-offsets", (1, 2, 4, 5), (2, 2, 2, 2), (1, 8, 3, 4), {}, scale=7.0)
    dc_case("DeformConv-19-double", (1, 2, 5, 5), (2, 2, 3, 3), (1, 18, 5, 5),
            {"pads": [1, 1, 1, 1]}, bias=True, mask=True, dtype=np.float64)

    # ---- hostile models: one clear error line, no crash ---------------------------------------
    case("Hostile-float8-raw-length", 19, [N("Cast", ["t"], ["y"], to=TP.FLOAT)], {},
         [("y", TP.FLOAT)], {"t": raw_tensor(F8E4M3FN, [4], b"\x01\x02\x03")},
         error="raw_data has 3 bytes")
    case("Hostile-int4-raw-length", 21, [N("Cast", ["t"], ["y"], to=TP.INT8)], {},
         [("y", TP.INT8)], {"t": raw_tensor(INT4, [5], b"\x12\x34")},
         error="raw_data has 2 bytes")
    case("Hostile-int4-raw-too-long", 21, [N("Cast", ["t"], ["y"], to=TP.INT8)], {},
         [("y", TP.INT8)], {"t": raw_tensor(UINT4, [5], b"\x12\x34\x56\x78")},
         error="needs 3")
    t = TP()
    t.data_type = INT4
    t.dims.extend([5])
    t.int32_data.extend([1, 2])
    case("Hostile-int4-typed-count", 21, [N("Cast", ["t"], ["y"], to=TP.INT8)], {},
         [("y", TP.INT8)], {"t": t}, error="has 2 values")
    case("Hostile-DeformConv-offset-shape", 19, [N("DeformConv", ["x", "w", "off"], ["y"])],
         {"x": np.zeros((1, 2, 5, 5), f32), "w": np.zeros((1, 2, 3, 3), f32),
          "off": np.zeros((1, 16, 3, 3), f32)}, [("y", TP.FLOAT)], error="offset must be [1,18,3,3]")
    case("Hostile-DeformConv-mask-shape", 19, [N("DeformConv", ["x", "w", "off", "", "m"], ["y"])],
         {"x": np.zeros((1, 2, 5, 5), f32), "w": np.zeros((1, 2, 3, 3), f32),
          "off": np.zeros((1, 18, 3, 3), f32), "m": np.zeros((1, 9, 2, 3), f32)},
         [("y", TP.FLOAT)], error="mask must be [1,9,3,3]")
    case("Hostile-DeformConv-offset-group", 19,
         [N("DeformConv", ["x", "w", "off"], ["y"], offset_group=3)],
         {"x": np.zeros((1, 2, 5, 5), f32), "w": np.zeros((1, 2, 3, 3), f32),
          "off": np.zeros((1, 54, 3, 3), f32)}, [("y", TP.FLOAT)], error="offset_group 3")
    case("Hostile-DeformConv-kernel-too-big", 19,
         [N("DeformConv", ["x", "w", "off"], ["y"], dilations=[1000000, 1])],
         {"x": np.zeros((1, 1, 5, 5), f32), "w": np.zeros((1, 1, 3, 3), f32),
          "off": np.zeros((1, 18, 3, 3), f32)}, [("y", TP.FLOAT)], error="larger than the padded input")
    case("Hostile-DeformConv-3d", 19, [N("DeformConv", ["x", "w", "off"], ["y"])],
         {"x": np.zeros((1, 1, 4, 4, 4), f32), "w": np.zeros((1, 1, 2, 2, 2), f32),
          "off": np.zeros((1, 24, 3, 3, 3), f32)}, [("y", TP.FLOAT)], error="only 2-D")
    case("Hostile-QuantizeLinear-block-shape", 21,
         [N("QuantizeLinear", ["x", "s"], ["q"], axis=1, block_size=2, output_dtype=INT4),
          N("Cast", ["q"], ["y"], to=TP.INT8)],
         {"x": np.zeros((2, 7), f32)}, [("y", TP.INT8)], {"s": np.ones((2, 3), f32)},
         error="does not match x [2,7] with block_size 2")
    case("Hostile-QuantizeLinear-huge-block", 21,
         [N("QuantizeLinear", ["x", "s"], ["q"], axis=1, block_size=(1 << 62) + 1)],
         {"x": np.zeros((2, 7), f32)}, [("q", TP.UINT8)], {"s": np.ones((2, 2), f32)},
         error="does not match")
    case("Hostile-DequantizeLinear-float8-zp-type", 19,
         [N("DequantizeLinear", ["q", "s", "z"], ["y"])], {}, [("y", TP.FLOAT)],
         {"q": f8_tensor(F8E4M3FN, [1, 2], [2]), "s": np.array(1.0, f32),
          "z": f8_tensor(F8E5M2, [0], [])}, error="zero point dtype float8e5m2 differs")
    case("Hostile-Cast-saturate", 19, [N("Cast", ["x"], ["y"], to=F8E4M3FN, saturate=2),
                                       N("Cast", ["y"], ["z"], to=TP.FLOAT)],
         {"x": np.zeros((2,), f32)}, [("z", TP.FLOAT)], error="saturate must be 0 or 1")
