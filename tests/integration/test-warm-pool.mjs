// SPDX-License-Identifier: MIT
//
// The warm pool (WARM_POOL, src/pool.c) with the fake CLI: a request for DEFAULT_MODEL adopts an
// idle process started in advance, its settings arrive over the control channel before its
// conversation, a process serves one request only, the pool refills; other models spawn cold;
// an idle pooled process gives its slot up first; a broken CLI does not make the pool spin;
// reload replaces the pool, the pool dies with the proxy, EXIT_IDLE_SEC is not held up by it.
// These tests set WARM_POOL themselves, so they run the same under `meson test --setup cold`;
// one case checks that WARM_POOL=0 passes every setting as argv.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  cliSettings, conversationLines, getJson, messageBody, missing, pidAlive, postJson, requireOrSkip, sleep, TEST_MODEL,
  waitFor, withProxy,
} from './lib/harness.mjs';

requireOrSkip(missing());

async function pool(proxy) {
  return (await getJson(`${proxy.url}/health`)).json.pool;
}

async function poolReady(proxy, n = 1) {
  // Idle pooled processes: alive, and given no user line (a killed one's log stays "started").
  const idle = () => proxy.fakeLogs().filter((l) => l.state === 'started' && pidAlive(l.pid));
  await waitFor(async () => (await pool(proxy)).ready === n && idle().length === n, 15000, `${n} pooled CLI ready`);
  return idle();
}

// A request that asks for something of every late-applied kind: effort (x-effort), thinking off
// (ENABLE_THINKING=false), the system prompt appended (SYSTEM_PROMPT_MODE=append).
const ENV = { SYSTEM_PROMPT_MODE: 'append', ENABLE_THINKING: 'false' };
function configuredRequest(proxy, marker, model = TEST_MODEL) {
  return postJson(`${proxy.url}/v1/messages`,
    messageBody(`hi ${marker}`, { model, system: `SYS-${marker}` }), { 'x-effort': 'low' });
}

