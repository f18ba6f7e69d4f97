// SPDX-License-Identifier: MIT
//
// Response headers and the small endpoints: request-id on every reply, the proxy's own errors
// included (401/404/405/413/529), an incoming x-request-id kept only when it is sane;
// x-proxy-unsupported on streaming and non-streaming replies; /v1/models/{id}; METRICS_AUTH.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import {
  assertErrorEnvelope, assertSseGrammar, getJson, groupEmpty, messageBody, missing, requireOrSkip, openRequest, openStream,
  parseSse, pidAlive, postJson, startProxy, waitFor, withProxy,
} from './lib/harness.mjs';

requireOrSkip(missing());

const KEY = 'proxy-key-headers';
const GENERATED = /^req_[0-9a-z]{20}$/;

// A raw request, so header values fetch() would refuse (spaces, quotes, non-ASCII) get through.
function rawRequest(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method, headers });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.end(body);
  });
}

describe('request-id', () => {
  let proxy;
  before(async () => {
    proxy = await startProxy({
      env: { REQUIRE_AUTH: 'true', PROXY_API_KEYS: KEY, MAX_BODY_BYTES: '4K', MAX_BODY_VALUES: '1000' },
    });
  });
  after(async () => { await proxy?.stop(); });

  const auth = { 'x-api-key': KEY };

  // Every reply the proxy makes itself, without a CLI answering.
  const ownReplies = [
    ['401 (no key)', 401, 'authentication_error', () => ({ method: 'POST', path: '/v1/messages', headers: {},
      body: JSON.stringify(messageBody('hi')) })],
    ['401 on /v1/models', 401, 'authentication_error', () => ({ method: 'GET', path: '/v1/models', headers: {} })],
    ['404 (no route)', 404, 'not_found_error', () => ({ method: 'GET', path: '/v2/nothing', headers: auth })],
    ['404 (unknown model id)', 404, 'not_found_error', () => ({ method: 'GET', path: '/v1/models/gpt-4o',
      headers: auth })],
    ['405', 405, 'invalid_request_error', () => ({ method: 'GET', path: '/v1/messages', headers: auth })],
    ['413', 413, 'request_too_large', () => ({ method: 'POST', path: '/v1/messages', headers: auth,
      body: JSON.stringify(messageBody('x'.repeat(8192))) })],
    ['413 (too many JSON values)', 413, 'request_too_large', () => ({ method: 'POST', path: '/v1/messages',
      headers: auth, body: JSON.stringify(messageBody('hi', { metadata: { pad: new Array(1200).fill(0) } })) })],
    ['400', 400, 'invalid_request_error', () => ({ method: 'POST', path: '/v1/messages', headers: auth,
      body: '{"model":' })],
  ];

  for (const [what, status, type, make] of ownReplies) {
    test(`${what}: a generated request-id, or the client's`, async () => {
      const { method, path, headers, body } = make();
      const hdrs = { 'content-type': 'application/json', ...headers };
      let r = await rawRequest(`${proxy.url}${path}`, { method, headers: hdrs, body });
      assert.equal(r.status, status, r.text);
      assertErrorEnvelope(r.json, type);
      assert.match(r.headers['request-id'] ?? '', GENERATED);

      r = await rawRequest(`${proxy.url}${path}`, { method, headers: { ...hdrs, 'x-request-id': 'client-id.1:a_b' },
        body });
      assert.equal(r.status, status, r.text);
      assert.equal(r.headers['request-id'], 'client-id.1:a_b');
    });
  }

  test('successful replies carry one too: /health, /metrics, /v1/models, /v1/messages (JSON and SSE)', async () => {
    for (const [method, path, body] of [['GET', '/health'], ['GET', '/metrics'], ['GET', '/v1/models'],
      ['GET', '/v1/models/claude-sonnet-4-6'], ['POST', '/v1/messages', JSON.stringify(messageBody('ok'))],
      ['POST', '/v1/messages', JSON.stringify(messageBody('ok', { stream: true }))]]) {
      const r = await rawRequest(`${proxy.url}${path}`, { method, body,
        headers: { 'content-type': 'application/json', ...auth } });
      assert.equal(r.status, 200, `${method} ${path}: ${r.text.slice(0, 300)}`);
      assert.match(r.headers['request-id'] ?? '', GENERATED, `${method} ${path}`);
    }
  });

  // Kept: letters, digits and -_.: up to 128 characters. Anything else gets a fresh id, so a
  // client cannot put arbitrary text into the logs and the journal fields.
  const sane = ['a', 'A-Z_0.9:x', 'r'.repeat(128), `req-${'0123456789'.repeat(10)}`];
  const insane = ['has space', 'quote"d', 'semi;colon', 'slash/ed', 'new%0Aline', 'ümlaut', 'r'.repeat(129),
    '<script>', 'tab\there'];

  for (const id of sane) {
    test(`x-request-id ${JSON.stringify(id.length > 20 ? `${id.slice(0, 12)}…(${id.length})` : id)} is kept`,
      async () => {
        for (const [method, path, body] of [['GET', '/v1/models', undefined],
          ['POST', '/v1/messages', JSON.stringify(messageBody(`keep ${id.length}`))]]) {
          const r = await rawRequest(`${proxy.url}${path}`, { method, body,
            headers: { 'content-type': 'application/json', 'x-request-id': id, ...auth } });
          assert.equal(r.status, 200, r.text);
          assert.equal(r.headers['request-id'], id, `${method} ${path}`);
        }
      });
  }

  for (const id of insane) {
    test(`x-request-id ${JSON.stringify(id.length > 20 ? `${id.slice(0, 12)}…(${id.length})` : id)} is replaced`,
      async () => {
        for (const [method, path, body] of [['GET', '/v1/models', undefined], ['GET', '/nowhere', undefined],
          ['POST', '/v1/messages', JSON.stringify(messageBody('replace'))]]) {
          const r = await rawRequest(`${proxy.url}${path}`, { method, body,
            headers: { 'content-type': 'application/json', 'x-request-id': Buffer.from(id, 'utf8').toString('latin1'),
              ...auth } });
          assert.match(r.headers['request-id'] ?? '', GENERATED, `${method} ${path}: ${r.headers['request-id']}`);
        }
      });
  }
});

