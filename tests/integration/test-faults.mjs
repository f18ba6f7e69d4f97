// SPDX-License-Identifier: MIT
//
// A misbehaving CLI: crashes mid-stream, hangs, runs past the request timeout, prints a line
// too long to parse. Each must end in a proper error for the client and leave no child behind.
// Also: SSE pings while the CLI is silent.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  assertErrorEnvelope, assertSseGrammar, messageBody, missing, parseSse, pidAlive, postJson, requireOrSkip,
  sseText, waitFor, withProxy,
} from './lib/harness.mjs';

requireOrSkip(missing());

async function stream(proxy, text, extra = {}) {
  const res = await fetch(`${proxy.url}/v1/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(messageBody(text, { stream: true, ...extra })),
  });
  return { status: res.status, text: await res.text() };
}

describe('faults', () => {
  test('crash mid-stream: blocks closed, then an SSE error event', async () => {
    await withProxy({}, async (proxy) => {
      // Lines 1-6 of the text transcript: init, status, message_start, block start, 2 deltas.
      const r = await stream(proxy, 'hi [[fake:text crash_after=6]]');
      assert.equal(r.status, 200);
      const events = assertSseGrammar(parseSse(r.text), { allowError: true });
      const last = events.at(-1);
      assert.equal(last.event, 'error');
      assert.equal(last.data.error.type, 'api_error');
      assert.ok(events.some((e) => e.event === 'content_block_stop'), 'the open block is closed first');
      assert.equal(sseText(events), 'Hello! I am a scripted m');
      assert.ok(!events.some((e) => e.event === 'message_stop'), 'no message_stop after a crash');
    });
  });

  test('crash before any output (non-streaming) is a 500', async () => {
    await withProxy({}, async (proxy) => {
      const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi [[fake:text crash_after=3]]'));
      assert.equal(r.status, 500, r.text);
      assertErrorEnvelope(r.json, 'api_error');
      const e = await postJson(`${proxy.url}/v1/messages`,
        messageBody('hi [[fake:text crash_after=5 crash_mode=exit stderr="fatal: fake crash"]]'));
      assert.equal(e.status, 500, e.text);
      assertErrorEnvelope(e.json, 'api_error');
      // The proxy serves on after crashes.
      const ok = await postJson(`${proxy.url}/v1/messages`, messageBody('hi'));
      assert.equal(ok.status, 200);
    });
  });

  test('a CLI that goes silent is killed after IDLE_TIMEOUT_MS: 504', async () => {
    await withProxy({ env: { IDLE_TIMEOUT_MS: '400', KILL_GRACE_MS: '200' } }, async (proxy) => {
      const t0 = Date.now();
      const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi [[fake:text hang_after=4]]'));
      const took = Date.now() - t0;
      assert.equal(r.status, 504, r.text);
      assertErrorEnvelope(r.json, 'timeout_error');
      assert.ok(took >= 350 && took < 3000, `answered after ${took} ms`);
      const log = proxy.servedLogs().at(-1);
      await waitFor(() => !pidAlive(log.pid), 5000, 'the hung child to be gone');

      // Streaming: the 504 arrives as an error event after message_start.
      const s = await stream(proxy, 'hi [[fake:text hang_after=5]]');
      assert.equal(s.status, 200);
      const events = assertSseGrammar(parseSse(s.text), { allowError: true });
      assert.equal(events.at(-1).event, 'error');
      assert.equal(events.at(-1).data.error.type, 'timeout_error');
      await waitFor(() => !pidAlive(proxy.servedLogs().at(-1).pid), 5000, 'the hung child to be gone');
    });
  });

  test('a slow CLI is stopped at REQUEST_TIMEOUT_MS: 504', async () => {
    await withProxy({ env: { REQUEST_TIMEOUT_MS: '700', IDLE_TIMEOUT_MS: '5000', KILL_GRACE_MS: '200' } },
      async (proxy) => {
        const t0 = Date.now();
        // 15 lines, 150 ms apart: never idle for long, but 2 s in total.
        const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi [[fake:text delay=150]]'));
        const took = Date.now() - t0;
        assert.equal(r.status, 504, r.text);
        assertErrorEnvelope(r.json, 'timeout_error');
        // A 504 cannot be the complete answer; the upper bound only has to be generous.
        assert.ok(took >= 650 && took < 5000, `answered after ${took} ms`);
        await waitFor(() => !pidAlive(proxy.servedLogs().at(-1).pid), 5000, 'the slow child to be gone');
      });
  });

  test('a line over the length limit: 500, and the proxy survives', async () => {
    await withProxy({}, async (proxy) => {
      const r = await postJson(`${proxy.url}/v1/messages`,
        messageBody(`hi [[fake:text huge_line=${40 * 1024 * 1024}]]`));
      assert.equal(r.status, 500, r.text.slice(0, 500));
      assertErrorEnvelope(r.json, 'api_error');
      await waitFor(() => !pidAlive(proxy.servedLogs().at(-1).pid), 5000, 'the child to be gone');
      const ok = await postJson(`${proxy.url}/v1/messages`, messageBody('hi'));
      assert.equal(ok.status, 200);
    });
  });

  test('a long line under the limit is fine', async () => {
    await withProxy({}, async (proxy) => {
      const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi [[fake:text huge_line=1048576]]'));
      assert.equal(r.status, 200, r.text.slice(0, 500));
    });
  });

  test('SSE pings while the CLI is silent', async () => {
    await withProxy({ env: { PING_INTERVAL_MS: '50' } }, async (proxy) => {
      const r = await stream(proxy, 'hi [[fake:text delay=120]]');
      assert.equal(r.status, 200);
      const events = parseSse(r.text);
      const core = assertSseGrammar(events);
      assert.equal(sseText(core), 'Hello! I am a scripted mock reply, streamed in several small chunks.');
      const pings = events.filter((e) => e.event === 'ping');
      assert.ok(pings.length >= 5, `only ${pings.length} pings in ~1.7 s at 50 ms`);
      for (const p of pings) assert.deepEqual(p.data, { type: 'ping' });
    });
  });
});
