#!/usr/bin/env node
// Run an ONNX model with ONNX Runtime (onnxruntime-node, CPU) and write every output as .npy.
//
// Usage: tools/ort_run.js [--opt=all|extended|basic|disabled] [--threads=N] MODEL OUTDIR NAME=FILE.npy...
// --opt defaults to basic: semantics-preserving rewrites only, no layout transforms or fusions
// that reorder float arithmetic, so the reference is the model's plain math.
//
// Each graph output is written to OUTDIR/<output name>.npy (OUTDIR is created). NAME is split at
// the first '='. .npy support: versions 1.0/2.0/3.0, little-endian, C order; dtypes bool,
// int8..int64, uint8..uint64, float16 ('<f2', passed to ORT as raw bits), float32, float64 and
// unicode strings ('<U<n>', for string tensors). Errors: one line on stderr, exit status 1.
// float8 and int4/uint4 graph outputs are refused (onnxruntime-node cannot return them): cast
// them to float32 / int8 inside the graph.
// Install the dependency with `ONNXRUNTIME_NODE_INSTALL=skip npm ci` in the repository root.
'use strict';

const fs = require('fs');
const path = require('path');

function die(msg) {
  process.stderr.write(`ort_run: ${msg}\n`);
  process.exit(1);
}

// numpy descr (without byte-order char) <-> ORT tensor type + typed array constructor
const NPY_TYPES = {
  b1: ['bool', Uint8Array, 1],
  i1: ['int8', Int8Array, 1],
  u1: ['uint8', Uint8Array, 1],
  i2: ['int16', Int16Array, 2],
  u2: ['uint16', Uint16Array, 2],
  i4: ['int32', Int32Array, 4],
  u4: ['uint32', Uint32Array, 4],
  i8: ['int64', BigInt64Array, 8],
  u8: ['uint64', BigUint64Array, 8],
  f2: ['float16', Uint16Array, 2],
  f4: ['float32', Float32Array, 4],
  f8: ['float64', Float64Array, 8],
};
const ORT_TO_NPY = {};
for (const [k, v] of Object.entries(NPY_TYPES)) ORT_TO_NPY[v[0]] = k;

function readNpy(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    die(`${file}: ${e.message}`);
  }
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') die(`${file}: not a .npy file`);
  const major = buf[6];
  let hlen, off;
  if (major === 1) {
    hlen = buf.readUInt16LE(8);
    off = 10;
  } else if (major === 2 || major === 3) {
    hlen = buf.readUInt32LE(8);
    off = 12;
  } else die(`${file}: unsupported .npy version ${major}`);
  if (off + hlen > buf.length) die(`${file}: truncated header`);
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', off, off + hlen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeM) die(`${file}: malformed header ${JSON.stringify(header)}`);
  if (fortran[1] === 'True') die(`${file}: fortran_order arrays are not supported`);
  const shape = shapeM[1].split(',').map((s) => s.trim()).filter((s) => s.length).map((s) => {
    if (!/^\d+$/.test(s)) die(`${file}: bad shape entry ${s}`);
    return Number(s);
  });
  const numel = shape.reduce((a, b) => a * b, 1);
  const data = buf.subarray(off + hlen);
  const d = descr[1];
  const order = d[0];
  const kind = d.slice(1);
  if (kind[0] === 'U') {
    if (order === '>') die(`${file}: big-endian data is not supported`);
    const width = Number(kind.slice(1));
    if (data.length !== numel * width * 4) die(`${file}: data size mismatch`);
    const out = new Array(numel);
    for (let i = 0; i < numel; i++) {
      let s = '';
      for (let j = 0; j < width; j++) {
        const cp = data.readUInt32LE((i * width + j) * 4);
        if (cp === 0) break;
        s += String.fromCodePoint(cp);
      }
      out[i] = s;
    }
    return { type: 'string', shape, data: out };
  }
  const t = NPY_TYPES[kind];
  if (!t) die(`${file}: unsupported dtype ${d}`);
  if (order === '>' && t[2] > 1) die(`${file}: big-endian data is not supported`);
  if (data.length !== numel * t[2]) die(`${file}: data size ${data.length} != ${numel * t[2]} expected`);
  // copy into an aligned buffer
  const ab = new ArrayBuffer(numel * t[2]);
  new Uint8Array(ab).set(data);
  return { type: t[0], shape, data: new t[1](ab) };
}

