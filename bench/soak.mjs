#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// The long soak (the short one runs in every test run as tests/integration/test-soak.mjs):
// thousands of requests at a fixed concurrency through the fake CLI with crashes, hangs,
// oversized lines, recorded errors and clients that leave at every phase. Prints what the
// daemon held before, at its peak and after: children, fds, RSS; how many answers were
// malformed (must be 0); whether /metrics counted every request once. Loopback only, every loop
// bounded; the proxy and its children are stopped at the end.
//
//   node bench/soak.mjs --build BUILD [--requests 8000] [--concurrency 20] [--seed 7]

import path from 'node:path';

const SOURCE_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const o = { requests: 8000, concurrency: 20, seed: 7 };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--build') o.build = process.argv[++i];
  else if (['--requests', '--concurrency', '--seed'].includes(a)) o[a.slice(2)] = Number(process.argv[++i]);
  else {
    console.error('usage: soak.mjs --build BUILD [--requests N] [--concurrency N] [--seed N]');
    process.exit(2);
  }
}
if (!o.build) {
  console.error('--build BUILD is required');
  process.exit(2);
}
// The harness finds the binaries through the environment meson gives the tests.
process.env.CLAUDE_PROXY_BIN = path.resolve(o.build, 'src', 'claude-proxy');
process.env.FAKE_CLAUDE = path.resolve(o.build, 'tests', 'fake-claude', 'fake-claude');
process.env.SOURCE_ROOT = SOURCE_ROOT;

const { getJson, messageBody, postJson, sleep, startProxy } = await import('../tests/integration/lib/harness.mjs');
const { fdCount, memory, requestsByStatus, runSoak } = await import('../tests/integration/lib/soak.mjs');

const proxy = await startProxy({
  // WARM_POOL=0: the figures count every child the soak leaves (bench/warm-pool.mjs measures the pool).
  env: { WARM_POOL: '0', MAX_CONCURRENT: String(o.concurrency), MAX_QUEUE: String(4 * o.concurrency), IDLE_TIMEOUT_MS: '5000',
         KILL_GRACE_MS: '500', LOG_LEVEL: 'info' },
});
let exitCode = 0;
try {
  await postJson(`${proxy.url}/v1/messages`, messageBody('hi'));
  const idle = { fds: fdCount(proxy.pid), ...memory(proxy.pid) };
  let peakFds = idle.fds, peakChildren = 0, sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peakFds = Math.max(peakFds, fdCount(proxy.pid));
      peakChildren = Math.max(peakChildren, proxy.children().length);
      await sleep(50);
    }
  })();
  const t0 = Date.now();
  const r = await runSoak({ port: proxy.port, requests: o.requests, concurrency: o.concurrency, seed: o.seed });
  const seconds = (Date.now() - t0) / 1000;
  sampling = false;
  await sampler;
  // Let the last kills and reaps land before reading the "after" figures.
  for (let i = 0; i < 600 && (proxy.children().length > 0 || fdCount(proxy.pid) > idle.fds); i++) await sleep(50);
  const after = { fds: fdCount(proxy.pid), children: proxy.children().length, ...memory(proxy.pid) };
  const m = requestsByStatus((await getJson(`${proxy.url}/metrics`)).text);
  const counted = Object.values(m).reduce((a, b) => a + b, 0);

  console.log(`soak: ${o.requests} requests, concurrency ${o.concurrency}, seed ${o.seed}: ${seconds.toFixed(1)} s ` +
              `(${(o.requests / seconds).toFixed(0)} req/s)`);
  console.log(`  answered ${r.answered}, left early ${r.left}, malformed answers ${r.failures.length}`);
  console.log(`  statuses seen: ${JSON.stringify(r.byStatus)}`);
  console.log(`  cases: ${JSON.stringify(r.byCase)}`);
  console.log(`  /metrics counted ${counted} of ${o.requests + 1} requests: ${JSON.stringify(m)}`);
  console.log(`  children: peak ${peakChildren}, after ${after.children}`);
  console.log(`  fds: idle ${idle.fds}, peak ${peakFds}, after ${after.fds}`);
  console.log(`  RSS: idle ${(idle.rss / 1024).toFixed(1)} MiB, peak ${(after.hwm / 1024).toFixed(1)} MiB, ` +
              `after ${(after.rss / 1024).toFixed(1)} MiB`);
  for (const f of r.failures.slice(0, 10)) console.log(`  malformed: ${f}`);
  if (r.failures.length || after.children || after.fds > idle.fds || counted !== o.requests + 1 || proxy.exited)
    exitCode = 1;
} finally {
  await proxy.stop({ check: false });
}
process.exit(exitCode);
