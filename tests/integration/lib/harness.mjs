// SPDX-License-Identifier: MIT
//
// Integration-test harness: starts claude-proxy (directly or through systemd-socket-activate)
// with a private environment, waits for its "listening on HOST:PORT" line, collects stderr,
// and stops it with SIGTERM, failing when the exit is not a clean 0 (under ASan a leak makes
// it non-zero). Also: the fake CLI's per-process logs, process-tree and process-group probes,
// SSE parsing, curl, the official SDK, and the scripted Anthropic mock (tests/mock).
//
// It does not know the proxy's internals: everything is observed from outside (HTTP, /proc,
// the fake's logs).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

export const SOURCE_ROOT = process.env.SOURCE_ROOT ||
  path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..');
export const PROXY_BIN = process.env.CLAUDE_PROXY_BIN;
export const FAKE_CLAUDE = process.env.FAKE_CLAUDE;
export const NODE_DIR = path.join(SOURCE_ROOT, 'tests', 'node');
export const REAL_CLI = path.join(NODE_DIR, 'node_modules', '.bin', 'claude');

// The proxy's environment for running the real CLI (REAL_CLI) against the scripted mock at
// `mockUrl`: the CLI gets the mock's address and a test key, fails fast (no retries), and a
// stuck run is ended; `extra` adds or overrides keys.
export function realCliEnv(mockUrl, extra = {}) {
  return {
    ANTHROPIC_BASE_URL: mockUrl,
    ANTHROPIC_API_KEY: 'sk-test-real-cli',
    CHILD_ENV: 'ANTHROPIC_BASE_URL ANTHROPIC_API_KEY',
    CLI_MAX_RETRIES: '0',
    REQUEST_TIMEOUT_MS: '60000',
    KILL_GRACE_MS: '500',
    ...extra,
  };
}
export const TRANSCRIPTS = path.join(SOURCE_ROOT, 'tests', 'data', 'transcripts');
// What messageBody() asks for, and the proxy's DEFAULT_MODEL (the warm pool's key) in tests.
export const TEST_MODEL = 'claude-sonnet-4-5';
// WARM_POOL for every proxy a test starts (a test's own env still wins).
export const WARM_POOL = process.env.CLAUDE_PROXY_TEST_WARM_POOL ?? '1';

// CLAUDE_PROXY_WRAPPER: a command the proxy runs under, split on blanks, e.g.
// "valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-fds=yes"
// (.ci/run does so for a subset of the files). The wrapper must keep the proxy's pid and exit
// status; a leak or error then makes the stop's exit-0 check fail.
export const WRAPPER = (process.env.CLAUDE_PROXY_WRAPPER ?? '').split(/\s+/).filter(Boolean);
// Slower under a wrapper (valgrind: ~20x).
const SLOW = WRAPPER.length ? 5 : 1;
const START_TIMEOUT_MS = 10000 * SLOW;
const STOP_TIMEOUT_MS = 15000 * SLOW;

// Variables from the test runner's environment the proxy may keep: sanitizer settings and the
// minimum a process needs. Everything else is given explicitly per test.
const PASSTHROUGH = ['PATH', 'LANG', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'MSAN_OPTIONS'];