function npyBytes(descr, shape, payload) {
  const shapeStr = shape.length === 0 ? '()' : shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  let major = 1;
  let pre = 10;
  let total = pre + header.length + 1;
  let pad = (64 - (total % 64)) % 64;
  if (header.length + pad + 1 > 65535) {
    major = 2;
    pre = 12;
    total = pre + header.length + 1;
    pad = (64 - (total % 64)) % 64;
  }
  header = header + ' '.repeat(pad) + '\n';
  const head = Buffer.alloc(pre);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = major;
  head[7] = 0;
  if (major === 1) head.writeUInt16LE(header.length, 8);
  else head.writeUInt32LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), payload]);
}

function writeNpy(file, tensor) {
  const shape = tensor.dims.map(Number);
  let descr, payload;
  if (tensor.type === 'string') {
    const strs = Array.from(tensor.data);
    const cps = strs.map((s) => Array.from(s, (c) => c.codePointAt(0)));
    const width = Math.max(1, ...cps.map((c) => c.length));
    payload = Buffer.alloc(strs.length * width * 4);
    cps.forEach((c, i) => c.forEach((cp, j) => payload.writeUInt32LE(cp, (i * width + j) * 4)));
    descr = `<U${width}`;
  } else {
    const k = ORT_TO_NPY[tensor.type];
    if (!k) throw new Error(`output dtype ${tensor.type} has no .npy mapping`);
    descr = (NPY_TYPES[k][2] === 1 ? '|' : '<') + k;
    let arr = tensor.data;
    if (tensor.type === 'bool') arr = Uint8Array.from(arr, (v) => (v ? 1 : 0));
    payload = Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
  }
  const tmp = file + '.tmp';
  fs.writeFileSync(tmp, npyBytes(descr, shape, payload));
  fs.renameSync(tmp, file);
}

async function main(argv) {
  const opts = { opt: 'basic', threads: 0 };
  const pos = [];
  for (const a of argv) {
    let m;
    if ((m = /^--opt=(all|extended|basic|disabled)$/.exec(a))) opts.opt = m[1];
    else if ((m = /^--threads=(\d+)$/.exec(a))) opts.threads = Number(m[1]);
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: ort_run.js [--opt=all|extended|basic|disabled] [--threads=N] MODEL OUTDIR NAME=FILE.npy...\n');
      return;
    } else if (a.startsWith('--')) die(`unknown option ${a}`);
    else pos.push(a);
  }
  if (pos.length < 2) die('usage: ort_run.js MODEL OUTDIR NAME=FILE.npy...');
  const [model, outdir, ...specs] = pos;
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    die(`cannot load onnxruntime-node (run 'ONNXRUNTIME_NODE_INSTALL=skip npm ci' in the repository root): ${e.message}`);
  }
  const feeds = {};
  for (const s of specs) {
    const eq = s.indexOf('=');
    if (eq <= 0) die(`bad input spec ${JSON.stringify(s)} (want NAME=FILE.npy)`);
    const name = s.slice(0, eq);
    if (name in feeds) die(`duplicate input ${name}`);
    const t = readNpy(s.slice(eq + 1));
    feeds[name] = new ort.Tensor(t.type, t.data, t.shape);
  }
  const so = { graphOptimizationLevel: opts.opt, executionProviders: ['cpu'], logSeverityLevel: 3 };
  if (opts.threads > 0) so.intraOpNumThreads = opts.threads;
  let session;
  try {
    session = await ort.InferenceSession.create(model, so);
  } catch (e) {
    die(`${model}: ${String(e.message).split('\n')[0]}`);
  }
  for (const n of session.outputNames) {
    if (n === '' || n === '.' || n === '..' || n.includes('/')) die(`output name ${JSON.stringify(n)} cannot be a file name`);
  }
  // onnxruntime-node has no float8 tensors and aborts the process when it returns an int4/uint4
  // one: refuse those outputs with one line (cast them to float / int8 inside the graph instead).
  for (const md of session.outputMetadata || []) {
    const t = md && md.isTensor ? String(md.type) : '';
    if (/^(u?int4|float8.*)$/.test(t)) die(`output ${md.name} has dtype ${t}, which onnxruntime-node cannot return (cast it inside the graph)`);
  }
  let res;
  try {
    res = await session.run(feeds);
  } catch (e) {
    die(`${model}: run: ${String(e.message).split('\n')[0]}`);
  }
  fs.mkdirSync(outdir, { recursive: true });
  for (const n of session.outputNames) writeNpy(path.join(outdir, `${n}.npy`), res[n]);
}

main(process.argv.slice(2)).catch((e) => die(String(e && e.message ? e.message : e).split('\n')[0]));
