// SPDX-License-Identifier: MIT
//
// The bad-input catalogue, HTTP-level half: what a client can get wrong in the request line and
// head, the framing (Content-Length, chunked, Expect), the connection (early close at every
// phase, pipelining, keep-alive after errors, slowloris) and authentication. Raw sockets, since
// no HTTP client library sends most of this.
//
// Every case asserts one of two outcomes: an answer in the Anthropic envelope (JSON
// {"type":"error","error":{"type","message"}}, content-type application/json) with the expected
// status, or, where no answer is possible, that the connection is gone. Then whether the
// connection is closed (promptly: bounded, never "as long as the client stays") or still serves a
// follow-up request. After each case the daemon is alive, answers /health and has no child left.
//
// Several answers come from libevent's parser (a malformed head, an oversized or corrupt body),
// which would write HTML; http/libevent-replies.c puts them in our envelope. Those cases are the
// ones that go red if that mechanism stops working.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { missing, requireOrSkip, pidAlive, sleep, startProxy, waitFor } from './lib/harness.mjs';

requireOrSkip(missing());

const KEY = 'sk-catalogue-key';
const MAX_BODY = 65536;          // MAX_BODY_BYTES for this proxy; evhttp's hard cap is 2x + 1 MiB
const HARD_CAP = MAX_BODY * 2 + (1 << 20);
const CLOSE_BOUND_MS = 5000;     // "promptly": the linger is 2 s; generous for a loaded CI

// ---- a raw HTTP/1.x client ------------------------------------------------------------------

// Parse as many complete responses as `buf` holds. A response without Content-Length ends at
// the close (`eof`). HEAD responses have no body whatever Content-Length says.
function parseResponses(buf, eof, headFlags = []) {
  const out = [];
  let off = 0;
  for (;;) {
    const h = buf.indexOf('\r\n\r\n', off, 'latin1');
    if (h < 0) break;
    const head = buf.subarray(off, h).toString('latin1');
    const [statusLine, ...lines] = head.split('\r\n');
    const headers = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const status = Number(statusLine.split(' ')[1]);
    const isHead = headFlags[out.length] === true;
    let end;
    if (isHead) end = h + 4;
    else if (headers['content-length'] !== undefined) end = h + 4 + Number(headers['content-length']);
    else if (eof) end = buf.length;
    else break;
    if (end > buf.length) break;
    const body = buf.subarray(h + 4, end).toString('utf8');
    let json = null;
    try { json = JSON.parse(body); } catch { /* not JSON */ }
    out.push({ statusLine, status, headers, body, json });
    off = end;
    if (isHead && !eof && off === buf.length) continue;
  }
  return out;
}

class Raw {
  constructor(port) {
    this.port = port;
    this.buf = Buffer.alloc(0);
    this.ended = false;     // FIN or close from the server
    this.error = null;      // ECONNRESET and the like
    this.endedAt = 0;
    this.headFlags = [];
  }

  connect() {
    return new Promise((resolve, reject) => {
      this.sock = net.connect(this.port, '127.0.0.1', resolve);
      this.sock.once('error', reject);
      this.sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); });
      this.sock.on('end', () => { this.markEnd(); });
      this.sock.on('close', () => { this.markEnd(); });
      this.sock.on('error', (e) => { this.error = e.code; this.markEnd(); });
    }).then(() => this);
  }

  markEnd() {
    if (!this.ended) {
      this.ended = true;
      this.endedAt = Date.now();
    }
  }

  // Write, ignoring a write after the server closed (that is the server's right).
  send(data) {
    if (!this.sock.destroyed && this.sock.writable) this.sock.write(data);
  }

  responses() {
    return parseResponses(this.buf, this.ended, this.headFlags);
  }

  async waitResponses(n, ms = 5000) {
    await waitFor(() => this.responses().length >= n || (this.ended && this.responses().length < n), ms,
      `${n} response(s); got ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`);
    const r = this.responses();
    assert.ok(r.length >= n,
      `expected ${n} response(s) before the close, got ${r.length}: ${JSON.stringify(this.buf.toString('latin1').slice(0, 400))} (${this.error ?? 'FIN'})`);
    return r;
  }

  async waitEnd(ms = CLOSE_BOUND_MS) {
    const start = Date.now();
    await waitFor(() => this.ended, ms, 'the server to close the connection');
    return Date.now() - start;
  }

  destroy() {
    this.sock?.destroy();
  }
}