export function which(tool) {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

// Under CI every dependency is installed by .ci/run (tests/bootstrap.sh), so a suite that
// cannot run there is a broken CI machine, not a reason to go green.
export const UNDER_CI = /^(1|true|yes)$/i.test(process.env.CI ?? '');
export const SKIP_EXIT = 77;

// Why a test cannot run here, or false. Pass the answer to requireOrSkip(), which ends the
// whole file with SKIP (exit 77, so meson reports SKIP) instead of node:test's {skip}, which
// exits 0 and reads as a pass.
export function missing({ proxy = true, fake = true, tools = [], sdk = false, realCli = false } = {}) {
  if (proxy && !(PROXY_BIN && fs.existsSync(PROXY_BIN))) return 'CLAUDE_PROXY_BIN not set or not built';
  if (fake && !(FAKE_CLAUDE && fs.existsSync(FAKE_CLAUDE))) return 'FAKE_CLAUDE not set or not built';
  for (const t of tools) if (!which(t)) return `${t} is not installed`;
  if (sdk && !fs.existsSync(path.join(NODE_DIR, 'node_modules', '@anthropic-ai', 'sdk')))
    return '@anthropic-ai/sdk missing: run npm ci --prefix tests/node';
  if (realCli && !fs.existsSync(REAL_CLI)) return 'real CLI missing: run npm ci --prefix tests/node';
  return false;
}

// End this file now when `reason` is set: "SKIP: reason" and exit 77, or, under CI, a failure
// (exit 1). Call it at the top level, before any describe()/test(), with missing()'s answer.
// The meson tests run each file with `node FILE` (not `node --test`, whose runner would turn
// any exit status of the file into a plain failure).
export function requireOrSkip(reason) {
  if (!reason) return;
  if (UNDER_CI) {
    console.log(`Bail out! cannot run under CI=true, where every dependency is installed: ${reason}`);
    process.exit(1);
  }
  console.log(`SKIP: ${reason}`);
  process.exit(SKIP_EXIT);
}

export function tmpdir(prefix = 'cp-it-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// A port nobody listens on right now (for systemd-socket-activate, which needs one up front).
export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export class Proxy {
  constructor(child, { logDir, workDir, env }) {
    this.child = child;
    this.pid = child.pid;
    this.logDir = logDir;
    this.workDir = workDir;
    this.env = env;
    this.stderrText = '';
    this.stdoutText = '';
    this.exited = null;
    this.exitPromise = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exited = { code, signal };
        resolve(this.exited);
      });
    });
    child.stderr.setEncoding('utf8');
    child.stdout.setEncoding('utf8');
    child.stderr.on('data', (d) => { this.stderrText += d; });
    child.stdout.on('data', (d) => { this.stdoutText += d; });
  }

  get url() { return `http://${this.host}:${this.port}`; }

  async waitListening() {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const m = /listening on (\S+):(\d+)/.exec(this.stderrText);
      if (m) {
        this.host = m[1].replace(/^\[|\]$/g, '');
        this.port = Number(m[2]);
        return;
      }
      if (this.exited)
        throw new Error(`proxy exited before listening (${JSON.stringify(this.exited)}):\n${this.stderrText}`);
      if (Date.now() > deadline)
        throw new Error(`proxy did not print "listening on" within ${START_TIMEOUT_MS} ms:\n${this.stderrText}`);
      await sleep(10);
    }
  }

  // systemd-socket-activate execs the program only at the first connection attempt, like a
  // socket unit, so knock with GET /health until the proxy itself answers on the socket.
  // `activationPort` is the port we gave systemd-socket-activate; `listening` is every address
  // the proxy itself says it listens on, for tests to compare.
  async waitActivated(port) {
    this.host = '127.0.0.1';
    this.port = this.activationPort = port;
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(2000) });
        await res.text();
        this.listening = [...this.stderrText.matchAll(/listening on (\S+)/g)].map((m) => m[1]);
        return;
      } catch { /* not yet */ }
      if (this.exited)
        throw new Error(`proxy exited before serving (${JSON.stringify(this.exited)}):\n${this.stderrText}`);
      if (Date.now() > deadline)
        throw new Error(`socket-activated proxy did not answer within ${START_TIMEOUT_MS} ms:\n${this.stderrText}`);
      await sleep(20);
    }
  }

  // SIGTERM and wait. A clean stop is exit code 0; anything else (a signal, an ASan report,
  // a hang) fails the caller unless `check` is false.
  async stop({ check = true, signal = 'SIGTERM' } = {}) {
    if (!this.exited) {
      this.child.kill(signal);
      const t = setTimeout(() => { if (!this.exited) this.child.kill('SIGKILL'); }, STOP_TIMEOUT_MS);
      await this.exitPromise;
      clearTimeout(t);
    }
    for (const d of [this.logDir, this.workDir])
      if (d) fs.rmSync(d, { recursive: true, force: true });
    if (check) {
      assert.deepEqual(this.exited, { code: 0, signal: null },
        `proxy did not stop cleanly on ${signal}; stderr:\n${this.stderrText.slice(-8000)}`);
      this.checkFdsAtExit();
    }
    return this.exited;
  }

  // Its /health object.
  async health() {
    return (await getJson(`${this.url}/health`)).json;
  }

  // Poll /health until `pred(health)` holds (see waitFor()).
  waitHealth(pred, timeoutMs, what) {
    return waitFor(async () => pred(await this.health()), timeoutMs, what);
  }

  // The proxy's exit ({ code, signal }) once it has left on its own; a failure saying `what`
  // if it is still running after `timeoutMs`.
  async waitExit(timeoutMs, what) {
    return Promise.race([this.exitPromise,
      sleep(timeoutMs, null, { ref: false }).then(() => assert.fail(what))]);
  }

  // Under valgrind --track-fds=yes (CLAUDE_PROXY_WRAPPER), whatever the proxy still held when it
  // exited is listed; a leaked fd is no valgrind error (its exit status says nothing), so count
  // here: nothing but the three standard streams, and the socket systemd-socket-activate passed.
  checkFdsAtExit() {
    if (!WRAPPER.includes('--track-fds=yes')) return;
    const m = /FILE DESCRIPTORS: (\d+) open \((\d+) std\) at exit/.exec(this.stderrText);
    assert.ok(m, `valgrind printed no fd summary; stderr:\n${this.stderrText.slice(-4000)}`);
    const extra = Number(m[1]) - Number(m[2]), inherited = this.activationPort ? 1 : 0;
    assert.ok(extra <= inherited,
      `the proxy exited holding ${extra} fd(s) beyond stdio${inherited ? ' and its listening socket' : ''}:\n` +
      this.stderrText.slice(this.stderrText.indexOf('FILE DESCRIPTORS')).slice(0, 4000));
  }

  // Direct children of the proxy (pids), from every thread's children file.
  children() {
    return childrenOf(this.pid);
  }

  // True when no CLI child is left but idle pooled ones (WARM_POOL), as /health counts them:
  // what "no child left" means with a warm pool. Poll it with waitFor().
  async onlyPoolLeft() {
    const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(5000) });
    const { pool } = await res.json();
    return pool.size <= pool.target && this.children().length === pool.size;
  }

  // Wait until start-up work is over: the first `claude auth status` has reported (its child
  // is gone) and the warm pool holds no more than its idle processes. A test that counts
  // children right after start would otherwise count that check's child.
  async waitSettled(timeoutMs = 30000) {
    await waitFor(async () => {
      const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(5000) });
      const { cli } = await res.json();
      return (!cli.available || cli.auth.state !== 'unknown') && await this.onlyPoolLeft();
    }, timeoutMs, 'the start-up auth check to end and only the idle pool to be left');
  }

  // Every fake-claude log written so far, oldest first.
  fakeLogs() {
    if (!this.logDir) return [];
    const out = [];
    for (const f of fs.readdirSync(this.logDir)) {
      if (!/^\d+\.json$/.test(f)) continue;
      try {
        out.push(JSON.parse(fs.readFileSync(path.join(this.logDir, f), 'utf8')));
      } catch { /* being renamed into place */ }
    }
    return out.sort((a, b) => a.pid - b.pid);
  }

  // The logs of fake CLIs that were given a request: a pooled process idle in the warm pool
  // has a log too (state "started", no user line) but serves nobody yet.
  servedLogs() {
    return this.fakeLogs().filter((l) => l.stdin.some((x) => x && x.type === 'user'));
  }

  // Poll for a fake log matching `pred` (default: any log with a "replaying" or later state).
  async waitFakeLog(pred = (l) => l.state !== 'started', timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.fakeLogs().find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error('no matching fake-claude log appeared');
      await sleep(10);
    }
  }

  // The log of the run whose stdin contains `marker` (a run of an earlier test may still
  // rewrite its log after clearFakeLogs(), so "the only log" is not reliable).
  async waitFakeLogFor(marker, pred = (l) => l.state !== 'started', timeoutMs = 5000) {
    return this.waitFakeLog((l) => pred(l) && JSON.stringify(l.stdin).includes(marker), timeoutMs);
  }

  clearFakeLogs() {
    if (!this.logDir) return;
    for (const f of fs.readdirSync(this.logDir)) fs.rmSync(path.join(this.logDir, f), { force: true });
  }
}

