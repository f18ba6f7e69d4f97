#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// claude-proxy benchmark: latency and memory with the fake CLI (tests/fake-claude), loopback only.
//
// (a) Latency: p50/p99 of non-streaming POST /v1/messages (time to the complete body) and of
//     streaming time-to-first-byte (first SSE body chunk, the message_start event), at
//     concurrency 1 and 100, through the proxy; and the same work done by spawning fake-claude
//     directly with the very argv, environment and stdin the proxy gave it (captured from the
//     fake's log in a calibration run), timed to its `result` line and to its message_start line.
//     The difference is the proxy's overhead: HTTP, translation, spawn bookkeeping.
// (b) Memory: the proxy's VmRSS/VmHWM from /proc idle, while holding 100 and 300 open SSE streams
//     (the fake hangs after message_start so the streams stay open), and after they are released.
//
// Not a test: it asserts nothing beyond "the runs worked". Every loop is bounded and the script
// stops the proxy and every child it started itself. Node built-ins only.
//
// (c) The goals, as ratios to the spawn floor measured in the same run (bench/spawn-floor.c:
//     the fake run straight from C with posix_spawn, three pipes, read to EOF, reap): non-streaming
//     p50 at concurrency 1, first text delta over bursts of 200 concurrent streams, the proxy's CPU
//     per request, its RSS while holding 200 streams, and 1000 concurrent streams without an error.
//
//   node bench/bench.mjs --proxy BUILD/src/claude-proxy --fake BUILD/tests/fake-claude/fake-claude \
//                        --floor BUILD/bench/spawn-floor
//   node bench/bench.mjs --build BUILD [--quick]

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const SOURCE_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const TRANSCRIPTS = path.join(SOURCE_ROOT, 'tests', 'data', 'transcripts');