async function open(proxy) {
  return new Raw(proxy.port).connect();
}

function assertEnvelope(res, status, type) {
  assert.equal(res.status, status, `status: ${res.statusLine}\n${res.body}`);
  assert.match(res.statusLine, /^HTTP\/1\.[01] /, 'status line');
  assert.match(res.headers['content-type'] ?? '', /^application\/json/, `content-type of ${res.statusLine}: ${res.body}`);
  assert.equal(res.json?.type, 'error', `not our envelope: ${res.body}`);
  assert.equal(typeof res.json.error?.message, 'string');
  assert.ok(res.json.error.message.length > 0, 'empty message');
  if (type) assert.equal(res.json.error.type, type, res.body);
}

const GET_HEALTH = 'GET /health HTTP/1.1\r\nHost: t\r\n\r\n';

// One request on a fresh connection; expects one error answer, then either a prompt close
// (`close: true`) or a connection that still serves GET /health (`close: false`).
async function expectAnswer(proxy, bytes, { status, type, close }) {
  const c = await open(proxy);
  try {
    for (const b of [].concat(bytes)) c.send(b);
    const [res] = await c.waitResponses(1);
    assertEnvelope(res, status, type);
    if (close === true) {
      await c.waitEnd();
      assert.match(res.headers.connection ?? '', /close/i, 'a reply before a close says Connection: close');
    } else if (close === false) {
      assert.ok(!c.ended, 'connection closed after a reply that keeps it');
      c.send(GET_HEALTH);
      const r = await c.waitResponses(2);
      assert.equal(r[1].status, 200, `follow-up on the same connection: ${r[1].statusLine}`);
    }
    return res;
  } finally {
    c.destroy();
  }
}

// Where no answer is possible: the connection must be closed, promptly.
async function expectClose(proxy, bytes) {
  const c = await open(proxy);
  try {
    for (const b of [].concat(bytes)) c.send(b);
    await c.waitEnd();
    const r = c.responses();
    for (const res of r) assertEnvelope(res, res.status);
  } finally {
    c.destroy();
  }
}

function req(method, path, headers = {}, body = '', version = 'HTTP/1.1') {
  let h = `${method} ${path} ${version}\r\nHost: t\r\n`;
  for (const [k, v] of Object.entries(headers)) h += `${k}: ${v}\r\n`;
  return `${h}\r\n${body}`;
}

const authed = { 'x-api-key': KEY };

// ---- the catalogue ----------------------------------------------------------------------------

