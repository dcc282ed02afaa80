#!/usr/bin/env node
// Loopback S3 for the deploy tests: s3rver (path-style, temp dir) behind a
// proxy that verifies AWS SigV4 itself (s3rver accepts any secret), counts
// the body bytes it serves, and injects faults on request.
//
//   node harness.js DIR        writes DIR/port (the proxy's) once ready
//
// Credentials: access key S3RVER with secret S3RVER (HARNESS_SECRET overrides).
// Bucket "bucket" exists at start (HARNESS_BUCKETS="a,b" overrides).
// Control endpoints (unsigned, on the proxy):
//   GET  /__ctl/stats                  {"bodyBytes":n,"requests":n,"statuses":[...]}
//   POST /__ctl/reset                  zero the counters and faults
//   POST /__ctl/cut?after=N            cut the connection of the next 2xx GET after N body bytes
//   POST /__ctl/fail?status=S&count=C  answer the next C signed requests with S
//   PUT  /__ctl/object/BUCKET/KEY      store the request body as BUCKET/KEY
//   PUT  /__ctl/job/NAME?status=S      a SageMaker training job whose model artifacts
//                                      are the body (an s3:// URI); status default Completed
// SageMaker: POST / with X-Amz-Target: SageMaker.DescribeTrainingJob (SigV4
// service "sagemaker", payload hash of the JSON body) answers from those jobs.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const S3rver = require('s3rver');

const dir = process.argv[2];
if (!dir) {
  console.error('usage: harness.js DIR');
  process.exit(2);
}
const SECRETS = { S3RVER: process.env.HARNESS_SECRET || 'S3RVER' };
const buckets = (process.env.HARNESS_BUCKETS || 'bucket').split(',').filter(Boolean);

const stats = { bodyBytes: 0, requests: 0, statuses: [] };
let cutAfter = -1;
let fail = { status: 0, count: 0 };
const jobs = new Map();

function sagemaker(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const send = (status, obj) => {
      const b = JSON.stringify(obj);
      res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1', 'Content-Length': Buffer.byteLength(b) });
      res.end(b);
    };
    const bad = verify(req, sha256(body), 'sagemaker');
    if (bad) return send(bad[0], { __type: bad[1], message: bad[2] });
    if (req.headers['x-amz-target'] !== 'SageMaker.DescribeTrainingJob')
      return send(400, { __type: 'UnknownOperationException', message: 'unknown operation' });
    let name;
    try {
      name = JSON.parse(body.toString()).TrainingJobName;
    } catch (e) {
      return send(400, { __type: 'SerializationException', message: 'bad JSON' });
    }
    const job = jobs.get(name);
    if (!job) return send(400, { __type: 'com.amazon.coral.validate#ValidationException', message: 'Requested resource not found.' });
    send(200, { TrainingJobName: name, TrainingJobStatus: job.status, ModelArtifacts: { S3ModelArtifacts: job.uri } });
  });
}

function enc(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}
function dec(s) {
  return decodeURIComponent(s);
}
function sha256(b) {
  return crypto.createHash('sha256').update(b).digest('hex');
}
function hmac(k, s) {
  return crypto.createHmac('sha256', k).update(s).digest();
}
function xmlError(res, status, code, message) {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
  stats.bodyBytes += Buffer.byteLength(body);
  stats.statuses.push(status);
}