// Build the proxy's environment: defaults for tests, then `env` (a null value removes a key).
export function proxyEnv(env = {}, { logDir, workDir, claudePath = FAKE_CLAUDE } = {}) {
  const out = {};
  for (const k of PASSTHROUGH) if (process.env[k] !== undefined) out[k] = process.env[k];
  Object.assign(out, {
    HOST: '127.0.0.1',
    PORT: '0',
    REQUIRE_AUTH: 'false',
    CLAUDE_PATH: claudePath,
    CHILD_ENV: 'FAKE_CLAUDE_DIR FAKE_CLAUDE_LOG_DIR',
    FAKE_CLAUDE_DIR: TRANSCRIPTS,
    FAKE_CLAUDE_LOG_DIR: logDir,
    WORK_DIR: workDir,
    LOG_LEVEL: 'debug',
    HOME: workDir,
    // The pool's key is DEFAULT_MODEL: the model messageBody() asks for, so requests adopt
    // pooled processes. WARM_POOL as the daemon's default (1) unless the run says otherwise
    // (`meson test --setup cold` sets CLAUDE_PROXY_TEST_WARM_POOL=0): the suite must pass both ways.
    DEFAULT_MODEL: TEST_MODEL,
    WARM_POOL: WARM_POOL,
  });
  for (const [k, v] of Object.entries(env)) {
    if (v === null || v === undefined) delete out[k];
    else out[k] = String(v);
  }
  return out;
}

