// SPDX-License-Identifier: MIT
//
// The HTTP surface around the CLI: authentication, body limits, routing, request validation,
// a missing CLI binary and /health.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import {
  FAKE_CLAUDE, assertErrorEnvelope, getJson, messageBody, missing, postJson, requireOrSkip, sdkClient,
  startProxy, withProxy,
} from './lib/harness.mjs';

requireOrSkip(missing({ sdk: true }));

// Send raw bytes and read until the server closes or `ms` pass; a reset is reported, not thrown.
function rawExchange(port, chunks, ms = 3000) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '', error = null;
    const done = () => { clearTimeout(t); s.destroy(); resolve({ data, error }); };
    const t = setTimeout(done, ms);
    s.on('data', (d) => {
      data += d.toString('latin1');
      // One full response is enough.
      const m = /content-length:\s*(\d+)/i.exec(data);
      const h = data.indexOf('\r\n\r\n');
      if (m && h >= 0 && data.length - h - 4 >= Number(m[1])) done();
    });
    s.on('error', (e) => { error = e.code; done(); });
    s.on('close', done);
    s.on('connect', async () => {
      for (const c of chunks) {
        if (s.destroyed) break;
        s.write(c);
      }
    });
  });
}

function parseRaw(data) {
  const h = data.indexOf('\r\n\r\n');
  const head = data.slice(0, h);
  const status = Number(head.split(' ')[1]);
  let json = null;
  try { json = JSON.parse(data.slice(h + 4)); } catch { /* none */ }
  return { status, head, json };
}

describe('authentication', () => {
  let proxy;
  before(async () => {
    proxy = await startProxy({ env: { REQUIRE_AUTH: 'true', PROXY_API_KEYS: 'key-one, key-two' } });
  });
  after(async () => { await proxy?.stop(); });

  test('x-api-key with a configured key', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi'), { 'x-api-key': 'key-one' });
    assert.equal(r.status, 200, r.text);
  });

  test('Authorization: Bearer with the second key (trimmed)', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi'), { authorization: 'Bearer key-two' });
    assert.equal(r.status, 200, r.text);
  });

  test('the SDK authenticates with x-api-key', async () => {
    const { client } = await sdkClient(proxy, { apiKey: 'key-one' });
    const m = await client.messages.create(messageBody('hi'));
    assert.equal(m.type, 'message');
  });

  test('a wrong key is 401 in the Anthropic envelope', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi unauthenticated-run'),
      { 'x-api-key': 'key-three' });
    assert.equal(r.status, 401);
    assertErrorEnvelope(r.json, 'authentication_error');
    assert.ok(!proxy.fakeLogs().some((l) => JSON.stringify(l.stdin).includes('unauthenticated-run')),
      'a CLI ran for an unauthenticated request');
  });

  test('no key is 401', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi'));
    assert.equal(r.status, 401);
    assertErrorEnvelope(r.json, 'authentication_error');
  });

  test('a key prefix is not a key', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi'), { 'x-api-key': 'key-on' });
    assert.equal(r.status, 401);
  });

  test('the SDK maps 401 to AuthenticationError', async () => {
    const { client, sdk } = await sdkClient(proxy, { apiKey: 'nope' });
    await assert.rejects(client.messages.create(messageBody('hi')), sdk.AuthenticationError);
  });

  test('/health needs no key', async () => {
    const r = await getJson(`${proxy.url}/health`);
    assert.equal(r.status, 200, r.text);
  });
});

