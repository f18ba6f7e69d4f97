// SPDX-License-Identifier: MIT
//
// The soak: many requests at a fixed concurrency through the fake CLI, each drawn from a mix of
// normal answers (streaming and not), recorded CLI errors, crashes, hangs, oversized lines,
// garbage, and clients that leave at every phase (right after sending, before any answer,
// mid-stream). Every client that stays must get a well-formed answer: the status its case
// allows, the Anthropic error envelope on errors, a grammatical event stream on 200 streams.
//
// Used by tests/integration/test-soak.mjs (a short run in every test run) and bench/soak.mjs
// (the long run whose figures go to bench/RESULTS.md). Deterministic for a given seed.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';

import { assertErrorEnvelope, assertSseGrammar, messageBody, parseSse, sleep } from './harness.mjs';

// A small seeded PRNG (mulberry32): the same seed gives the same mix and the same timings.
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Recorded CLI errors and the status the proxy must give each (before any content).
const ERROR_TRANSCRIPTS = [
  ['err_400', 400], ['err_429', 429], ['err_529', 529], ['err_not_logged_in', 503], ['err_500', 500],
  ['err_404_model', 404],
];

// [weight, name, make(rand) → case]. A case: { text, stream, expect: [statuses], leave?, errorOk? }.
// `leave`: 'sent' (close right after the request is written), 'waiting' (before any answer,
// after a random few ms), 'midstream' (after the first body bytes).
const MIX = [
  [22, 'text', () => ({ text: 'hi [[fake:text]]', stream: false, expect: [200] })],
  [8, 'thinking', () => ({ text: 'hi [[fake:thinking]]', stream: false, expect: [200] })],
  [18, 'stream', (r) => ({ text: `hi [[fake:${r() < 0.5 ? 'text' : 'multi_message'}]]`, stream: true, expect: [200] })],
  [10, 'cli error', (r) => {
    const [name, status] = ERROR_TRANSCRIPTS[Math.floor(r() * ERROR_TRANSCRIPTS.length)];
    return { text: `hi [[fake:${name}]]`, stream: r() < 0.5, expect: [status] };
  }],
  // A crash before the result: 500, or on a stream that had begun, an error event.
  [5, 'crash', (r) => ({ text: 'hi [[fake:text crash_after=3]]', stream: r() < 0.5, expect: [500], errorOk: true })],
  // Silent after two lines: the idle timeout ends it.
  [3, 'hang', (r) => ({ text: 'hi [[fake:text hang_after=2]]', stream: r() < 0.5, expect: [504], errorOk: true })],
  [1, 'huge line', () => ({ text: `hi [[fake:text huge_line=${40 * 1024 * 1024}]]`, stream: false, expect: [500] })],
  [2, 'garbage', (r) => ({ text: 'hi [[fake:text garbage=1]]', stream: r() < 0.5, expect: [200] })],
  [14, 'leave after sending', (r) => ({ text: 'hi [[fake:text delay=5]]', stream: r() < 0.5, leave: 'sent' })],
  [9, 'leave while waiting', (r) => ({ text: 'hi [[fake:text delay=30]]', stream: false, leave: 'waiting' })],
  [8, 'leave mid-stream', () => ({ text: 'hi [[fake:text delay=15 grandchild=1]]', stream: true, leave: 'midstream' })],
];

function pick(rand) {
  const total = MIX.reduce((s, m) => s + m[0], 0);
  let x = rand() * total;
  for (const [w, name, make] of MIX) {
    if ((x -= w) < 0) return { name, ...make(rand) };
  }
  return { name: MIX[0][1], ...MIX[0][2](rand) };
}

function requestBytes(c) {
  const body = Buffer.from(JSON.stringify(messageBody(c.text, { stream: c.stream })));
  return Buffer.concat([Buffer.from(
    `POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${body.length}\r\n\r\n`), body]);
}

// Write the request on a raw socket and close at once: the proxy sees the FIN right behind it.
function leaveAfterSending(port, c) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(requestBytes(c), () => s.destroy()));
    s.on('error', () => {});
    s.on('close', resolve);
  });
}