describe('warm pool', () => {
  test('a request adopts a ready pooled CLI, configured over the control channel; the pool refills', async () => {
    await withProxy({ env: { ...ENV, WARM_POOL: '1' } }, async (proxy) => {
      const [idle] = await poolReady(proxy);
      const h0 = await pool(proxy);
      assert.equal(h0.target, 1);
      assert.equal(h0.model, TEST_MODEL);
      // Started with the base argv and the model, nothing of any request.
      assert.equal(cliSettings(idle).model, TEST_MODEL);
      for (const f of ['--effort', '--thinking', '--append-system-prompt-file', '--system-prompt-file'])
        assert.ok(!idle.argv.includes(f), `${f} in a pooled argv: ${idle.argv.join(' ')}`);
      assert.deepEqual(idle.stdin.map((l) => l.request?.subtype), ['mcp_status'], 'the readiness probe only');

      const r = await configuredRequest(proxy, 'warm-one');
      assert.equal(r.status, 200, r.text);
      const log = await proxy.waitFakeLogFor('warm-one');
      assert.equal(log.pid, idle.pid, 'the request ran on the pooled process');
      const cfg = cliSettings(log);
      assert.equal(cfg.via, 'control');
      assert.equal(cfg.model, TEST_MODEL);
      assert.equal(cfg.effort, 'low');
      assert.equal(cfg.thinking, 'disabled');
      assert.equal(cfg.appendSystemPrompt, 'SYS-warm-one');
      assert.equal(conversationLines(log).length, 1);

      const h1 = await pool(proxy);
      assert.equal(h1.hits, 1);
      // Refilled with a new process; the adopted one is never reused.
      const [next] = await poolReady(proxy);
      assert.notEqual(next.pid, idle.pid);
      await waitFor(() => !pidAlive(idle.pid), 5000, 'the adopted CLI to exit after its request');
      const r2 = await configuredRequest(proxy, 'warm-two');
      assert.equal(r2.status, 200, r2.text);
      const log2 = await proxy.waitFakeLogFor('warm-two');
      assert.equal(log2.pid, next.pid);
      assert.ok(!JSON.stringify(log2.stdin).includes('warm-one'), 'nothing of the first request');
      assert.equal((await pool(proxy)).hits, 2);
    });
  });

  test('another model spawns cold with its full argv; counted as a cold fallback', async () => {
    await withProxy({ env: { ...ENV, WARM_POOL: '1' } }, async (proxy) => {
      const [idle] = await poolReady(proxy);
      const r = await configuredRequest(proxy, 'other-model', 'claude-opus-4-1');
      assert.equal(r.status, 200, r.text);
      const log = await proxy.waitFakeLogFor('other-model');
      assert.notEqual(log.pid, idle.pid);
      const cfg = cliSettings(log);
      assert.equal(cfg.via, 'argv');
      assert.equal(cfg.model, 'claude-opus-4-1');
      assert.equal(cfg.effort, 'low');
      assert.equal(cfg.thinking, 'disabled');
      assert.ok(cfg.appendSystemPrompt === undefined && cfg.appendSystemPromptFile, 'append prompt as a file');
      const h = await pool(proxy);
      assert.equal(h.cold_fallbacks, 1);
      assert.equal(h.hits, 0);
      assert.ok(pidAlive(idle.pid), 'the pooled process waits on');
    });
  });

  test('OpenAI: one choice adopts with its late config; n = 2 runs cold, ending the idle one for a slot', async () => {
    await withProxy({ env: { ...ENV, WARM_POOL: '1', MAX_CONCURRENT: '2' } }, async (proxy) => {
      const chat = (marker, n) => postJson(`${proxy.url}/v1/chat/completions`, {
        model: TEST_MODEL, n,
        messages: [{ role: 'system', content: `SYS-${marker}` }, { role: 'user', content: `hi ${marker}` }],
      });
      const [idle] = await poolReady(proxy);
      const r = await chat('oa-one', 1);
      assert.equal(r.status, 200, r.text);
      const log = await proxy.waitFakeLogFor('oa-one');
      assert.equal(log.pid, idle.pid, 'the one-choice request ran on the pooled process');
      const cfg = cliSettings(log);
      assert.equal(cfg.via, 'control');
      assert.equal(cfg.thinking, 'disabled');
      assert.equal(cfg.appendSystemPrompt, 'SYS-oa-one');
      assert.equal(conversationLines(log).length, 1);
      assert.equal((await pool(proxy)).hits, 1);

      // Two choices need both slots: the refilled idle process gives its slot up, and neither
      // choice runs on a pooled process.
      const [next] = await poolReady(proxy);
      await waitFor(() => !pidAlive(idle.pid), 5000, 'the adopted CLI to exit after its request');
      const r2 = await chat('oa-two', 2);
      assert.equal(r2.status, 200, r2.text);
      assert.equal(r2.json.choices.length, 2);
      await waitFor(() => proxy.fakeLogs().filter((l) => JSON.stringify(l.stdin).includes('oa-two')).length === 2,
        5000, 'both choices logged');
      const logs = proxy.fakeLogs().filter((l) => JSON.stringify(l.stdin).includes('oa-two'));
      for (const l of logs) {
        assert.notEqual(l.pid, next.pid, 'a choice ran on the pooled process');
        const c = cliSettings(l);
        assert.equal(c.via, 'argv');
        assert.deepEqual(c.controls, []);
        assert.ok(c.appendSystemPromptFile, 'append prompt as a file');
      }
      const h = await pool(proxy);
      assert.equal(h.hits, 1);
      assert.equal(h.sacrificed, 1);
    });
  });

  test('WARM_POOL=0: no pooled process, every setting as argv', async () => {
    await withProxy({ env: { ...ENV, WARM_POOL: '0' } }, async (proxy) => {
      const r = await configuredRequest(proxy, 'cold-only');
      assert.equal(r.status, 200, r.text);
      const log = await proxy.waitFakeLogFor('cold-only');
      const cfg = cliSettings(log);
      assert.equal(cfg.via, 'argv');
      assert.deepEqual(cfg.controls, []);
      assert.equal(cfg.effort, 'low');
      assert.equal(cfg.thinking, 'disabled');
      assert.equal(proxy.fakeLogs().length, 1);
      const h = await pool(proxy);
      assert.deepEqual([h.target, h.size, h.hits, h.misses], [0, 0, 0, 0]);
    });
  });

  test('MAX_CONCURRENT=1: the idle pooled process gives its slot up to a request that needs it', async () => {
    await withProxy({ env: { ...ENV, WARM_POOL: '1', MAX_CONCURRENT: '1' } }, async (proxy) => {
      const [idle] = await poolReady(proxy);
      const r = await configuredRequest(proxy, 'needs-slot', 'claude-opus-4-1');
      assert.equal(r.status, 200, r.text);
      assert.ok(!pidAlive(idle.pid), 'the idle one was ended');
      const h = await pool(proxy);
      assert.equal(h.sacrificed, 1);
      // And it comes back once the slot is free again.
      await poolReady(proxy);
    });
  });

  test('a pooled process that dies idle is replaced, counted, and a broken CLI does not spin', async () => {
    await withProxy({ env: { WARM_POOL: '1' } }, async (proxy) => {
      const [idle] = await poolReady(proxy);
      process.kill(idle.pid, 'SIGKILL');
      await waitFor(async () => (await pool(proxy)).spawn_failures === 1, 5000, 'the death counted');
      assert.match((await pool(proxy)).problem, /ended while idle/);
      const [next] = await poolReady(proxy);
      assert.notEqual(next.pid, idle.pid);
      assert.equal((await pool(proxy)).problem, null, 'a ready process clears the problem');
    });
    // A CLI that exits at once: the refills back off (0.5 s doubling), /health says why.
    await withProxy({ env: { WARM_POOL: '1', CLAUDE_PATH: '/bin/false' } }, async (proxy) => {
      await sleep(3000);
      const h = await pool(proxy);
      assert.ok(h.spawn_failures >= 1 && h.spawn_failures <= 4, `${h.spawn_failures} failures in 3 s`);
      assert.match(h.problem, /ended while idle \(exit code 1\)/);
      const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi'));
      assert.ok(r.status >= 500, `requests still get an answer: ${r.status}`);
    });
  });

  test('SIGHUP replaces the idle pool; the pool dies with the proxy', async () => {
    await withProxy({ env: { WARM_POOL: '1' } }, async (proxy) => {
      const [idle] = await poolReady(proxy);
      proxy.child.kill('SIGHUP');
      await waitFor(() => !pidAlive(idle.pid), 5000, 'the old pooled process to be replaced');
      const [next] = await poolReady(proxy);
      assert.notEqual(next.pid, idle.pid);
      await proxy.stop();
      assert.ok(!pidAlive(next.pid), 'the pooled process died with the proxy');
    });
  });

  test('EXIT_IDLE_SEC is not held up by an idle pool', async () => {
    await withProxy({ env: { WARM_POOL: '1', EXIT_IDLE_SEC: '2' } }, async (proxy) => {
      const [idle] = await poolReady(proxy);
      const ex = await proxy.waitExit(15000, 'the proxy did not exit on idle');
      assert.deepEqual(ex, { code: 0, signal: null }, 'the proxy exited on idle');
      assert.ok(!pidAlive(idle.pid), 'and took its pool along');
    });
  });
});