describe('request-id on a 529', () => {
  const auth = { 'x-api-key': KEY };

  test('529 when the queue is full carries a request-id, generated or the client\'s', async () => {
    await withProxy({ env: { REQUIRE_AUTH: 'true', PROXY_API_KEYS: KEY, MAX_CONCURRENT: '1', MAX_QUEUE: '0' } },
      async (proxy) => {
        const url = `${proxy.url}/v1/messages`;
        // The slot stays taken until this client leaves: no race with a slow machine.
        const busy = openRequest(url, messageBody('hold the slot [[fake:text hang_after=4]]'), auth);
        try {
          const log = await proxy.waitFakeLogFor('hold the slot', (l) => l.state === 'replaying');
          for (const [surface, path, body] of [['Anthropic', '/v1/messages', messageBody('one too many')],
            ['OpenAI', '/v1/chat/completions',
              { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'one too many' }] }]]) {
            for (const id of [undefined, `overflow-${surface}`]) {
              const r = await rawRequest(`${proxy.url}${path}`, { method: 'POST', body: JSON.stringify(body),
                headers: { 'content-type': 'application/json', ...(id ? { 'x-request-id': id } : {}), ...auth } });
              assert.equal(r.status, 529, `${surface}: ${r.text}`);
              if (surface === 'Anthropic') assertErrorEnvelope(r.json, 'overloaded_error');
              else assert.equal(typeof r.json?.error?.message, 'string', r.text);
              if (id) assert.equal(r.headers['request-id'], id, surface);
              else assert.match(r.headers['request-id'] ?? '', GENERATED, surface);
            }
          }
          assert.ok(pidAlive(log.pid), 'the slot holder ended before the checks');
          busy.destroy();
          await waitFor(() => groupEmpty(log.pgid), 10000, 'the slot holder to be gone');
        } finally {
          busy.destroy();
        }
      });
  });
});