// Start the proxy. `socketActivate`: through systemd-socket-activate on a free port.
export async function startProxy({ env = {}, socketActivate = false, claudePath, args = [] } = {}) {
  const logDir = tmpdir('cp-fakelog-');
  const workDir = tmpdir('cp-work-');
  const fullEnv = proxyEnv(env, { logDir, workDir, claudePath: claudePath ?? FAKE_CLAUDE });
  const [cmd0, ...wrapArgs] = [...WRAPPER, PROXY_BIN];
  let cmd = cmd0, argv = [...wrapArgs, ...args], saPort = 0;
  if (socketActivate) {
    const port = saPort = await freePort();
    const sa = which('systemd-socket-activate');
    cmd = sa;
    // socket-activate execs the proxy in its own pid with LISTEN_FDS/LISTEN_PID but an empty
    // environment otherwise: every variable must be named with -E. PORT is then irrelevant.
    // A wrapper (valgrind) execs nothing else and keeps the pid, so LISTEN_PID still matches.
    argv = ['-l', `127.0.0.1:${port}`, ...Object.keys(fullEnv).flatMap((k) => ['-E', k]),
      ...WRAPPER, PROXY_BIN, ...args];
  }
  const child = spawn(cmd, argv, { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = new Proxy(child, { logDir, workDir, env: fullEnv });
  try {
    if (socketActivate)
      await p.waitActivated(saPort);
    else
      await p.waitListening();
  } catch (e) {
    // A proxy that did not come up must not keep the test process (and meson) waiting on it.
    await p.stop({ check: false, signal: 'SIGKILL' });
    throw e;
  }
  return p;
}

// Run `fn(proxy)` and always stop the proxy; the stop's check runs only if `fn` succeeded so
// the first failure is the one reported.
export async function withProxy(opts, fn) {
  const p = await startProxy(opts);
  let failed = false;
  try {
    return await fn(p);
  } catch (e) {
    failed = true;
    e.message += `\n--- proxy stderr (tail) ---\n${p.stderrText.slice(-4000)}`;
    throw e;
  } finally {
    await p.stop({ check: !failed });
  }
}

// ---- processes --------------------------------------------------------------------------

export function childrenOf(pid) {
  const out = new Set();
  let tasks = [];
  try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch { return []; }
  for (const t of tasks) {
    try {
      for (const c of fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/))
        if (c) out.add(Number(c));
    } catch { /* thread gone */ }
  }
  return [...out];
}

// /proc/PID/stat fields after the command name.
function procStat(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0], ppid: Number(rest[1]), pgid: Number(rest[2]), sid: Number(rest[3]) };
  } catch {
    return null;
  }
}