// A normal client; for 'waiting' and 'midstream' it aborts at the chosen point.
function exchange(port, c, rand) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(messageBody(c.text, { stream: c.stream }));
    const req = http.request({
      host: '127.0.0.1', port, path: '/v1/messages', method: 'POST', agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
    });
    let done = false;
    const finish = (v) => { if (!done) { done = true; resolve(v); } };
    req.on('error', (e) => (c.leave ? finish({ left: true }) : reject(e)));
    // Only once the whole request is written: the proxy then has all of it and must count it.
    if (c.leave === 'waiting') {
      const ms = 1 + Math.floor(rand() * 25);
      req.on('finish', () => setTimeout(() => { req.destroy(); finish({ left: true }); }, ms));
    }
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
        if (c.leave === 'midstream') { req.destroy(); finish({ left: true }); }
      });
      res.on('error', () => finish({ left: true }));
      res.on('end', () => finish({ status: res.statusCode, type: res.headers['content-type'] || '', text }));
    });
    req.end(data);
  });
}

// Is this a well-formed answer for case `c`? Throws with the details if not.
export function checkAnswer(c, a) {
  const what = `${c.name} (${c.text}, stream ${c.stream})`;
  if (a.status === 200 && c.stream) {
    assert.match(a.type, /^text\/event-stream/, `${what}: content-type ${a.type}`);
    const events = parseSse(a.text);
    assertSseGrammar(events, { allowError: !!c.errorOk });
    const err = events.find((e) => e.event === 'error');
    if (!c.expect.includes(200))
      assert.ok(err, `${what}: a 200 stream without the error its case must end in`);
    return;
  }
  assert.ok(c.expect.includes(a.status), `${what}: status ${a.status}, expected ${c.expect}: ${a.text.slice(0, 300)}`);
  assert.match(a.type, /^application\/json/, `${what}: content-type ${a.type}`);
  const json = JSON.parse(a.text);
  if (a.status === 200) assert.equal(json.type, 'message', `${what}: ${a.text.slice(0, 300)}`);
  else assertErrorEnvelope(json);
}

/**
 * runSoak() - drive `requests` requests at `concurrency` through a running proxy
 * Returns { sent, answered, left, byStatus: {status: n}, byCase: {name: n}, failures: [msg] }.
 */
export async function runSoak({ port, requests, concurrency, seed = 1 }) {
  const rand = prng(seed);
  const cases = Array.from({ length: requests }, () => pick(rand));
  const out = { sent: 0, answered: 0, left: 0, byStatus: {}, byCase: {}, failures: [] };
  let next = 0;
  async function worker() {
    while (next < cases.length) {
      const c = cases[next++];
      out.sent++;
      out.byCase[c.name] = (out.byCase[c.name] || 0) + 1;
      try {
        if (c.leave === 'sent') {
          await leaveAfterSending(port, c);
          out.left++;
          continue;
        }
        const a = await exchange(port, c, rand);
        if (a.left) {
          out.left++;
          continue;
        }
        out.answered++;
        out.byStatus[a.status] = (out.byStatus[a.status] || 0) + 1;
        checkAnswer(c, a);
      } catch (e) {
        out.failures.push(e.message.split('\n')[0]);
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

// ---- what the daemon holds ----------------------------------------------------------------

export function fdCount(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

// VmRSS and VmHWM in KiB.
export function memory(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

// claude_proxy_requests_total{api="anthropic",status="N"} → { N: count }.
export function requestsByStatus(metricsText) {
  const out = {};
  for (const m of metricsText.matchAll(/^claude_proxy_requests_total\{([^}]*)\} (\d+)/gm)) {
    if (!/api="anthropic"/.test(m[1])) continue;
    const st = /status="(\d+)"/.exec(m[1])?.[1];
    if (st) out[st] = (out[st] || 0) + Number(m[2]);
  }
  return out;
}

export { sleep };