describe('x-proxy-unsupported', () => {
  let proxy;
  before(async () => { proxy = await startProxy(); });
  after(async () => { await proxy?.stop(); });

  const names = (h) => (h ?? '').split(/\s*,\s*/).filter(Boolean).sort();

  test('top_p and stop_sequences are accepted and named (non-streaming)', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`,
      messageBody('hi', { top_p: 0.5, stop_sequences: ['END'] }));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(names(r.headers.get('x-proxy-unsupported')), ['stop_sequences', 'top_p']);
  });

  test('all four are named on a streaming reply', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`,
      messageBody('hi', { stream: true, temperature: 0.2, top_p: 0.9, top_k: 5, stop_sequences: [] }));
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /text\/event-stream/);
    assert.deepEqual(names(r.headers.get('x-proxy-unsupported')), ['stop_sequences', 'temperature', 'top_k', 'top_p']);
    assertSseGrammar(parseSse(r.text));
  });

  test('named on a streaming reply before the CLI has said anything', async () => {
    const s = await openStream(`${proxy.url}/v1/messages`,
      messageBody('slow [[fake:text delay=50]]', { stream: true, top_p: 0.1 }));
    assert.equal(s.res.headers['x-proxy-unsupported'], 'top_p');
    await waitFor(() => s.ended, 10000, 'the end of the stream');
    assertSseGrammar(parseSse(s.text));
  });

  test('absent when none is given', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi', { stream: true }));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-proxy-unsupported'), null);
  });

  test('a wrongly typed one is a 400, not ignored', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi', { top_p: 'high' }));
    assert.equal(r.status, 400, r.text);
    assertErrorEnvelope(r.json, 'invalid_request_error');
  });
});

describe('/v1/models/{id}', () => {
  test('every listed model can be fetched by id; an unknown one is 404; a key is needed', async () => {
    await withProxy({ env: { REQUIRE_AUTH: 'true', PROXY_API_KEYS: KEY } }, async (proxy) => {
      const auth = { 'x-api-key': KEY };
      const list = await getJson(`${proxy.url}/v1/models`, auth);
      assert.equal(list.status, 200);
      assert.ok(list.json.data.length > 0);
      for (const m of list.json.data) {
        const r = await getJson(`${proxy.url}/v1/models/${encodeURIComponent(m.id)}`, auth);
        assert.equal(r.status, 200, `${m.id}: ${r.text}`);
        assert.deepEqual(r.json, m);
        assert.match(r.headers.get('request-id') ?? '', GENERATED);
      }
      const id = list.json.data[0].id;
      let r = await getJson(`${proxy.url}/v1/models/${id}`);
      assert.equal(r.status, 401);
      assertErrorEnvelope(r.json, 'authentication_error');
      r = await getJson(`${proxy.url}/v1/models/claude-nonexistent-9`, auth);
      assert.equal(r.status, 404);
      assertErrorEnvelope(r.json, 'not_found_error');
      assert.match(r.json.error.message, /claude-nonexistent-9/);
      r = await getJson(`${proxy.url}/v1/models/${id}/extra`, auth);
      assert.equal(r.status, 404);
    });
  });
});

describe('METRICS_AUTH', () => {
  test('false opens /metrics only; true (the default) needs a key', async () => {
    for (const [metricsAuth, open] of [['false', true], [null, false], ['true', false]]) {
      await withProxy({ env: { REQUIRE_AUTH: 'true', PROXY_API_KEYS: KEY, METRICS_AUTH: metricsAuth } },
        async (proxy) => {
          let r = await getJson(`${proxy.url}/metrics`);
          assert.equal(r.status, open ? 200 : 401, `METRICS_AUTH=${metricsAuth}: ${r.text.slice(0, 200)}`);
          if (open) assert.match(r.text, /^# (HELP|TYPE) /m);
          else assertErrorEnvelope(r.json, 'authentication_error');
          r = await getJson(`${proxy.url}/metrics`, { authorization: `Bearer ${KEY}` });
          assert.equal(r.status, 200);
          r = await getJson(`${proxy.url}/v1/models`);
          assert.equal(r.status, 401, 'METRICS_AUTH opened more than /metrics');
          r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi'));
          assert.equal(r.status, 401, 'METRICS_AUTH opened more than /metrics');
        });
    }
  });
});