function parseArgs(argv) {
  const o = { quick: false, seqOnly: false, syscalls: false, pool: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--proxy') o.proxy = argv[++i];
    else if (a === '--fake') o.fake = argv[++i];
    else if (a === '--floor') o.floor = argv[++i];
    else if (a === '--build') o.build = argv[++i];
    else if (a === '--seq-only') o.seqOnly = true;
    else if (a === '--syscalls') o.syscalls = true;
    else if (a === '--pool') o.pool = Number(argv[++i]);
    else if (a === '--n') o.n = Number(argv[++i]);
    else if (a === '--help' || a === '-h') {
      console.log('usage: bench.mjs (--build DIR | --proxy BIN --fake BIN --floor BIN) [--quick] [--seq-only]\n' +
                  '                 [--syscalls] [--pool N] [--n N]');
      process.exit(0);
    } else {
      console.error(`unknown argument ${a}`);
      process.exit(2);
    }
  }
  if (o.build) {
    o.proxy ??= path.join(o.build, 'src', 'claude-proxy');
    o.fake ??= path.join(o.build, 'tests', 'fake-claude', 'fake-claude');
    o.floor ??= path.join(o.build, 'bench', 'spawn-floor');
  }
  for (const k of ['proxy', 'fake', 'floor']) {
    if (!o[k] || !fs.existsSync(o[k])) {
      console.error(`--${k} binary missing (${o[k]}); build first or pass --build DIR`);
      process.exit(2);
    }
    o[k] = path.resolve(o[k]);
  }
  if (!(Number.isInteger(o.pool) && o.pool >= 0) || (o.n !== undefined && !(Number.isInteger(o.n) && o.n > 0))) {
    console.error('--pool and --n take a count');
    process.exit(2);
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const N1 = opts.n ?? (opts.quick ? 50 : 200);   // requests at concurrency 1
const N100 = opts.quick ? 300 : 1000;   // requests at concurrency 100
const HOLD = opts.quick ? [50, 200] : [200, 1000];
const BURST = opts.quick ? 50 : 200;    // concurrent streams per burst
const BURSTS = opts.quick ? 2 : 5;      // bursts per side (after one warm-up burst)
const BIG = opts.quick ? 200 : 1000;    // concurrent complete streams that must all succeed
const PHASE_TIMEOUT_MS = 120000;        // no phase may take longer than this

// ---- the proxy ------------------------------------------------------------------------------

const cleanups = [];
function tmpdir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

async function startProxy(extraEnv) {
  const workDir = tmpdir('cp-bench-work-');
  const env = {
    PATH: process.env.PATH,
    HOST: '127.0.0.1',
    PORT: '0',
    REQUIRE_AUTH: 'false',
    CLAUDE_PATH: opts.fake,
    CHILD_ENV: 'FAKE_CLAUDE_DIR',
    FAKE_CLAUDE_DIR: TRANSCRIPTS,
    MAX_CONCURRENT: '1000',
    MAX_QUEUE: '1000',
    REQUEST_TIMEOUT_MS: '0',
    IDLE_TIMEOUT_MS: '0',
    WORK_DIR: workDir,
    LOG_LEVEL: 'info',          /* the "listening on" line is info */
    /* Off by default: every request then spawns, as the floor does. --pool N measures the pool. */
    WARM_POOL: String(opts.pool),
    ...extraEnv,
  };
  const child = spawn(opts.proxy, [], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let exited = null;
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { stderr += d; if (stderr.length > 1e6) stderr = stderr.slice(-1e5); });
  const exitP = new Promise((r) => child.on('exit', (code, signal) => { exited = { code, signal }; r(exited); }));
  cleanups.push(() => { if (!exited) child.kill('SIGKILL'); });
  const deadline = Date.now() + 10000;
  for (;;) {
    const m = /listening on (\S+):(\d+)/.exec(stderr);
    if (m) {
      const p = {
        pid: child.pid, port: Number(m[2]), stderr: () => stderr,
        async stop() {
          if (!exited) {
            child.kill('SIGTERM');
            const t = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, 15000);
            await exitP;
            clearTimeout(t);
          }
          return exited;
        },
      };
      return p;
    }
    if (exited) throw new Error(`proxy exited before listening: ${JSON.stringify(exited)}\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`proxy did not start:\n${stderr}`);
    await sleep(10);
  }
}

function procStatus(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number((new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s) || [])[1] || 0);
  let fds = 0;
  try { fds = fs.readdirSync(`/proc/${pid}/fd`).length; } catch { /* gone */ }
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM'), fds, children: childrenOf(pid).length };
}

function childrenOf(pid) {
  const out = [];
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      const c = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (c) out.push(...c.split(/\s+/).map(Number));
    }
  } catch { /* gone */ }
  return out;
}

// ---- HTTP -----------------------------------------------------------------------------------

function body(stream, text) {
  return JSON.stringify({
    model: 'sonnet', max_tokens: 256, stream,
    messages: [{ role: 'user', content: text }],
  });
}

// One request; resolves with {ttfb, total, status, bytes} in ms (ttfb: first body chunk).
function request(port, agent, payload, { onFirstChunk } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let ttfb = null;
    let delta = null;
    let bytes = 0;
    let text = '';
    const req = http.request({
      host: '127.0.0.1', port, method: 'POST', path: '/v1/messages', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload),
                 'anthropic-version': '2023-06-01' },
    }, (res) => {
      res.on('data', (d) => {
        if (ttfb === null) {
          ttfb = performance.now() - t0;
          if (onFirstChunk) onFirstChunk(req, res);
        }
        bytes += d.length;
        if (text.length < 4096) text += d;
        if (delta === null && (text.includes('"text_delta"') || d.includes('"text_delta"'))) delta = performance.now() - t0;
      });
      res.on('end', () => resolve({ t0, ttfb, delta, total: performance.now() - t0, status: res.statusCode, bytes, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

// The proxy's CPU time so far, in ms: precise from schedstat (ns), the user/system split from stat.
function procCpu(pid) {
  let ns = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`))
    ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const tick = 1000 / 100;  /* USER_HZ */
  return { ms: ns / 1e6, userMs: Number(f[11]) * tick, sysMs: Number(f[12]) * tick };
}

// ---- the spawn floor (bench/spawn-floor.c) ---------------------------------------------------

function floorSpecDir(spec) {
  const d = tmpdir('cp-bench-floor-');
  fs.writeFileSync(path.join(d, 'argv'), spec.argv.map((a) => a + '\0').join(''));
  fs.writeFileSync(path.join(d, 'env'), Object.entries(spec.env).map(([k, v]) => `${k}=${v}\0`).join(''));
  fs.writeFileSync(path.join(d, 'cwd'), spec.cwd);
  fs.writeFileSync(path.join(d, 'stdin'), spec.stdin.map((l) => JSON.stringify(l) + '\n').join(''));
  return d;
}

// Runs of the floor: [{start, delta, result}] in ms, plus the floor's own CPU per run.
function floor(mode, n, dir) {
  const out = execFileSync(opts.floor, [mode, String(n), dir], { encoding: 'utf8', maxBuffer: 64 << 20,
    timeout: PHASE_TIMEOUT_MS });
  const runs = [];
  let cpu = NaN;
  for (const line of out.trim().split('\n')) {
    const f = line.split(' ');
    if (f[0] === 'cpu') cpu = Number(f[1]);
    else runs.push({ start: Number(f[0]), delta: Number(f[1]), result: Number(f[2]) });
  }
  if (runs.length !== n || runs.some((r) => !(r.result > 0)))
    throw new Error(`spawn-floor ${mode}: ${runs.length}/${n} runs reached their result`);
  return { runs, cpu };
}

// ---- direct spawn ---------------------------------------------------------------------------

// Run fake-claude the way the proxy does: write the stdin lines, read stdout lines, close stdin
// once the `result` line has arrived. Resolves with {ttfb, total} measured to the message_start
// line and to the result line, after the process has exited.
function direct(spec) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let ttfb = null;
    let total = null;
    let buf = '';
    const child = spawn(spec.argv[0], spec.argv.slice(1), { env: spec.env, cwd: spec.cwd, stdio: ['pipe', 'pipe', 'ignore'] });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (ttfb === null && line.includes('"type":"message_start"')) ttfb = performance.now() - t0;
        if (total === null && line.startsWith('{"type":"result"')) {
          total = performance.now() - t0;
          child.stdin.end();
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (total === null) reject(new Error(`fake-claude exited ${code} without a result`));
      else resolve({ ttfb, total });
    });
    child.stdin.on('error', () => { /* EPIPE after exit: harmless here */ });
    child.stdin.write(spec.stdin.map((l) => JSON.stringify(l) + '\n').join(''));
  });
}

