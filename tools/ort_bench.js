#!/usr/bin/env node
// Time an ONNX model with ONNX Runtime (onnxruntime-node, CPU): the ORT side of bench/compare.py.
//
// Usage: tools/ort_bench.js [--threads=T] [--runs=N] [--warmup=W] [--opt=all|extended|basic|disabled]
//                           MODEL NAME=FILE.npy...
//        tools/ort_bench.js --shapes MODEL NAME=FILE.npy...
//        tools/ort_bench.js --baseline
//
// Session options: graphOptimizationLevel --opt (default all), intraOpNumThreads T (0: ORT's
// default), interOpNumThreads 1, executionMode 'sequential', CPU execution provider; everything
// else is ORT's default (so its intra-op threads spin between ops as they do for any user).
// Prints one JSON line: load_ms (InferenceSession.create: read, optimise, allocate), first_run_ms
// (the first warmup run), median_ms, min_ms, p90_ms (nearest rank), max_ms, mean_ms over the
// timed runs (each one `await session.run(feeds)`, so the node binding's per-call work is
// included), peak_rss_kb (VmHWM of this node process at the end, node itself included),
// rss_ready_kb (VmRSS after require + reading the inputs, before the session), and versions.
// --shapes: run MODEL once (optimisation basic) and print {"shapes": {output: dims}} instead
// (bench/flops.py uses it for tensors whose shapes onnx shape inference cannot find).
// --baseline: require onnxruntime-node, load nothing, print {"peak_rss_kb": VmHWM} (what the
// node process costs before any model).
// Inputs: .npy 1.0/2.0/3.0, little-endian, C order, numeric dtypes and bool.
// Errors: one line on stderr, exit status 1.
'use strict';

const fs = require('fs');

function fail(msg) {
  process.stderr.write(`ort_bench: ${msg}\n`);
  process.exit(1);
}

