// SPDX-License-Identifier: MIT
//
// POST /v1/messages/count_tokens through the fake CLI: the conversation goes to a CLI as history
// only (every user line shouldQuery:false, so no model call), get_context_usage is asked before
// (the baseline, once per model) and after it, and the reply is the difference, with
// `x-proxy-token-count: derived`. The fake answers get_context_usage with the recorded answer of
// an idle CLI (tests/data/transcripts/s5a_get_context_usage_session_cost) grown by the history's
// bytes / 4. Errors: Messages rules (a final assistant turn is a 400), a CLI that cannot count is
// a 502 saying `unavailable`, never a made-up figure.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertErrorEnvelope, missing, openRequest, postJson, requireOrSkip, sdkClient, startProxy, TEST_MODEL, waitFor,
  withProxy,
} from './lib/harness.mjs';

requireOrSkip(missing({ sdk: true }));

const body = (messages, extra = {}) => ({ model: TEST_MODEL, messages, ...extra });
const user = (text) => ({ role: 'user', content: text });

// The get_context_usage requests and user lines every fake CLI got.
function usageAsks(proxy) {
  return proxy.fakeLogs().flatMap((l) => l.stdin)
    .filter((x) => x && x.type === 'control_request' && x.request?.subtype === 'get_context_usage').length;
}

describe('count_tokens over the fake CLI', () => {
  let proxy;
  before(async () => { proxy = await startProxy(); });
  after(async () => { await proxy?.stop(); });
  const count = (b) => postJson(`${proxy.url}/v1/messages/count_tokens`, b);

  test('a count, derived, growing with the conversation, and never a model call', async () => {
    const small = await count(body([user('Hello there [ct-small]')]));
    assert.equal(small.status, 200, small.text);
    assert.equal(small.headers.get('x-proxy-token-count'), 'derived');
    assert.match(small.headers.get('request-id') ?? '', /\S/);
    assert.deepEqual(Object.keys(small.json), ['input_tokens']);
    assert.ok(Number.isInteger(small.json.input_tokens) && small.json.input_tokens > 0, small.text);

    const big = await count(body([user('Hello there [ct-big] ' + 'word '.repeat(400))]));
    assert.equal(big.status, 200, big.text);
    assert.ok(big.json.input_tokens > small.json.input_tokens + 400, `${big.json.input_tokens} vs ${small.json.input_tokens}`);

    const turns = await count(body([user('Hello there [ct-turns] ' + 'word '.repeat(400)),
      { role: 'assistant', content: 'An answer. '.repeat(50) }, user('And more.')]));
    assert.ok(turns.json.input_tokens > big.json.input_tokens, `${turns.json.input_tokens} vs ${big.json.input_tokens}`);

    // Every user line the CLIs got was history: nothing asked the model, nothing was replayed.
    for (const marker of ['ct-small', 'ct-big', 'ct-turns']) {
      const log = await proxy.waitFakeLogFor(marker, () => true);
      const users = log.stdin.filter((x) => x && x.type === 'user');
      assert.ok(users.length > 0);
      for (const u of users) assert.equal(u.shouldQuery, false, JSON.stringify(u).slice(0, 200));
      assert.equal(log.transcript, undefined, 'a transcript was replayed: the model was asked');
    }
  });

  test('the baseline is measured once per model, then cached', async () => {
    const before_ = usageAsks(proxy);
    const r = await count(body([user('cache check [ct-cache]')]));
    assert.equal(r.status, 200, r.text);
    // One get_context_usage: the model's baseline was measured by an earlier count.
    await waitFor(() => usageAsks(proxy) === before_ + 1, 10000, 'one more get_context_usage');
    const other = await count(body([user('other model [ct-model]')], { model: 'claude-haiku-4-5' }));
    assert.equal(other.status, 200, other.text);
    await waitFor(() => usageAsks(proxy) === before_ + 3, 10000, 'baseline + count for a new model');
  });

  test('the Anthropic SDK counts', async () => {
    const { client } = await sdkClient(proxy);
    const r = await client.messages.countTokens(body([user('Through the SDK')], { system: 'Be brief.' }));
    assert.ok(r.input_tokens > 0);
    const more = await client.messages.countTokens(body([user('Through the SDK')], { system: 'Be brief. '.repeat(100) }));
    assert.ok(more.input_tokens > r.input_tokens, 'the system text is counted');
  });

  test('Messages rules: a final assistant turn, bad JSON, no messages are 400s', async () => {
    let r = await count(body([user('a'), { role: 'assistant', content: 'b' }]));
    assert.equal(r.status, 400);
    assertErrorEnvelope(r.json, 'invalid_request_error');
    assert.match(r.json.error.message, /assistant/);
    assert.equal(r.headers.get('x-proxy-token-count'), null);
    r = await count(body([]));
    assert.equal(r.status, 400);
    const res = await fetch(`${proxy.url}/v1/messages/count_tokens`, { method: 'POST', body: '{"model":' });
    assert.equal(res.status, 400);
    assertErrorEnvelope(await res.json(), 'invalid_request_error');
    const get = await fetch(`${proxy.url}/v1/messages/count_tokens`);
    assert.equal(get.status, 405);
  });

  test('a CLI that cannot count: 502, unavailable, no figure', async () => {
    const r = await count(body([user('please fail [[fake-usage:error]]')]));
    assert.equal(r.status, 502, r.text);
    assertErrorEnvelope(r.json, 'api_error');
    assert.equal(r.headers.get('x-proxy-token-count'), 'unavailable');
    assert.match(r.json.error.message, /Failed to count tokens/);
    assert.equal(r.json.input_tokens, undefined);
  });

  test('the count\'s CLI goes: only the idle pool is left', async () => {
    await waitFor(() => proxy.onlyPoolLeft(), 15000, 'the count CLIs to be reaped');
  });
});

