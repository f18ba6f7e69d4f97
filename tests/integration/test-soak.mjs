// SPDX-License-Identifier: MIT
//
// A short soak in every test run (the long one is bench/soak.mjs): SOAK_REQUESTS requests at
// concurrency SOAK_CONCURRENCY through the fake CLI, with crashes, hangs, oversized lines, recorded
// errors and clients leaving at every phase. Afterwards: every client that stayed got a
// well-formed answer, the daemon is alive with no child, its fds and RSS are back near their
// idle figures, and /metrics counted every request exactly once.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import fs from 'node:fs';

import { PROXY_BIN, getJson, messageBody, missing, postJson, requireOrSkip, waitFor, withProxy } from './lib/harness.mjs';
import { fdCount, memory, requestsByStatus, runSoak } from './lib/soak.mjs';

requireOrSkip(missing());
const REQUESTS = Number(process.env.SOAK_REQUESTS || 600);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY || 20);
const SEED = Number(process.env.SOAK_SEED || 7);
const SANITIZED = fs.readFileSync(PROXY_BIN).includes('__asan_init');

describe('soak', () => {
  test(`${REQUESTS} requests at concurrency ${CONCURRENCY} with faults and early leavers`, { timeout: 600000 }, async () => {
    const env = { MAX_CONCURRENT: String(CONCURRENCY), MAX_QUEUE: String(4 * CONCURRENCY), IDLE_TIMEOUT_MS: '5000',
                  KILL_GRACE_MS: '500', LOG_LEVEL: 'info' };
    await withProxy({ env }, async (proxy) => {
      // Idle figures after one request, so lazily allocated state is already there.
      assert.equal((await postJson(`${proxy.url}/v1/messages`, messageBody('hi'))).status, 200);
      // With the warm pool on, idle means its pooled processes are back in place.
      await waitFor(() => proxy.onlyPoolLeft(), 30000, 'the idle pool refilled');
      const idleFds = fdCount(proxy.pid);
      const idle = memory(proxy.pid);

      const started = Date.now();
      const r = await runSoak({ port: proxy.port, requests: REQUESTS, concurrency: CONCURRENCY, seed: SEED });
      const took = Date.now() - started;
      console.log(`# soak: ${JSON.stringify({ took_ms: took, ...r, failures: r.failures.length })}`);

      assert.deepEqual(r.failures.slice(0, 10), [], `${r.failures.length} malformed answers`);
      assert.equal(proxy.exited, null, 'the proxy died');
      assert.ok(r.answered > REQUESTS / 2, `only ${r.answered} answers`);
      assert.ok(r.left > REQUESTS / 10, `only ${r.left} clients left early`);

      await proxy.waitHealth((h) => h.requests_in_flight === 0, 30000,
        'requests_in_flight 0');
      await waitFor(() => proxy.onlyPoolLeft(), 30000, 'no CLI child left but the idle pool');
      await waitFor(() => fdCount(proxy.pid) <= idleFds, 30000,
        `fds back to ${idleFds} (now ${fdCount(proxy.pid)})`);
      // Every request counted once: the warm-up, the answered ones under their status, the
      // leavers as 499 — or, when the answer was complete before the proxy saw the close, under
      // the status the client never read.
      const m = requestsByStatus((await getJson(`${proxy.url}/metrics`)).text);
      const total = Object.values(m).reduce((a, b) => a + b, 0);
      assert.equal(total, REQUESTS + 1, `metrics count ${total} requests: ${JSON.stringify(m)}`);
      for (const [st, n] of Object.entries(r.byStatus)) {
        const counted = (m[st] || 0) - (st === '200' ? 1 : 0);
        assert.ok(counted >= n && counted <= n + r.left, `status ${st}: ${n} seen by clients, ${counted} counted`);
      }
      assert.ok((m['499'] || 0) <= r.left, `${m['499']} counted as 499, only ${r.left} left`);

      const after = memory(proxy.pid);
      console.log(`# rss idle ${idle.rss} KiB, after ${after.rss} KiB, peak ${after.hwm} KiB`);
      // Back near idle: large requests give their memory back (malloc_trim). A sanitizer build
      // has its own allocator with a quarantine of freed memory, so RSS says nothing there.
      if (!SANITIZED)
        assert.ok(after.rss <= 2 * idle.rss, `RSS ${after.rss} KiB after the soak, ${idle.rss} KiB idle`);

      // And it still answers normally.
      assert.equal((await postJson(`${proxy.url}/v1/messages`, messageBody('hi'))).status, 200);
    });
  });
});