// Alive means present and not a zombie: orphans may never be reaped in a container whose
// PID 1 does not reap, so a zombie counts as gone.
export function pidAlive(pid) {
  const st = procStat(pid);
  return !!st && st.state !== 'Z' && st.state !== 'X';
}

// Living members of a process group. kill(-pgid, 0) is the fast path; zombies keep a group
// "existing" for kill(), so fall back to scanning /proc.
export function groupMembers(pgid) {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    if (e.code === 'ESRCH') return [];
  }
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = procStat(Number(d));
    if (st && st.pgid === pgid && st.state !== 'Z' && st.state !== 'X') out.push(Number(d));
  }
  return out;
}

export function groupEmpty(pgid) {
  return groupMembers(pgid).length === 0;
}

// Poll `cond` every 5 ms; resolve with the elapsed ms, or throw after `timeoutMs`.
export async function waitFor(cond, timeoutMs, what = 'condition') {
  const start = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

// Kill leftovers of a failed test so they do not disturb later ones.
export function reap(pids) {
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

// ---- what the fake CLI was given ---------------------------------------------------------

// The settings a fake CLI received, however they came: as argv (a cold spawn) or as control
// requests on stdin before the conversation (a warm pooled process adopted by the request;
// src/cli/README.md, "What can be applied to a warm process"). `via` says which. A setting sent
// after the first user line would come too late for the CLI to apply: that throws.
export function cliSettings(log) {
  const a = log.argv;
  const val = (flag) => (a.includes(flag) ? a[a.indexOf(flag) + 1] : undefined);
  const out = {
    model: val('--model'),
    effort: val('--effort'),
    thinking: val('--thinking'),
    maxThinkingTokens: val('--max-thinking-tokens') === undefined ? undefined : Number(val('--max-thinking-tokens')),
    systemPromptFile: val('--system-prompt-file'),
    appendSystemPromptFile: val('--append-system-prompt-file'),
    systemPrompt: undefined,
    appendSystemPrompt: undefined,
    controls: [],
    via: 'argv',
  };
  let sawUser = false;
  for (const l of log.stdin) {
    if (l && l.type === 'user') sawUser = true;
    if (!l || l.type !== 'control_request') continue;
    const r = l.request;
    out.controls.push(r.subtype);
    if (r.subtype === 'mcp_status') continue;   // the pool's readiness probe, no setting
    if (sawUser) throw new Error(`control request ${r.subtype} written after the conversation`);
    out.via = 'control';
    if (r.subtype === 'set_model') out.model = r.model;
    else if (r.subtype === 'apply_flag_settings') {
      if (r.settings.effortLevel !== undefined) out.effort = r.settings.effortLevel;
      if (r.settings.model !== undefined) out.model = r.settings.model;
    } else if (r.subtype === 'set_max_thinking_tokens') {
      if (r.max_thinking_tokens === 0) out.thinking = 'disabled';
      else out.maxThinkingTokens = r.max_thinking_tokens;
    } else if (r.subtype === 'initialize') {
      if (r.systemPrompt !== undefined) out.systemPrompt = [].concat(r.systemPrompt).join('');
      if (r.appendSystemPrompt !== undefined) out.appendSystemPrompt = r.appendSystemPrompt;
    }
  }
  return out;
}

// The conversation lines a fake CLI received (control requests left out).
export function conversationLines(log) {
  return log.stdin.filter((l) => !(l && l.type === 'control_request'));
}

// ---- HTTP -------------------------------------------------------------------------------

export function messageBody(text, extra = {}) {
  return {
    model: TEST_MODEL,
    max_tokens: 256,
    messages: [{ role: 'user', content: text }],
    ...extra,
  };
}

// POST JSON with fetch; returns { status, headers, text, json }.
export async function postJson(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

export async function getJson(url, headers = {}) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

// Parse a complete SSE body into [{event, data (parsed JSON or raw), comment?}].
export function parseSse(text) {
  const out = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    if (!block.trim()) continue;
    let event = null;
    const data = [];
    const comments = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) comments.push(line.slice(1).trim());
      else if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (event === null && data.length === 0) {
      out.push({ comment: comments.join('\n') });
      continue;
    }
    const raw = data.join('\n');
    let parsed = raw;
    try { parsed = JSON.parse(raw); } catch { /* keep raw */ }
    out.push({ event, data: parsed });
  }
  return out;
}

// Check the Anthropic SSE grammar: message_start first and once, content blocks with
// contiguous indices each started/stopped exactly once and not interleaved, exactly one
// message_delta after every block stopped, message_stop last. ping and error are allowed
// (an error event ends the stream and must follow closed blocks). Returns the events.
export function assertSseGrammar(events, { allowError = false } = {}) {
  const evs = events.filter((e) => e.event !== null && e.event !== undefined);
  for (const e of evs) {
    if (e.event !== 'ping' || typeof e.data === 'object')
      assert.equal(e.data?.type, e.event, `event name and data.type differ: ${JSON.stringify(e)}`);
  }
  const core = evs.filter((e) => e.event !== 'ping');
  assert.ok(core.length > 0, 'no events');
  assert.equal(core[0].event, 'message_start', `first event is ${core[0].event}`);
  assert.equal(core.filter((e) => e.event === 'message_start').length, 1, 'message_start count');
  let open = null, next = 0, sawDelta = false, ended = false;
  for (const e of core.slice(1)) {
    assert.ok(!ended, `event after the end: ${e.event}`);
    switch (e.event) {
      case 'content_block_start':
        assert.ok(!sawDelta, 'content_block_start after message_delta');
        assert.equal(open, null, `block ${e.data.index} started while ${open} is open`);
        assert.equal(e.data.index, next, 'block indices must be contiguous from 0');
        open = next++;
        break;
      case 'content_block_delta':
        assert.equal(e.data.index, open, `delta for block ${e.data.index}, open is ${open}`);
        break;
      case 'content_block_stop':
        assert.equal(e.data.index, open, `stop for block ${e.data.index}, open is ${open}`);
        open = null;
        break;
      case 'message_delta':
        assert.equal(open, null, 'message_delta with a block open');
        assert.ok(!sawDelta, 'more than one message_delta');
        sawDelta = true;
        break;
      case 'message_stop':
        assert.ok(sawDelta, 'message_stop without message_delta');
        ended = true;
        break;
      case 'error':
        assert.ok(allowError, `unexpected error event: ${JSON.stringify(e.data)}`);
        assert.equal(open, null, 'error event with a block still open');
        assert.equal(e.data.type, 'error');
        assert.equal(typeof e.data.error?.type, 'string');
        assert.equal(typeof e.data.error?.message, 'string');
        ended = true;
        break;
      default:
        assert.fail(`unknown event ${e.event}`);
    }
  }
  assert.ok(ended, 'stream did not end with message_stop or error');
  return core;
}

// Text of a stream, from its text_delta events.
export function sseText(events) {
  return events.filter((e) => e.event === 'content_block_delta' && e.data.delta?.type === 'text_delta')
    .map((e) => e.data.delta.text).join('');
}

export function assertErrorEnvelope(json, type) {
  assert.equal(json?.type, 'error', `not an error envelope: ${JSON.stringify(json)}`);
  assert.equal(typeof json.error?.message, 'string');
  assert.ok(json.error.message.length > 0, 'empty error message');
  if (type) assert.equal(json.error.type, type, `error type: ${JSON.stringify(json)}`);
}

// A raw streaming request the caller can abort at any point (disconnect tests).
// Resolves once the response headers are in; `chunks` accumulates the body.
export function openStream(url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const data = JSON.stringify(body);
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname, method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers },
    });
    const state = { req, res: null, text: '', ended: false };
    req.on('error', (e) => { if (!state.res) reject(e); });
    req.on('response', (res) => {
      state.res = res;
      res.setEncoding('utf8');
      res.on('data', (d) => { state.text += d; });
      res.on('end', () => { state.ended = true; });
      res.on('error', () => {});
      resolve(state);
    });
    req.end(data);
  });
}