test('WARM_POOL=0 counts on a spawned CLI; a key is needed', async () => {
  await withProxy({ env: { WARM_POOL: '0', REQUIRE_AUTH: 'true', PROXY_API_KEYS: 'sk-k' } }, async (proxy) => {
    const url = `${proxy.url}/v1/messages/count_tokens`;
    let r = await postJson(url, body([user('hi')]));
    assert.equal(r.status, 401);
    assertErrorEnvelope(r.json, 'authentication_error');
    r = await postJson(url, body([user('hi')]), { 'x-api-key': 'sk-k' });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.input_tokens > 0);
    await waitFor(() => proxy.children().length === 0, 15000, 'no child left');
  });
});

// The fake leaves get_context_usage unanswered for a history holding [[fake-usage:hang]].
const hanging = (marker) => body([user(`count me [[fake-usage:hang]] ${marker}`)]);

test('a client that leaves during a count: its CLI is ended at once', async () => {
  await withProxy({ env: { WARM_POOL: '0' } }, async (proxy) => {
    const req = openRequest(`${proxy.url}/v1/messages/count_tokens`, hanging('ct-gone'));
    const log = await proxy.waitFakeLogFor('ct-gone', () => true, 10000);
    await waitFor(() => proxy.children().includes(log.pid), 10000, 'the count CLI to run');
    req.destroy();
    await waitFor(() => proxy.children().length === 0, 10000, 'the count CLI to be ended');
    // The log line comes over a pipe: it may arrive after the reap shows in /proc.
    await waitFor(() => /the client left, ending its count/.test(proxy.stderrText), 5000, 'the log line');
  });
});

test('SIGTERM during a count: a 503 at once, a clean exit', async () => {
  const proxy = await startProxy({ env: { WARM_POOL: '0' } });
  try {
    const pending = postJson(`${proxy.url}/v1/messages/count_tokens`, hanging('ct-stop'));
    const log = await proxy.waitFakeLogFor('ct-stop', () => true, 10000);
    await waitFor(() => proxy.children().includes(log.pid), 10000, 'the count CLI to run');
    proxy.child.kill('SIGTERM');
    const r = await pending;
    assert.equal(r.status, 503, r.text);
    assertErrorEnvelope(r.json, 'api_error');
    assert.equal(r.headers.get('x-proxy-token-count'), 'unavailable');
    assert.deepEqual(await proxy.exitPromise, { code: 0, signal: null }, proxy.stderrText.slice(-3000));
  } finally {
    await proxy.stop({ check: false });
  }
});