// ---- load driver ----------------------------------------------------------------------------

const T0 = performance.now();
function phase(what) {
  console.error(`[${((performance.now() - T0) / 1000).toFixed(1)}s] ${what}`);
}

async function pool(n, concurrency, fn) {
  const results = [];
  let next = 0;
  const deadline = Date.now() + PHASE_TIMEOUT_MS;
  async function worker() {
    while (next < n) {
      if (Date.now() > deadline) throw new Error('phase timed out');
      const i = next++;
      results[i] = await fn(i);
    }
  }
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return { results, wallMs: performance.now() - t0 };
}

function pct(values, p) {
  const v = values.filter((x) => x !== null).sort((a, b) => a - b);
  if (!v.length) return NaN;
  return v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)];
}

const fmt = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const mb = (kb) => (kb / 1024).toFixed(1);

// ---- phases ---------------------------------------------------------------------------------

// Capture argv, environment and stdin the proxy hands the CLI, from the fake's own log.
async function calibrate() {
  const logDir = tmpdir('cp-bench-log-');
  /* WARM_POOL=0: the floor replays a cold spawn's argv, not a pooled process's base argv. */
  const p = await startProxy({ CHILD_ENV: 'FAKE_CLAUDE_DIR FAKE_CLAUDE_LOG_DIR', FAKE_CLAUDE_LOG_DIR: logDir,
                               WARM_POOL: '0' });
  try {
    const agent = new http.Agent({ keepAlive: false });
    const specs = {};
    for (const stream of [false, true]) {
      for (const f of fs.readdirSync(logDir)) fs.rmSync(path.join(logDir, f));
      const r = await request(p.port, agent, body(stream, 'hello'));
      if (r.status !== 200) throw new Error(`calibration request failed: ${r.status} ${r.text}`);
      await sleep(100);         /* the fake rewrites its log as it exits */
      const logs = fs.readdirSync(logDir).filter((f) => /^\d+\.json$/.test(f));
      if (logs.length !== 1) throw new Error(`expected one fake log, found ${logs.length}`);
      const log = JSON.parse(fs.readFileSync(path.join(logDir, logs[0]), 'utf8'));
      const env = { ...log.env };
      delete env.FAKE_CLAUDE_LOG_DIR;
      specs[stream ? 'stream' : 'plain'] = { argv: log.argv, env, cwd: tmpdir('cp-bench-cwd-'), stdin: log.stdin };
    }
    return specs;
  } finally {
    await p.stop();
  }
}