describe('HTTP bad-input catalogue', () => {
  let proxy;
  before(async () => {
    proxy = await startProxy({
      env: { REQUIRE_AUTH: 'true', PROXY_API_KEYS: KEY, MAX_BODY_BYTES: String(MAX_BODY), LOG_LEVEL: 'info' },
    });
  });
  after(async () => { await proxy?.stop(); });

  // After every case: alive, healthy, and nothing left running.
  async function healthy() {
    assert.ok(pidAlive(proxy.pid), 'the proxy died');
    const res = await fetch(`${proxy.url}/health`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    await res.text();
    await waitFor(() => proxy.onlyPoolLeft(), 5000, 'no CLI child left but the idle pool');
  }

  function tcase(name, fn) {
    test(name, async () => {
      await fn();
      await healthy();
    });
  }

  // -- methods
  tcase('unknown method: 404 on an unknown path, connection kept', () =>
    expectAnswer(proxy, req('FOO', '/'), { status: 404, type: 'not_found_error', close: false }));
  tcase('unknown method on a known path: 405', async () => {
    const r = await expectAnswer(proxy, req('FOO', '/v1/messages'), { status: 405, type: 'invalid_request_error', close: false });
    assert.ok(r.headers.allow, 'Allow header');
  });
  tcase('lower-case method is a different method: 405', () =>
    expectAnswer(proxy, req('get', '/health'), { status: 405, close: false }));
  tcase('TRACE: 405, not echoed', async () => {
    const r = await expectAnswer(proxy, req('TRACE', '/health', { 'X-Secret': 'do-not-echo' }), { status: 405, close: false });
    assert.ok(!r.body.includes('do-not-echo'));
  });
  tcase('CONNECT with Connection: close: 405 and closed at once', () =>
    expectAnswer(proxy, req('CONNECT', 'example.com:443', { Connection: 'close' }), { status: 405, close: true }));
  tcase('CONNECT keep-alive: 405 and closed anyway (never a tunnel)', () =>
    expectAnswer(proxy, req('CONNECT', 'example.com:443'), { status: 405, close: true }));
  tcase('DELETE /v1/messages: 405 with Allow', async () => {
    const r = await expectAnswer(proxy, req('DELETE', '/v1/messages', authed), { status: 405, close: false });
    assert.equal(r.headers.allow, 'GET, POST');
  });
  tcase('GET /v1/messages: 405', () =>
    expectAnswer(proxy, req('GET', '/v1/messages', authed), { status: 405, close: false }));
  tcase('OPTIONS *: 404', () => expectAnswer(proxy, req('OPTIONS', '*'), { status: 404, close: false }));
  tcase('HEAD on an unknown path: status and length, no body on the wire', async () => {
    const c = await open(proxy);
    try {
      c.headFlags = [true, false];
      c.send(req('HEAD', '/nope') + GET_HEALTH);
      const r = await c.waitResponses(2);
      assert.equal(r[0].status, 404);
      assert.ok(Number(r[0].headers['content-length']) > 0, 'HEAD announces the GET length');
      assert.equal(r[1].status, 200, `the next response is intact: ${r[1].statusLine}`);
    } finally { c.destroy(); }
  });

  // -- paths
  tcase('unknown path: 404', () => expectAnswer(proxy, req('GET', '/nope'), { status: 404, type: 'not_found_error', close: false }));
  tcase('empty model id: 404', () =>
    expectAnswer(proxy, req('GET', '/v1/models/', authed), { status: 404, close: false }));
  tcase('encoded NUL in the path: 404', () => expectAnswer(proxy, req('GET', '/%00'), { status: 404, close: false }));
  tcase('dot segments: 404', () => expectAnswer(proxy, req('GET', '/v1/../health/../../etc/passwd'), { status: 404, close: false }));
  tcase('8 KB path: 404, message bounded', async () => {
    const r = await expectAnswer(proxy, req('GET', '/' + 'a'.repeat(8192)), { status: 404, close: false });
    assert.ok(r.body.length < 2048, `message length ${r.body.length}`);
  });
  tcase('path over the head limit: 400 (libevent) in our envelope, closed', () =>
    expectAnswer(proxy, req('GET', '/' + 'a'.repeat(70 * 1024)), { status: 400, close: true }));

  // -- versions
  tcase('HTTP/1.0: answered and closed', async () => {
    const c = await open(proxy);
    try {
      c.send('GET /health HTTP/1.0\r\n\r\n');
      const [r] = await c.waitResponses(1);
      assert.equal(r.status, 200);
      await c.waitEnd();
    } finally { c.destroy(); }
  });
  tcase('HTTP/1.0 keep-alive: a second request on the connection', async () => {
    const c = await open(proxy);
    try {
      c.send('GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
      await c.waitResponses(1);
      c.send('GET /nope HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
      const r = await c.waitResponses(2);
      assertEnvelope(r[1], 404);
    } finally { c.destroy(); }
  });
  tcase('HTTP/0.9 simple request: 400 in our envelope, closed', () =>
    expectAnswer(proxy, 'GET /health\r\n', { status: 400, close: true }));
  tcase('HTTP/2 preface: 400, closed', () =>
    expectAnswer(proxy, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', { status: 400, close: true }));
  tcase('HTTP/1.2: 505, closed', async () => {
    const r = await expectAnswer(proxy, req('GET', '/health', {}, '', 'HTTP/1.2'), { status: 505, close: true });
    assert.match(r.statusLine, /^HTTP\/1\.1 505/);
  });
  tcase('garbage request line: 400, closed', () =>
    expectAnswer(proxy, '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello?\r\n\r\n', { status: 400, close: true }));

  // -- header sizes, counts, syntax
  tcase('a 100 KB header: 400, closed', () =>
    expectAnswer(proxy, req('GET', '/health', { 'X-Big': 'b'.repeat(100 * 1024) }), { status: 400, close: true }));
  tcase('5,000 small headers: 431, closed', () => {
    let h = 'GET /health HTTP/1.1\r\nHost: t\r\n';
    for (let i = 0; i < 5000; i++) h += 'X: 1\r\n';
    return expectAnswer(proxy, h + '\r\n', { status: 431, close: true });
  });
  tcase('5,000 headers past the size limit: 400, closed', () => {
    let h = 'GET /health HTTP/1.1\r\nHost: t\r\n';
    for (let i = 0; i < 5000; i++) h += `X-Header-${i}: value-${i}\r\n`;
    return expectAnswer(proxy, h + '\r\n', { status: 400, close: true });
  });
  tcase('99 headers are fine', async () => {
    const c = await open(proxy);
    try {
      let h = 'GET /health HTTP/1.1\r\nHost: t\r\n';
      for (let i = 0; i < 98; i++) h += `X-${i}: v\r\n`;
      c.send(h + '\r\n');
      const [r] = await c.waitResponses(1);
      assert.equal(r.status, 200);
    } finally { c.destroy(); }
  });
  tcase('header line without a colon: 400, closed', () =>
    expectAnswer(proxy, 'GET /health HTTP/1.1\r\nHost: t\r\nnot a header\r\n\r\n', { status: 400, close: true }));
  tcase('space before the colon: 400, closed', () =>
    expectAnswer(proxy, 'GET /health HTTP/1.1\r\nHost : t\r\n\r\n', { status: 400, close: true }));
  tcase('control character in a value: 400, closed', () =>
    expectAnswer(proxy, req('GET', '/health', { 'X-Esc': '\x1b[31mred' }), { status: 400, close: true }));
  tcase('NUL in a header name: 400, closed', () =>
    expectAnswer(proxy, 'GET /health HTTP/1.1\r\nHost: t\r\nX-A\0b: c\r\n\r\n', { status: 400, close: true }));

  // -- slowloris
  tcase('50 half-sent heads do not stop others from being served', async () => {
    const slow = [];
    try {
      for (let i = 0; i < 50; i++) {
        const c = await open(proxy);
        c.send('GET /health HTTP/1.1\r\nHost: t\r\nX-Slow: ');
        slow.push(c);
      }
      const t0 = Date.now();
      const res = await fetch(`${proxy.url}/health`, { signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 200);
      await res.text();
      assert.ok(Date.now() - t0 < 5000);
      for (const c of slow) c.send('a');
      assert.ok(slow.every((c) => !c.ended), 'a slow client is not an error');
    } finally {
      for (const c of slow) c.destroy();
    }
  });
  tcase('a head trickled byte by byte is served', async () => {
    const c = await open(proxy);
    try {
      for (const ch of GET_HEALTH) { c.send(ch); await sleep(2); }
      const [r] = await c.waitResponses(1);
      assert.equal(r.status, 200);
    } finally { c.destroy(); }
  });

  // -- Content-Length abuse
  for (const cl of ['99999999999999999999', '18446744073709551616', '9223372036854775807']) {
    tcase(`Content-Length ${cl}: 413 and closed promptly while the client keeps sending`, async () => {
      const c = await open(proxy);
      try {
        c.send(req('POST', '/v1/messages', { ...authed, 'Content-Type': 'application/json', 'Content-Length': cl }, '{"a":'));
        const [r] = await c.waitResponses(1);
        assertEnvelope(r, 413, 'request_too_large');
        const pump = setInterval(() => c.send('x'.repeat(16384)), 5);
        try { await c.waitEnd(); } finally { clearInterval(pump); }
      } finally { c.destroy(); }
    });
  }
  tcase('100 MB announced, 2 MB sent, client stays: 413, closed within the bound', async () => {
    const c = await open(proxy);
    try {
      c.send(req('POST', '/v1/messages', { ...authed, 'Content-Length': String(100 << 20) }));
      c.send(Buffer.alloc(2 << 20, 0x61));
      const [r] = await c.waitResponses(1);
      assertEnvelope(r, 413, 'request_too_large');
      await c.waitEnd();
    } finally { c.destroy(); }
  });
  tcase('body over the hard cap with Expect: 100-continue: 413 before any body', () =>
    expectAnswer(proxy, req('POST', '/v1/messages', { ...authed, Expect: '100-continue', 'Content-Length': String(HARD_CAP + 1) }),
      { status: 413, type: 'request_too_large', close: true }));
  tcase('Expect other than 100-continue: 417', () =>
    expectAnswer(proxy, req('POST', '/v1/messages', { ...authed, Expect: 'teapot', 'Content-Length': '2' }, '{}'),
      { status: 417, close: true }));
  tcase('negative Content-Length: 400, closed', () =>
    expectAnswer(proxy, req('POST', '/v1/messages', { ...authed, 'Content-Length': '-1' }, '{}'), { status: 400, close: true }));
  tcase('non-numeric Content-Length: 400, closed', () =>
    expectAnswer(proxy, req('POST', '/v1/messages', { ...authed, 'Content-Length': '12abc' }, '{}'), { status: 400, close: true }));
  tcase('two Content-Length headers: 400, closed', () =>
    expectAnswer(proxy, 'POST /v1/messages HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}',
      { status: 400, close: true }));

  // -- Transfer-Encoding and chunked abuse
  const chunkedHead = req('POST', '/v1/messages', { ...authed, 'Transfer-Encoding': 'chunked' });
  tcase('invalid chunk size: 400 (not 413), closed', () =>
    expectAnswer(proxy, chunkedHead + 'zz\r\n{}\r\n0\r\n\r\n', { status: 400, close: true }));
  tcase('negative chunk size: 400, closed', () =>
    expectAnswer(proxy, chunkedHead + '-2\r\n{}\r\n0\r\n\r\n', { status: 400, close: true }));
  tcase('overflowing chunk size: 400, closed', () =>
    expectAnswer(proxy, chunkedHead + 'ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n', { status: 400, close: true }));
  tcase('chunks past the hard cap: refused and closed promptly', async () => {
    const c = await open(proxy);
    try {
      c.send(chunkedHead);
      const chunk = Buffer.concat([Buffer.from('40000\r\n'), Buffer.alloc(0x40000, 0x61), Buffer.from('\r\n')]);
      for (let i = 0; i < 8; i++) c.send(chunk);
      const [r] = await c.waitResponses(1);
      assert.ok(r.status === 400 || r.status === 413, r.statusLine);
      assertEnvelope(r, r.status);
      await c.waitEnd();
    } finally { c.destroy(); }
  });
  tcase('Transfer-Encoding: gzip, chunked: 400 (not decoded, not ignored)', () =>
    expectAnswer(proxy, req('POST', '/v1/messages', { ...authed, 'Transfer-Encoding': 'gzip, chunked' }, '2\r\n{}\r\n0\r\n\r\n'),
      { status: 400, close: true }));
  tcase('Transfer-Encoding: gzip: 400', () =>
    expectAnswer(proxy, req('POST', '/v1/messages', { ...authed, 'Transfer-Encoding': 'gzip', 'Content-Length': '2' }, '{}'),
      { status: 400, close: true }));
  tcase('Transfer-Encoding and Content-Length together: 400', () =>
    expectAnswer(proxy, req('POST', '/v1/messages', { ...authed, 'Transfer-Encoding': 'chunked', 'Content-Length': '7' }, '2\r\n{}\r\n0\r\n\r\n'),
      { status: 400, close: true }));
  tcase('Content-Encoding: gzip: 415', () =>
    expectAnswer(proxy, req('POST', '/v1/messages', { ...authed, 'Content-Encoding': 'gzip', 'Content-Length': '2' }, '{}'),
      { status: 415, close: true }));

  // -- early close at every phase: nothing to answer, nothing must break
  const full = req('POST', '/v1/messages', { ...authed, 'Content-Type': 'application/json', 'Content-Length': '200' });
  for (const [phase, bytes] of [
    ['right after connecting', ''],
    ['inside the request line', 'POST /v1/mes'],
    ['inside the headers', 'POST /v1/messages HTTP/1.1\r\nHost: t\r\nx-api-'],
    ['after the head, before the body', full],
    ['inside the body', full + '{"model":"claude-sonnet-4-5","messages":['],
    ['inside a chunk', chunkedHead + '100\r\n{"model":'],
    ['after a complete GET, before reading the answer', GET_HEALTH],
  ]) {
    tcase(`client closes ${phase}`, async () => {
      const c = await open(proxy);
      if (bytes) c.send(bytes);
      await sleep(20);
      c.destroy();
    });
  }
  tcase('client resets inside the body', async () => {
    const c = await open(proxy);
    c.send(full + '{"model":');
    await sleep(20);
    c.sock.resetAndDestroy();
  });

  // -- pipelining and keep-alive after errors
  tcase('three pipelined requests are answered in order', async () => {
    const c = await open(proxy);
    try {
      c.send(GET_HEALTH + req('FOO', '/') + req('GET', '/v1/models', authed));
      const r = await c.waitResponses(3);
      assert.deepEqual(r.map((x) => x.status), [200, 404, 200]);
    } finally { c.destroy(); }
  });
  tcase('pipelined after a malformed request: one 400, then closed', async () => {
    const c = await open(proxy);
    try {
      c.send('GET / HTTP/1.1\r\nbroken header\r\n\r\n' + GET_HEALTH);
      await c.waitEnd();
      const r = c.responses();
      assert.equal(r.length, 1, 'nothing after the 400 is served');
      assertEnvelope(r[0], 400);
    } finally { c.destroy(); }
  });
  tcase('keep-alive after a 401', () =>
    expectAnswer(proxy, req('GET', '/v1/models'), { status: 401, type: 'authentication_error', close: false }));
  tcase('keep-alive after a 404 with a body', () =>
    expectAnswer(proxy, req('POST', '/nope', { 'Content-Length': '2' }, '{}'), { status: 404, close: false }));

  // -- authentication
  const models = (h) => req('GET', '/v1/models', h);
  tcase('auth: missing key: 401', () => expectAnswer(proxy, models({}), { status: 401, type: 'authentication_error' }));
  tcase('auth: wrong key: 401', () =>
    expectAnswer(proxy, models({ 'x-api-key': KEY + 'x' }), { status: 401, type: 'authentication_error' }));
  tcase('auth: a prefix of the key: 401', () =>
    expectAnswer(proxy, models({ 'x-api-key': KEY.slice(0, -1) }), { status: 401, type: 'authentication_error' }));
  tcase('auth: wrong x-api-key with a right bearer: 401 (x-api-key decides)', () =>
    expectAnswer(proxy, models({ 'x-api-key': 'nope', Authorization: `Bearer ${KEY}` }), { status: 401 }));
  tcase('auth: both headers right: 200', async () => {
    const c = await open(proxy);
    try {
      c.send(models({ 'x-api-key': KEY, Authorization: `Bearer ${KEY}` }));
      const [r] = await c.waitResponses(1);
      assert.equal(r.status, 200);
    } finally { c.destroy(); }
  });
  tcase('auth: empty bearer: 401', () => expectAnswer(proxy, models({ Authorization: 'Bearer ' }), { status: 401 }));
  tcase('auth: a 60 KB key: 401', () =>
    expectAnswer(proxy, models({ 'x-api-key': 'k'.repeat(60 * 1024) }), { status: 401, type: 'authentication_error' }));
  tcase('auth: NUL after the key never matches it: 400', () =>
    expectAnswer(proxy, models({ 'x-api-key': `${KEY}\0x` }), { status: 400, close: true }));
  tcase('auth: NUL at the end of the key: 400', () =>
    expectAnswer(proxy, models({ 'x-api-key': `${KEY}\0` }), { status: 400, close: true }));
  tcase('auth: NUL in a bearer token: 400', () =>
    expectAnswer(proxy, models({ Authorization: `Bearer ${KEY}\0` }), { status: 400, close: true }));
});