describe('routing, limits and validation', () => {
  let proxy;
  before(async () => { proxy = await startProxy({ env: { MAX_BODY_BYTES: '8192' } }); });
  after(async () => { await proxy?.stop(); });

  test('unknown route is 404', async () => {
    const r = await getJson(`${proxy.url}/v1/nope`);
    assert.equal(r.status, 404);
    const type = r.json?.error?.type;
    assert.equal(type, 'not_found_error', r.text);
  });

  test('wrong method on /v1/messages is 405 in the Anthropic envelope', async () => {
    const r = await getJson(`${proxy.url}/v1/messages`);
    assert.equal(r.status, 405);
    assertErrorEnvelope(r.json);
  });

  test('invalid JSON is 400', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, '{"model": ');
    assert.equal(r.status, 400);
    assertErrorEnvelope(r.json, 'invalid_request_error');
  });

  test('an empty body is 400', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, '');
    assert.equal(r.status, 400);
    assertErrorEnvelope(r.json, 'invalid_request_error');
  });

  test('a JSON array body is 400', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, '[]');
    assert.equal(r.status, 400);
    assertErrorEnvelope(r.json, 'invalid_request_error');
  });

  for (const [what, body, re] of [
    ['model missing', { max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }, /model/],
    ['messages empty', { model: 'sonnet', max_tokens: 10, messages: [] }, /messages/],
    ['messages not an array', { model: 'sonnet', max_tokens: 10, messages: 'hi' }, /messages/],
    ['max_tokens missing', { model: 'sonnet', messages: [{ role: 'user', content: 'hi' }] }, /max_tokens/],
    ['bad role', { model: 'sonnet', max_tokens: 10, messages: [{ role: 'wizard', content: 'hi' }] }, /role/],
    ['last message from the assistant', {
      model: 'sonnet', max_tokens: 10,
      messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'prefill' }],
    }, /./],
  ]) {
    test(`validation: ${what} is 400`, async () => {
      proxy.clearFakeLogs();
      const r = await postJson(`${proxy.url}/v1/messages`, body);
      assert.equal(r.status, 400, r.text);
      assertErrorEnvelope(r.json, 'invalid_request_error');
      assert.match(r.json.error.message, re);
      assert.equal(proxy.servedLogs().length, 0, 'no CLI run for an invalid request');
    });
  }

  test('a body over MAX_BODY_BYTES (content-length) is answered 413, not reset', async () => {
    const big = JSON.stringify(messageBody('x'.repeat(64 * 1024)));
    const { data, error } = await rawExchange(proxy.port, [
      `POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n`,
      big,
    ]);
    assert.ok(data.length > 0, `no answer (socket error ${error})`);
    const r = parseRaw(data);
    assert.equal(r.status, 413, data.slice(0, 500));
    assertErrorEnvelope(r.json, 'request_too_large');
  });

  test('a chunked body over MAX_BODY_BYTES is answered 413', async () => {
    const chunk = 'y'.repeat(4000);
    const parts = [`POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`];
    for (let i = 0; i < 8; i++) parts.push(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    parts.push('0\r\n\r\n');
    const { data, error } = await rawExchange(proxy.port, parts);
    assert.ok(data.length > 0, `no answer (socket error ${error})`);
    const r = parseRaw(data);
    assert.equal(r.status, 413, data.slice(0, 500));
    assertErrorEnvelope(r.json, 'request_too_large');
  });

  test('fetch with a big body gets the 413 response', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('z'.repeat(100 * 1024)));
    assert.equal(r.status, 413);
    assertErrorEnvelope(r.json, 'request_too_large');
  });

  test('a body under the limit still works afterwards', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi'));
    assert.equal(r.status, 200, r.text);
  });
});

describe('/health', () => {
  test('reports status, version, CLI, load and uptime', async () => {
    const t0 = Date.now();
    await withProxy({}, async (proxy) => {
      const r = await getJson(`${proxy.url}/health`);
      assert.equal(r.status, 200, r.text);
      const h = r.json;
      assert.equal(h.status, 'ok', r.text);
      assert.match(h.version, /^\d+\.\d+\.\d+/);
      assert.equal(h.cli.path, FAKE_CLAUDE);
      assert.equal(h.cli.version, '2.1.197 (Claude Code)');
      assert.equal(h.cli.available, true);
      assert.equal(h.requests_in_flight, 0);
      assert.equal(h.queued, 0);
      assert.equal(typeof h.uptime_seconds, 'number');
      assert.ok(h.uptime_seconds >= 0 && h.uptime_seconds <= (Date.now() - t0) / 1000 + 1, r.text);

      // requests_in_flight counts a running request.
      const slow = postJson(`${proxy.url}/v1/messages`, messageBody('hi [[fake:text delay=150]]'));
      await proxy.waitFakeLog((l) => l.state === 'replaying');
      const busy = await getJson(`${proxy.url}/health`);
      assert.equal(busy.json.requests_in_flight, 1, busy.text);
      assert.equal((await slow).status, 200);
      // It counts: a constant would pass the bounds above.
      await proxy.waitHealth((h) => h.uptime_seconds >= 2, 10000,
        'uptime_seconds to reach 2');
      assert.ok((await getJson(`${proxy.url}/health`)).json.uptime_seconds <= (Date.now() - t0) / 1000 + 1);
    });
  });
});

describe('CLI missing', () => {
  test('a missing CLAUDE_PATH answers 503 with a fix hint', async () => {
    await withProxy({ claudePath: '/nonexistent/bin/claude' }, async (proxy) => {
      const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi'));
      assert.equal(r.status, 503, r.text);
      assertErrorEnvelope(r.json);
      assert.match(r.json.error.message, /CLAUDE_PATH/);
      const h = await getJson(`${proxy.url}/health`);
      assert.notEqual(h.json?.status, 'ok', `health must not say ok: ${h.text}`);
    });
  });
});