async function latency(p, specs) {
  const rows = [];
  for (const [conc, n] of [[1, N1], [100, N100]]) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
    const plainBody = body(false, 'hello');
    const streamBody = body(true, 'hello');
    const check = (r) => {
      if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 300)}`);
      return r;
    };

    phase(`latency at concurrency ${conc}`);
    const proxyPlain = await pool(n, conc, async () => check(await request(p.port, agent, plainBody)));
    const proxyStream = await pool(n, conc, async () => {
      const r = check(await request(p.port, agent, streamBody));
      if (!r.text.startsWith('event: message_start')) throw new Error(`stream began with ${r.text.slice(0, 80)}`);
      return r;
    });
    const directRuns = await pool(n, conc, () => direct(specs.plain));
    const directStreamRuns = await pool(n, conc, () => direct(specs.stream));
    agent.destroy();

    const row = (what, res, key) => ({
      what, conc, n,
      p50: pct(res.results.map((r) => r[key]), 50),
      p99: pct(res.results.map((r) => r[key]), 99),
      rps: n / (res.wallMs / 1000),
    });
    const a = row('non-stream total, proxy', proxyPlain, 'total');
    const b = row('non-stream total, direct', directRuns, 'total');
    const c = row('stream TTFB, proxy', proxyStream, 'ttfb');
    const e = row('stream total, proxy', proxyStream, 'total');
    const f = row('stream total, direct', directStreamRuns, 'total');
    const d = row('stream TTFB, direct', directStreamRuns, 'ttfb');
    rows.push(a, b, { what: 'non-stream overhead', conc, n, p50: a.p50 - b.p50, p99: a.p99 - b.p99 },
              c, d, { what: 'stream TTFB overhead', conc, n, p50: c.p50 - d.p50, p99: c.p99 - d.p99 },
              e, f);
  }
  return rows;
}

// strace -c attached to every thread of the proxy (not to its children: their system calls are
// the CLI's). Returns stop(), which resolves with {calls, top: [[name, calls]...]}.
async function straceCount(pid) {
  const out = path.join(tmpdir('cp-bench-strace-'), 'count');
  const args = ['-c', '-o', out];
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) args.push('-p', t);
  const st = spawn('strace', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  st.stderr.setEncoding('utf8');
  st.stderr.on('data', (d) => { err += d; });
  const exitP = new Promise((r) => st.on('exit', r));
  cleanups.push(() => st.kill('SIGKILL'));
  const deadline = Date.now() + 10000;
  while (!/attached/.test(err)) {
    if (st.exitCode !== null || Date.now() > deadline) throw new Error(`strace did not attach: ${err}`);
    await sleep(10);
  }
  await sleep(200);
  return async () => {
    st.kill('SIGINT');
    await exitP;
    const calls = {};
    let total = 0;
    for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 5 || !/^\d/.test(f[0])) continue;
      const name = f[f.length - 1];
      const n = Number(f[3]);
      if (name === 'total') total = n;
      else calls[name] = n;
    }
    return { calls: total, top: Object.entries(calls).sort((a, b) => b[1] - a[1]) };
  };
}

// The sequential phase: the proxy's CPU per request (non-stream and stream) over N1 requests on
// one keep-alive connection, and the floor's p50 and CPU with the same argv/env/stdin.
async function sequential(p, specs) {
  const plainDir = floorSpecDir(specs.plain);
  const check = (r) => {
    if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 300)}`);
    return r;
  };
  const out = {};
  const cpuOver = async (stream) => {
    const c0 = procCpu(p.pid);
    const res = await pool(N1, 1, async () => check(await request(p.port, agent1, body(stream, 'hello'))));
    const c1 = procCpu(p.pid);
    return { res, cpu: { ms: (c1.ms - c0.ms) / N1, userMs: (c1.userMs - c0.userMs) / N1, sysMs: (c1.sysMs - c0.sysMs) / N1 } };
  };

  phase(`goals: ${N1} sequential non-streaming requests, proxy and floor`);
  const agent1 = new http.Agent({ keepAlive: true, maxSockets: 1 });
  await request(p.port, agent1, body(false, 'hello'));      /* the connection, warm */
  const plain = await cpuOver(false);
  out.cpuPlain = plain.cpu;
  const floorSeq = floor('seq', N1, plainDir);
  out.plainP50 = pct(plain.res.results.map((r) => r.total), 50);
  out.floorPlainP50 = pct(floorSeq.runs.map((r) => r.result), 50);
  out.floorCpu = floorSeq.cpu;

  phase(`goals: ${N1} sequential streaming requests (proxy CPU)`);
  out.cpuStream = (await cpuOver(true)).cpu;

  if (opts.syscalls) {
    /* A pass of its own: strace slows every call down, the CPU figures above are without it. */
    for (const stream of [false, true]) {
      phase(`system calls: ${N1} sequential ${stream ? 'streaming' : 'non-streaming'} requests under strace -c`);
      const stop = await straceCount(p.pid);
      await pool(N1, 1, async () => check(await request(p.port, agent1, body(stream, 'hello'))));
      const sc = await stop();
      out[stream ? 'sysStream' : 'sysPlain'] = { perRequest: sc.calls / N1,
        top: sc.top.slice(0, 12).map(([k, v]) => `${k} ${(v / N1).toFixed(1)}`).join(', ') };
    }
  }
  agent1.destroy();
  return out;
}

