// SPDX-License-Identifier: MIT
//
// A CLI child that cannot be contained (its scope or cgroup placement fails after the fork).
// The proxy once returned from the spawn before the child's reap was set up and trusted that
// reap to free the request: a zombie, a CLI slot and the session leaked, and a graceful stop
// hung until SIGKILL. CLAUDE_PROXY_TEST_FAIL_PLACEMENT (test only) gates every child and fails
// its placement, the path a scope or cgroup error takes.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { assertErrorEnvelope, getJson, messageBody, missing, requireOrSkip, waitFor, withProxy } from './lib/harness.mjs';

requireOrSkip(missing());


async function post(proxy, body) {
  const res = await fetch(`${proxy.url}/v1/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    // A leaked slot would leave the next request queued for ever: fail clearly instead.
    signal: AbortSignal.timeout(15000),
  });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) };
}

describe('containment failure', () => {
  test('answered 500, and the child, its slot and the request are all released', async () => {
    const env = { CLAUDE_PROXY_TEST_FAIL_PLACEMENT: '1', MAX_CONCURRENT: '1', MAX_QUEUE: '4' };
    // withProxy's stop checks a clean exit 0 on SIGTERM: no request may be left hanging.
    await withProxy({ env }, async (proxy) => {
      // With one slot, each request only runs if the one before gave its slot back.
      for (const stream of [false, true, false]) {
        const r = await post(proxy, messageBody('hi', { stream }));
        assert.equal(r.status, 500, r.text);
        assertErrorEnvelope(r.json, 'api_error');
        assert.match(r.json.error.message, /contain/i);
      }
      await waitFor(() => proxy.children().length === 0, 5000, 'no CLI child (or zombie) left');
      assert.equal(proxy.fakeLogs().length, 0, 'a child that was never contained must never run');
      const h = await getJson(`${proxy.url}/health`);
      assert.equal(h.json.requests_in_flight, 0);
      assert.equal(h.json.queued, 0);
      const m = await fetch(`${proxy.url}/metrics`).then((x) => x.text());
      assert.match(m, /claude_proxy_errors_total\{class="scope"\} 3/);
    });
  });
});