// Returns null when the request's SigV4 signature is right, else [status, code, message].
function verify(req, bodyHash, wantService) {
  const auth = req.headers['authorization'];
  if (!auth) return [403, 'AccessDenied', 'Anonymous access is not allowed'];
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return [400, 'AuthorizationHeaderMalformed', 'Malformed Authorization header'];
  const [, ak, date8, region, service, signedHeaders, signature] = m;
  const secret = SECRETS[ak];
  if (secret === undefined) return [403, 'InvalidAccessKeyId', 'Unknown access key'];
  const amzDate = req.headers['x-amz-date'] || '';
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date8)
    return [403, 'AccessDenied', 'Bad x-amz-date'];
  if (service !== wantService) return [403, 'AccessDenied', `credential scope is for ${service}`];
  const payload = bodyHash || req.headers['x-amz-content-sha256'];
  if (!payload) return [400, 'InvalidRequest', 'Missing x-amz-content-sha256'];
  const names = signedHeaders.split(';');
  if (!names.includes('host')) return [403, 'AccessDenied', 'host is not signed'];
  for (const h of Object.keys(req.headers))
    if (h.startsWith('x-amz-') && !names.includes(h)) return [403, 'AccessDenied', `${h} is not signed`];
  const q = req.url.indexOf('?');
  const rawPath = q < 0 ? req.url : req.url.slice(0, q);
  const rawQuery = q < 0 ? '' : req.url.slice(q + 1);
  let canonPath, canonQuery;
  try {
    canonPath = rawPath.split('/').map((s) => enc(dec(s))).join('/');
    canonQuery = rawQuery
      .split('&')
      .filter(Boolean)
      .map((kv) => {
        const i = kv.indexOf('=');
        const k = i < 0 ? kv : kv.slice(0, i);
        const v = i < 0 ? '' : kv.slice(i + 1);
        return [enc(dec(k)), enc(dec(v))];
      })
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
  } catch (e) {
    return [400, 'InvalidURI', 'Bad percent-encoding'];
  }
  const canonHeaders = names
    .map((n) => `${n}:${String(req.headers[n] === undefined ? '' : req.headers[n]).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const creq = [req.method, canonPath, canonQuery, canonHeaders, signedHeaders, payload].join('\n');
  const scope = `${date8}/${region}/${service}/aws4_request`;
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(creq)].join('\n');
  let k = hmac('AWS4' + secret, date8);
  k = hmac(k, region);
  k = hmac(k, service);
  k = hmac(k, 'aws4_request');
  const want = hmac(k, sts).toString('hex');
  if (!crypto.timingSafeEqual(Buffer.from(want), Buffer.from(signature)))
    return [403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.'];
  return null;
}

async function main() {
  fs.mkdirSync(dir, { recursive: true });
  const s3 = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: path.join(dir, 'data'),
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  const up = await s3.run();
  const upPort = up.port;

  const forward = (req, res, method, upPath, count) => {
    const headers = { ...req.headers };
    if (!count) delete headers['authorization'];
    const ureq = http.request({ host: '127.0.0.1', port: upPort, method, path: upPath, headers }, (ures) => {
      res.writeHead(ures.statusCode, ures.headers);
      if (count) stats.statuses.push(ures.statusCode);
      const cut = count && method === 'GET' && ures.statusCode < 300 && cutAfter >= 0 ? cutAfter : -1;
      if (cut >= 0) cutAfter = -1;
      let sent = 0;
      ures.on('data', (chunk) => {
        if (cut >= 0 && sent + chunk.length > cut) {
          const part = chunk.subarray(0, cut - sent);
          if (part.length) res.write(part);
          sent += part.length;
          if (count) stats.bodyBytes += part.length;
          ures.destroy();
          res.socket && res.socket.destroy();
          return;
        }
        sent += chunk.length;
        if (count) stats.bodyBytes += chunk.length;
        res.write(chunk);
      });
      ures.on('end', () => res.end());
    });
    ureq.on('error', (e) => {
      if (!res.headersSent) xmlError(res, 502, 'BadGateway', String(e.message));
      else res.destroy();
    });
    req.pipe(ureq);
  };

  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname.startsWith('/__ctl/')) {
      const what = u.pathname.slice(7);
      if (what === 'stats') {
        const body = JSON.stringify(stats);
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(body);
      }
      if (what === 'reset') {
        stats.bodyBytes = 0;
        stats.requests = 0;
        stats.statuses = [];
        cutAfter = -1;
        fail = { status: 0, count: 0 };
        return res.end('ok\n');
      }
      if (what === 'cut') {
        cutAfter = Number(u.searchParams.get('after') || 0);
        return res.end('ok\n');
      }
      if (what === 'fail') {
        fail = { status: Number(u.searchParams.get('status') || 503), count: Number(u.searchParams.get('count') || 1) };
        return res.end('ok\n');
      }
      if (what.startsWith('job/') && req.method === 'PUT') {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          jobs.set(what.slice(4), { uri: Buffer.concat(chunks).toString(), status: u.searchParams.get('status') || 'Completed' });
          res.end('ok\n');
        });
        return;
      }
      if (what.startsWith('object/') && req.method === 'PUT') {
        return forward(req, res, 'PUT', '/' + what.slice(7), false);
      }
      res.writeHead(404);
      return res.end('unknown control\n');
    }
    if (req.headers['x-amz-target']) return sagemaker(req, res);
    stats.requests++;
    const bad = verify(req, null, 's3');
    if (bad) return xmlError(res, bad[0], bad[1], bad[2]);
    if (fail.count > 0) {
      fail.count--;
      const code = fail.status === 503 ? 'SlowDown' : fail.status >= 500 ? 'InternalError' : 'InvalidRequest';
      return xmlError(res, fail.status, code, 'injected by the test harness');
    }
    forward(req, res, req.method, req.url, true);
  });
  server.listen(0, '127.0.0.1', () => {
    const port = server.address().port;
    fs.writeFileSync(path.join(dir, 'port.tmp'), String(port));
    fs.renameSync(path.join(dir, 'port.tmp'), path.join(dir, 'port'));
    console.log(`READY ${port} (s3rver on ${upPort})`);
  });
  const stop = () => {
    server.close();
    s3.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error('harness:', e && e.stack ? e.stack : e);
  process.exit(1);
});