// The goals: ratios to the floor, measured here, now, with the same fake and the same specs.
async function goals(p, specs) {
  const streamDir = floorSpecDir(specs.stream);
  const check = (r) => {
    if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 300)}`);
    return r;
  };
  const out = {};

  Object.assign(out, await sequential(p, specs));

  phase(`goals: ${BURSTS} bursts of ${BURST} concurrent streams, proxy and floor, alternating`);
  const agentB = new http.Agent({ keepAlive: true, maxSockets: BURST });
  const burst = async () => {
    const t0 = performance.now();
    const rs = await Promise.all(Array.from({ length: BURST }, () => request(p.port, agentB, body(true, 'hello'))));
    return rs.map((r) => check(r).t0 - t0 + r.delta);
  };
  await burst();                                            /* warm-up: opens the connections */
  const proxyDeltas = [];
  const floorDeltas = [];
  for (let i = 0; i < BURSTS; i++) {
    proxyDeltas.push(...await burst());
    floorDeltas.push(...floor('burst', BURST, streamDir).runs.map((r) => r.delta));
  }
  agentB.destroy();
  out.burstP50 = pct(proxyDeltas, 50);
  out.burstP99 = pct(proxyDeltas, 99);
  out.floorBurstP50 = pct(floorDeltas, 50);
  out.floorBurstP99 = pct(floorDeltas, 99);

  phase(`goals: ${BIG} concurrent complete streams`);
  const agentBig = new http.Agent({ keepAlive: false });
  const bigStart = performance.now();
  const big = await Promise.allSettled(Array.from({ length: BIG }, () => request(p.port, agentBig, body(true, 'hello'))));
  out.bigMs = performance.now() - bigStart;
  const bad = big.filter((r) => r.status !== 'fulfilled' || r.value.status !== 200 ||
                              !r.value.text.startsWith('event: message_start') || r.value.delta === null);
  out.bigErrors = bad.length;
  const why = {};
  for (const r of bad) {
    const k = r.status !== 'fulfilled' ? String(r.reason?.code || r.reason) : `HTTP ${r.value.status} ${r.value.text.slice(0, 120)}`;
    why[k] = (why[k] || 0) + 1;
  }
  if (bad.length) console.error(`${BIG} concurrent streams: errors ${JSON.stringify(why)}`);
  agentBig.destroy();
  return out;
}

// Open `count` SSE streams whose fake CLI hangs after message_start; resolves once every one has
// delivered its first chunk. Returns the requests so the caller can drop them.
async function holdStreams(p, count, held) {
  const text = '[[fake:text hang_after=3]] hold this stream open';
  const payload = body(true, text);
  const started = [];
  const deadline = Date.now() + PHASE_TIMEOUT_MS;
  for (let i = held.length; i < count; i++) {
    started.push(new Promise((resolve, reject) => {
      const agent = new http.Agent({ keepAlive: false });
      const req = http.request({
        host: '127.0.0.1', port: p.port, method: 'POST', path: '/v1/messages', agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      }, (res) => {
        if (res.statusCode !== 200) { reject(new Error(`hold stream: HTTP ${res.statusCode}`)); return; }
        res.once('data', () => resolve());
        res.on('error', () => { /* we destroy it later */ });
      });
      req.on('error', (e) => { if (!req.destroyed) reject(e); });
      req.end(payload);
      held.push(req);
    }));
  }
  let timer;
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error('streams did not open')), Math.max(0, deadline - Date.now()));
  });
  try {
    await Promise.race([Promise.all(started), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function memory(p) {
  const rows = [];
  const held = [];
  for (const n of HOLD) {
    phase(`opening ${n} streams`);
    await holdStreams(p, n, held);
    await sleep(300);
    rows.push({ what: `holding ${n} SSE streams`, ...procStatus(p.pid) });
  }
  phase('releasing streams');
  for (const r of held) r.destroy();
  /* The proxy notices each disconnect and kills that CLI; wait until every child is gone. */
  const deadline = Date.now() + 30000;
  while (childrenOf(p.pid).length > 0 && Date.now() < deadline) await sleep(50);
  await sleep(300);
  rows.push({ what: 'after release', ...procStatus(p.pid) });
  return rows;
}

function table(headers, rows) {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ');
  console.log(line(headers));
  console.log(w.map((x) => '-'.repeat(x)).join('  '));
  for (const r of rows) console.log(line(r));
}

async function main() {
  console.log(`claude-proxy bench: ${opts.proxy}\nfake CLI: ${opts.fake}\n` +
              `${os.cpus().length} CPUs, node ${process.version}${opts.quick ? ', --quick' : ''}` +
              `${opts.seqOnly ? ', --seq-only' : ''}, WARM_POOL=${opts.pool}, ` +
              `load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
  phase('calibration');
  const specs = await calibrate();
  const p = await startProxy({});
  let ok = false;
  try {
    await sleep(200);
    if (opts.seqOnly) {
      const q = await sequential(p, specs);
      const split = (c) => `${fmt(c.userMs)} / ${fmt(c.sysMs)}`;
      console.log(`Sequential, ${N1} requests each (CPU in ms per request; user / system in 10 ms ticks)`);
      table(['measure', 'proxy', 'floor'], [
        ['non-stream p50 (ms)', fmt(q.plainP50), fmt(q.floorPlainP50)],
        ['CPU per non-stream request', fmt(q.cpuPlain.ms), fmt(q.floorCpu)],
        ['  user / system', split(q.cpuPlain), ''],
        ['CPU per stream request', fmt(q.cpuStream.ms), ''],
        ['  user / system', split(q.cpuStream), ''],
        ...(q.sysPlain ? [['system calls per non-stream request', fmt(q.sysPlain.perRequest), ''],
                          ['system calls per stream request', fmt(q.sysStream.perRequest), '']] : []),
      ]);
      if (q.sysPlain)
        console.log(`\nnon-stream: ${q.sysPlain.top}\nstream: ${q.sysStream.top}`);
      console.log(`\nload average after ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
      ok = true;
      return;
    }
    const idle = { what: 'idle', ...procStatus(p.pid) };
    const lat = await latency(p, specs);
    const afterLat = { what: 'after latency runs', ...procStatus(p.pid) };
    /* Memory first: the RSS held for 200 streams is not to include what the allocator kept
     * from the 1000-stream burst of goals(). */
    const mem = await memory(p);
    const g = await goals(p, specs);
    const rss200 = mem.find((r) => r.what === `holding ${HOLD[0]} SSE streams`);
    const held1000 = mem.find((r) => r.what === `holding ${HOLD[1]} SSE streams`);

    console.log('Latency (ms; "direct" = fake-claude spawned by node with the proxy\'s argv/env/stdin)');
    table(['measure', 'conc', 'n', 'p50', 'p99', 'req/s'],
          lat.map((r) => [r.what, r.conc, r.n, fmt(r.p50), fmt(r.p99), r.rps ? r.rps.toFixed(0) : '']));
    console.log(`\nGoals (ratios to the spawn floor, bench/spawn-floor.c, measured in this run)`);
    const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
    table(['measure', 'proxy', 'floor', 'ratio', 'goal'], [
      ['non-stream p50 at concurrency 1 (ms)', fmt(g.plainP50), fmt(g.floorPlainP50), ratio(g.plainP50, g.floorPlainP50), '<= 1.15x'],
      [`first text delta p50, bursts of ${BURST} (ms)`, fmt(g.burstP50), fmt(g.floorBurstP50), ratio(g.burstP50, g.floorBurstP50), '<= 1.5x'],
      [`first text delta p99, bursts of ${BURST} (ms)`, fmt(g.burstP99), fmt(g.floorBurstP99), ratio(g.burstP99, g.floorBurstP99), ''],
      ['CPU per non-stream request (ms)', fmt(g.cpuPlain.ms), fmt(g.floorCpu), '', '<= 0.3'],
      ['CPU per stream request (ms)', fmt(g.cpuStream.ms), '', '', '<= 0.3'],
      ['  of it user / system (ms, 10 ms ticks)', `${fmt(g.cpuStream.userMs)} / ${fmt(g.cpuStream.sysMs)}`, '', '', ''],
      [`RSS holding ${HOLD[0]} streams (MiB)`, mb(rss200.rssKb), '', '', '<= 8'],
      [`open streams held at once`, `${held1000 ? HOLD[1] : '-'}`, '', '', '1000'],
      [`${BIG} concurrent complete streams: errors`, `${g.bigErrors} (${fmt(g.bigMs)} ms)`, '', '', '0'],
    ]);
    console.log('\nProxy memory (/proc/PID/status)');
    table(['state', 'VmRSS MB', 'VmHWM MB', 'fds', 'children'],
          [idle, afterLat, ...mem].map((r) => [r.what, mb(r.rssKb), mb(r.hwmKb), r.fds, r.children]));
    ok = true;
  } finally {
    phase('stopping the proxy');
    const ex = await p.stop();
    phase(`proxy exited: ${JSON.stringify(ex)}`);
    if (ok && !(ex.code === 0 && ex.signal === null)) {
      console.error(`proxy did not stop cleanly: ${JSON.stringify(ex)}\n${p.stderr().slice(-4000)}`);
      process.exitCode = 1;
    }
  }
}

try {
  await main();
} catch (e) {
  console.error(`bench failed: ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  for (const c of cleanups.reverse()) { try { c(); } catch { /* best effort */ } }
}