// A request whose socket we can destroy before any response arrives (non-streaming disconnect).
export function openRequest(url, body, headers = {}) {
  const u = new URL(url);
  const data = JSON.stringify(body);
  const req = http.request({
    host: u.hostname, port: u.port, path: u.pathname, method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers },
  });
  req.on('error', () => {});
  req.end(data);
  return req;
}

// ---- curl ---------------------------------------------------------------------------------

// Run curl; returns { status, headers (lowercased map), body }.
export function curl(args) {
  const r = spawnSync('curl', ['-sS', '-D', '-', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`curl failed (${r.status}): ${r.stderr}`);
  const out = r.stdout;
  // curl -D - prints every header block (100 Continue too); the last one is the response's.
  let rest = out, head = '';
  for (;;) {
    const i = rest.search(/\r?\n\r?\n/);
    if (i < 0) { head = rest; rest = ''; break; }
    head = rest.slice(0, i);
    rest = rest.slice(rest.slice(i).match(/^\r?\n\r?\n/)[0].length + i);
    if (!/^HTTP\/\S+ 1\d\d/.test(head)) break;
  }
  const lines = head.split(/\r?\n/);
  const status = Number(lines[0].split(' ')[1]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const j = l.indexOf(':');
    if (j > 0) headers[l.slice(0, j).trim().toLowerCase()] = l.slice(j + 1).trim();
  }
  return { status, headers, body: rest };
}

// ---- SDK ------------------------------------------------------------------------------------

const nodeRequire = createRequire(path.join(NODE_DIR, 'package.json'));

export async function loadSdk() {
  const mod = await import(nodeRequire.resolve('@anthropic-ai/sdk'));
  return mod.default?.Anthropic ? mod.default : mod;
}

export async function sdkClient(proxy, opts = {}) {
  const sdk = await loadSdk();
  const Anthropic = sdk.Anthropic ?? sdk.default;
  return {
    sdk,
    client: new Anthropic({ baseURL: proxy.url, apiKey: opts.apiKey ?? 'sk-proxy-test', maxRetries: 0,
      timeout: opts.timeout ?? 30000 }),
  };
}

// ---- the scripted Anthropic mock (tests/mock/anthropic-mock.mjs, written by H2) -------------

export const MOCK_PATH = path.join(SOURCE_ROOT, 'tests', 'mock', 'anthropic-mock.mjs');

export async function loadMock() {
  if (!fs.existsSync(MOCK_PATH)) return null;
  return import(MOCK_PATH);
}

// Start the mock on a free port with `script`; null when tests/mock is not there.
// The returned object has url, requests, setScript(), reset() and close().
export async function startMock(script) {
  const mod = await loadMock();
  return mod ? mod.startMock({ port: 0, script }) : null;
}