function statusKb(key) {
  try {
    const m = new RegExp(`^${key}:\\s*(\\d+)\\s*kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : -1;
  } catch (e) {
    return -1;
  }
}

// .npy dtype code (without byte order) -> [ORT type, typed array, element size]
const DTYPES = {
  b1: ['bool', Uint8Array, 1], i1: ['int8', Int8Array, 1], u1: ['uint8', Uint8Array, 1],
  i2: ['int16', Int16Array, 2], u2: ['uint16', Uint16Array, 2], i4: ['int32', Int32Array, 4],
  u4: ['uint32', Uint32Array, 4], i8: ['int64', BigInt64Array, 8], u8: ['uint64', BigUint64Array, 8],
  f2: ['float16', Uint16Array, 2], f4: ['float32', Float32Array, 4], f8: ['float64', Float64Array, 8],
};

function loadNpy(file) {
  let b;
  try {
    b = fs.readFileSync(file);
  } catch (e) {
    fail(`${file}: ${e.message}`);
  }
  if (b.length < 10 || b.toString('latin1', 0, 6) !== '\x93NUMPY') fail(`${file}: not a .npy file`);
  const v = b[6];
  if (v < 1 || v > 3) fail(`${file}: .npy version ${v} is not supported`);
  const hdrLen = v === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = v === 1 ? 10 : 12;
  if (start + hdrLen > b.length) fail(`${file}: truncated header`);
  const hdr = b.toString('latin1', start, start + hdrLen);
  const descr = /'descr'\s*:\s*'([<>|=])([a-z]\d+)'/.exec(hdr);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(hdr);
  if (!descr || !shape) fail(`${file}: cannot read the header ${JSON.stringify(hdr)}`);
  if (/'fortran_order'\s*:\s*True/.test(hdr)) fail(`${file}: Fortran order is not supported`);
  const t = DTYPES[descr[2]];
  if (!t) fail(`${file}: dtype ${descr[1]}${descr[2]} is not supported`);
  if (descr[1] === '>' && t[2] > 1) fail(`${file}: big-endian data is not supported`);
  const dims = shape[1].split(',').map((x) => x.trim()).filter((x) => x !== '').map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) fail(`${file}: bad shape (${shape[1]})`);
  const count = dims.reduce((a, d) => a * d, 1);
  const body = b.subarray(start + hdrLen);
  if (body.length !== count * t[2]) fail(`${file}: ${body.length} data bytes, the shape needs ${count * t[2]}`);
  const ab = new ArrayBuffer(count * t[2]); // aligned copy
  new Uint8Array(ab).set(body);
  return { type: t[0], dims, data: new t[1](ab) };
}

function quantile(sorted, q) { // nearest rank, as edgeml bench
  const k = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[k - 1];
}

async function main(argv) {
  const o = { threads: 0, runs: 10, warmup: 2, opt: 'all', baseline: false, shapes: false };
  const pos = [];
  for (const a of argv) {
    let m;
    if ((m = /^--(threads|runs|warmup)=(\d+)$/.exec(a))) o[m[1]] = Number(m[2]);
    else if ((m = /^--opt=(all|extended|basic|disabled)$/.exec(a))) o.opt = m[1];
    else if (a === '--baseline') o.baseline = true;
    else if (a === '--shapes') o.shapes = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: ort_bench.js [--threads=T] [--runs=N] [--warmup=W] [--opt=LEVEL] MODEL NAME=FILE.npy...\n' +
        '       ort_bench.js --baseline\n');
      return;
    } else if (a.startsWith('--')) fail(`unknown option ${a}`);
    else pos.push(a);
  }
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    fail(`cannot load onnxruntime-node (ONNXRUNTIME_NODE_INSTALL=skip npm ci): ${String(e.message).split('\n')[0]}`);
  }
  if (o.baseline) {
    process.stdout.write(JSON.stringify({ peak_rss_kb: statusKb('VmHWM') }) + '\n');
    return;
  }
  if (pos.length < 1) fail('missing MODEL');
  if (o.runs < 1) fail('--runs must be >= 1');
  const [model, ...specs] = pos;
  const feeds = {};
  for (const s of specs) {
    const eq = s.indexOf('=');
    if (eq <= 0) fail(`bad input ${JSON.stringify(s)} (want NAME=FILE.npy)`);
    const t = loadNpy(s.slice(eq + 1));
    feeds[s.slice(0, eq)] = new ort.Tensor(t.type, t.data, t.dims);
  }
  const rssReady = statusKb('VmRSS');
  const so = {
    executionProviders: ['cpu'], graphOptimizationLevel: o.opt, executionMode: 'sequential',
    interOpNumThreads: 1, logSeverityLevel: 3,
  };
  if (o.threads > 0) so.intraOpNumThreads = o.threads;
  if (o.shapes) {
    so.graphOptimizationLevel = 'basic';
    let res;
    try {
      const sess = await ort.InferenceSession.create(model, so);
      res = await sess.run(feeds);
    } catch (e) {
      fail(`${model}: ${String(e.message).split('\n')[0]}`);
    }
    const shapes = {};
    for (const [k, t] of Object.entries(res)) shapes[k] = t.dims.map(Number);
    process.stdout.write(JSON.stringify({ shapes }) + '\n');
    return;
  }
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  let session;
  let t0 = now();
  try {
    session = await ort.InferenceSession.create(model, so);
  } catch (e) {
    fail(`${model}: ${String(e.message).split('\n')[0]}`);
  }
  const loadMs = now() - t0;
  const lat = [];
  let firstMs = 0;
  for (let k = 0; k < o.warmup + o.runs; k++) {
    t0 = now();
    try {
      await session.run(feeds);
    } catch (e) {
      fail(`${model}: run: ${String(e.message).split('\n')[0]}`);
    }
    const dt = now() - t0;
    if (k === 0) firstMs = dt;
    if (k >= o.warmup) lat.push(dt);
  }
  const mean = lat.reduce((a, x) => a + x, 0) / lat.length;
  lat.sort((a, b) => a - b);
  const n = lat.length;
  const median = n % 2 ? lat[(n - 1) / 2] : 0.5 * (lat[n / 2 - 1] + lat[n / 2]);
  let version = '';
  try {
    version = require('onnxruntime-node/package.json').version;
  } catch (e) { /* older layouts */ }
  const out = {
    model, load_ms: loadMs, first_run_ms: firstMs, median_ms: median, min_ms: lat[0],
    p90_ms: quantile(lat, 0.9), max_ms: lat[n - 1], mean_ms: mean, runs: o.runs, warmup: o.warmup,
    threads: o.threads, opt: o.opt, peak_rss_kb: statusKb('VmHWM'), rss_ready_kb: rssReady,
    ort_version: version || (ort.env && ort.env.versions && ort.env.versions.common) || '',
    node_version: process.version,
  };
  if (typeof session.release === 'function') await session.release();
  process.stdout.write(JSON.stringify(out) + '\n');
}

main(process.argv.slice(2)).catch((e) => fail(String(e && e.message ? e.message : e).split('\n')[0]));
