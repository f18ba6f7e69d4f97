#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// Time to first text delta with the REAL Claude CLI, warm pool off (WARM_POOL=0, a cold spawn
// per request) against on (WARM_POOL=1, the request adopts a ready pooled process), N requests
// each, in one run, against the scripted mock API (tests/mock/anthropic-mock.mjs) the way
// tests/integration/test-real-cli.mjs uses it. Client-side: from the request's first byte sent
// to the first `text_delta` event received. A benchmark, not a test; see bench/README.md.
//
//   node bench/warm-pool.mjs --build build [--n 20]
//
// Requests go one at a time. Cold: each waits until the previous child is gone. Warm: each waits
// until /health says a pooled process is ready (the pool refills in the background between
// requests; a request that arrives before the refill is done would be a miss, timed as cold).

import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUILD = path.resolve(opt('build', path.join(ROOT, 'build')));
const N = Number(opt('n', '20'));
process.env.SOURCE_ROOT ??= ROOT;
process.env.CLAUDE_PROXY_BIN ??= path.join(BUILD, 'src', 'claude-proxy');

const h = await import(path.join(ROOT, 'tests', 'integration', 'lib', 'harness.mjs'));
const why = h.missing({ fake: false, realCli: true });
if (why) {
  console.error(`warm-pool bench: cannot run: ${why}`);
  process.exit(77);
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { n: s.length, min: s[0], p50: quantile(s, 0.5), p90: quantile(s, 0.9), max: s.at(-1), mean };
}

// POST a streaming request; ms from sending to the first text delta.
async function firstTextDelta(url, body) {
  const t0 = performance.now();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const dec = new TextDecoder();
  let buf = '', first = null;
  for await (const chunk of res.body) {
    buf += dec.decode(chunk, { stream: true });
    if (first === null && /"type":"text_delta"/.test(buf)) first = performance.now() - t0;
  }
  if (first === null) throw new Error(`no text delta in: ${buf.slice(0, 500)}`);
  return first;
}

async function phase(mock, warm) {
  const proxy = await h.startProxy({
    claudePath: h.REAL_CLI,
    env: {
      ANTHROPIC_BASE_URL: mock.url,
      ANTHROPIC_API_KEY: 'sk-test-bench',
      CHILD_ENV: 'ANTHROPIC_BASE_URL ANTHROPIC_API_KEY',
      CLI_MAX_RETRIES: '0',
      REQUEST_TIMEOUT_MS: '60000',
      LOG_LEVEL: 'info',
      WARM_POOL: warm ? '1' : '0',
    },
  });
  const times = [];
  try {
    const health = async () => (await h.getJson(`${proxy.url}/health`)).json;
    for (let i = 0; i < N; i++) {
      if (warm)
        await h.waitFor(async () => (await health()).pool.ready === 1, 60000, 'a ready pooled CLI');
      await h.waitFor(() => proxy.children().length === (warm ? 1 : 0), 30000, 'the previous CLI gone');
      const ms = await firstTextDelta(`${proxy.url}/v1/messages`,
        h.messageBody(`bench ${i}`, { stream: true, max_tokens: 64 }));
      times.push(ms);
      process.stderr.write(`${warm ? 'warm' : 'cold'} ${i + 1}/${N}: ${ms.toFixed(0)} ms\n`);
    }
    const p = (await health()).pool;
    return { times, pool: p };
  } finally {
    await proxy.stop();
  }
}

const mock = await h.startMock();
mock.setScript({ default: { content: [{ type: 'text', text: 'Warm or cold, here is the text.' }], chunk: 8 } });
const load0 = os.loadavg();
const cold = await phase(mock, false);
const warm = await phase(mock, true);
const load1 = os.loadavg();
await mock.close();

const c = stats(cold.times), w = stats(warm.times);
const f = (x) => x.toFixed(0);
console.log(`| WARM_POOL | n | min | p50 | p90 | max | mean (ms, first text delta) |`);
console.log(`|---|---|---|---|---|---|---|`);
for (const [name, s] of [['0 (cold)', c], ['1 (warm)', w]])
  console.log(`| ${name} | ${s.n} | ${f(s.min)} | ${f(s.p50)} | ${f(s.p90)} | ${f(s.max)} | ${f(s.mean)} |`);
console.log('');
console.log(`warm/cold p50 = ${(w.p50 / c.p50).toFixed(3)}, mean = ${(w.mean / c.mean).toFixed(3)} (goal <= 0.15)`);
console.log(`pool: hits ${warm.pool.hits}, misses ${warm.pool.misses}, spawn failures ${warm.pool.spawn_failures}`);
console.log(`load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}` +
  `; ${os.cpus().length} CPUs`);
