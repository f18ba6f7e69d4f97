// SPDX-License-Identifier: MIT
//
// The bad-input catalogue, body half: request bodies that are not valid JSON or UTF-8, nest too
// deep, carry numbers too big, or put the wrong type in any field the proxy parses. Every one
// must get 400 (or 413) in the Anthropic error envelope, start no CLI, and leave the daemon
// serving. The HTTP-level half (methods, headers, framing) lives in its own file.
//
// Also here: what must be accepted (an escaped "\u0000" in text is valid JSON and valid text)
// and a large body of many small blocks, answered without stalling /health and without keeping
// its memory.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import {
  PROXY_BIN, WARM_POOL, assertErrorEnvelope, getJson, missing, requireOrSkip, sleep, startProxy, waitFor, withProxy,
} from './lib/harness.mjs';

requireOrSkip(missing());

const MAX_BODY = 4 << 20;

// Helpers to write a case as the part that differs from a valid request.
const MSGS = [{ role: 'user', content: 'hi' }];
const ok = (extra = {}) => ({ model: 'sonnet', max_tokens: 16, messages: MSGS, ...extra });
const omit = (key) => { const b = ok(); delete b[key]; return b; };
const withContent = (content) => ok({ messages: [{ role: 'user', content }] });
const withBlock = (block) => withContent([block]);
const json = (o) => Buffer.from(JSON.stringify(o));
const raw = (s) => Buffer.from(s, 'utf8');
const bytes = (...parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
const PREFIX = '{"model":"sonnet","max_tokens":16,"messages":[{"role":"user","content":"';
const SUFFIX = '"}]}';

// [name, body (Buffer), expected status, message regex (optional)]
const CASES = [
  // Not JSON, or not the JSON we take.
  ['truncated object', raw('{"model":"sonnet","max_tokens":16'), 400, /Invalid JSON/],
  ['trailing comma', raw('{"model":"sonnet",}'), 400, /Invalid JSON/],
  ['plain text', raw('hello there'), 400, /Invalid JSON/],
  ['single quotes', raw("{'model':'sonnet'}"), 400, /Invalid JSON/],
  ['two objects', raw(`${JSON.stringify(ok())}{}`), 400, /Invalid JSON/],
  ['duplicate key', raw('{"model":"sonnet","model":"opus","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}'), 400, /Invalid JSON/],
  ['NaN', raw('{"model":"sonnet","max_tokens":NaN,"messages":[]}'), 400, /Invalid JSON/],
  ['bare null', raw('null'), 400, /Invalid JSON/],
  ['top-level array', raw('[]'), 400, /must be a JSON object/],
  ['top-level string', raw('"hi"'), 400, /Invalid JSON/],
  ['empty body', Buffer.alloc(0), 400, /empty/],
  ['whitespace only', raw('   \n'), 400, /Invalid JSON/],
  // Text that is not UTF-8, or not a string JSON allows.
  ['invalid UTF-8 byte', bytes(PREFIX, [0xff, 0xfe], SUFFIX), 400, /Invalid JSON/],
  ['overlong UTF-8', bytes(PREFIX, [0xc0, 0xaf], SUFFIX), 400, /Invalid JSON/],
  ['UTF-8 encoded surrogate', bytes(PREFIX, [0xed, 0xa0, 0x80], SUFFIX), 400, /Invalid JSON/],
  ['truncated UTF-8 sequence', bytes(PREFIX, [0xe2, 0x82], SUFFIX), 400, /Invalid JSON/],
  ['lone surrogate escape', raw(`${PREFIX}\\ud800${SUFFIX}`), 400, /Invalid JSON/],
  ['raw control character', bytes(PREFIX, [0x01], SUFFIX), 400, /Invalid JSON/],
  ['raw NUL byte', bytes(PREFIX, [0x00], SUFFIX), 400, /Invalid JSON/],
  ['bad escape', raw(`${PREFIX}\\q${SUFFIX}`), 400, /Invalid JSON/],
  // Structure and numbers.
  ['deep nesting', raw(`{"model":"sonnet","max_tokens":16,"metadata":${'['.repeat(100000)}${']'.repeat(100000)},"messages":[]}`), 400, /Invalid JSON/],
  ['huge real', raw('{"model":"sonnet","max_tokens":1e400,"messages":[{"role":"user","content":"hi"}]}'), 400, /Invalid JSON/],
  ['huge integer', raw('{"model":"sonnet","max_tokens":123456789012345678901234567890,"messages":[{"role":"user","content":"hi"}]}'), 400, /Invalid JSON/],
  ['body over MAX_BODY_BYTES', json(ok({ messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY + 10) }] })), 413, /too large/],
  // model
  ['model missing', json(omit('model')), 400, /model is required/],
  ['model a number', json(ok({ model: 5 })), 400, /model is required/],
  ['model empty', json(ok({ model: '' })), 400, /model is required/],
  ['model an object', json(ok({ model: { name: 'sonnet' } })), 400, /model is required/],
  ['model with NUL', raw('{"model":"sonnet\\u0000x","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}'), 400, /model: must not contain/],
  // max_tokens
  ['max_tokens missing', json(omit('max_tokens')), 400, /max_tokens/],
  ['max_tokens a string', json(ok({ max_tokens: '16' })), 400, /max_tokens/],
  ['max_tokens negative', json(ok({ max_tokens: -1 })), 400, /max_tokens/],
  ['max_tokens zero', json(ok({ max_tokens: 0 })), 400, /max_tokens/],
  ['max_tokens fractional', json(ok({ max_tokens: 1.5 })), 400, /max_tokens/],
  ['max_tokens null', json(ok({ max_tokens: null })), 400, /max_tokens/],
  // messages and roles
  ['messages missing', json(omit('messages')), 400, /messages is required/],
  ['messages an object', json(ok({ messages: {} })), 400, /messages is required/],
  ['messages empty', json(ok({ messages: [] })), 400, /messages is required/],
  ['message a number', json(ok({ messages: [5] })), 400, /messages\.0/],
  ['message null', json(ok({ messages: [null] })), 400, /messages\.0/],
  ['role missing', json(ok({ messages: [{ content: 'hi' }] })), 400, /messages\.0\.role/],
  ['role unknown', json(ok({ messages: [{ role: 'bot', content: 'hi' }] })), 400, /messages\.0\.role/],
  ['role a number', json(ok({ messages: [{ role: 1, content: 'hi' }] })), 400, /messages\.0\.role/],
  ['system message whose content is a number', json(ok({ messages: [{ role: 'user', content: 'hi' }, { role: 'system', content: 5 }] })), 400, /messages\.1\.content/],
  ['role with NUL', raw('{"model":"sonnet","max_tokens":16,"messages":[{"role":"user\\u0000","content":"hi"}]}'), 400, /messages\.0\.role/],
  ['first turn assistant', json(ok({ messages: [{ role: 'assistant', content: 'a' }, { role: 'user', content: 'b' }] })), 400, /first message/],
  ['last turn assistant (prefill)', json(ok({ messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] })), 400, /prefill/],
  // content and content blocks
  ['content missing', json(ok({ messages: [{ role: 'user' }] })), 400, /messages\.0\.content/],
  ['content a number', json(withContent(5)), 400, /messages\.0\.content/],
  ['content an object', json(withContent({ type: 'text', text: 'hi' })), 400, /messages\.0\.content/],
  ['content empty string', json(withContent('')), 400, /must not be empty/],
  ['content empty array', json(withContent([])), 400, /must not be empty/],
  ['block a string', json(withContent(['hi'])), 400, /content\.0: a content block must be an object/],
  ['block without type', json(withBlock({ text: 'hi' })), 400, /content\.0\.type: required/],
  ['block type a number', json(withBlock({ type: 1, text: 'hi' })), 400, /content\.0\.type: required/],
  ['block type unknown', json(withBlock({ type: 'audio', data: 'x' })), 400, /unsupported content block type 'audio'/],
  ['block type with NUL', raw('{"model":"sonnet","max_tokens":16,"messages":[{"role":"user","content":[{"type":"text\\u0000","text":"a"}]}]}'), 400, /content\.0\.type/],
  ['text block text a number', json(withBlock({ type: 'text', text: 5 })), 400, /content\.0\.text/],
  ['text block text missing', json(withBlock({ type: 'text' })), 400, /content\.0\.text/],
  ['image without source', json(withBlock({ type: 'image' })), 400, /source/],
  ['image source a string', json(withBlock({ type: 'image', source: 'http://x' })), 400, /source/],
  ['image file source', json(withBlock({ type: 'image', source: { type: 'file', file_id: 'f' } })), 400, /unsupported image source type/],
  ['image media type', json(withBlock({ type: 'image', source: { type: 'base64', media_type: 'image/tiff', data: 'AA==' } })), 400, /image\/tiff/],
  ['image data a number', json(withBlock({ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 5 } })), 400, /source\.data/],
  ['image url missing', json(withBlock({ type: 'image', source: { type: 'url' } })), 400, /source\.url/],
  ['document media type', json(withBlock({ type: 'document', source: { type: 'base64', media_type: 'image/png', data: 'AA==' } })), 400, /application\/pdf/],
  ['tool_use without id', json(withBlock({ type: 'tool_use', name: 'n', input: {} })), 400, /content\.0\.id/],
  ['tool_use input a string', json(withBlock({ type: 'tool_use', id: 'i', name: 'n', input: '{}' })), 400, /content\.0\.input/],
  ['tool_result without tool_use_id', json(withBlock({ type: 'tool_result', content: 'x' })), 400, /tool_use_id/],
  ['tool_result content a number', json(withBlock({ type: 'tool_result', tool_use_id: 'i', content: 5 })), 400, /content\.0\.content/],
  ['thinking without signature', json(withBlock({ type: 'thinking', thinking: 't' })), 400, /signature/],
  ['redacted_thinking without data', json(withBlock({ type: 'redacted_thinking' })), 400, /content\.0\.data/],
  // system
  ['system a number', json(ok({ system: 5 })), 400, /system: must be/],
  ['system an object', json(ok({ system: { text: 'x' } })), 400, /system: must be/],
  ['system block not text', json(ok({ system: [{ type: 'image' }] })), 400, /system\.0/],
  ['system block text a number', json(ok({ system: [{ type: 'text', text: 1 }] })), 400, /system\.0/],
  // tools and tool_choice
  ['tools a string', json(ok({ tools: 'x' })), 400, /tools: must be an array/],
  ['tools an array of numbers', json(ok({ tools: [1] })), 400, /tools\.0/],
  ['tools an object', json(ok({ tools: {} })), 400, /tools: must be an array/],
  ['tools a number', json(ok({ tools: 5 })), 400, /tools: must be an array/],
  ['tool without name', json(ok({ tools: [{ input_schema: { type: 'object' } }] })), 400, /tools\.0\.name/],
  ['tool without schema', json(ok({ tools: [{ name: 't' }] })), 400, /tools\.0\.input_schema/],
  ['tool_choice a string', json(ok({ tool_choice: 'auto' })), 400, /tool_choice: must be an object/],
  ['tool_choice type unknown', json(ok({ tool_choice: { type: 'sometimes' } })), 400, /tool_choice\.type/],
  ['tool_choice tool without name', json(ok({ tool_choice: { type: 'tool' } })), 400, /tool_choice\.name/],
  // metadata, thinking, stream, sampling, output_config
  ['metadata an array', json(ok({ metadata: [] })), 400, /metadata: must be an object/],
  ['metadata.user_id a number', json(ok({ metadata: { user_id: 5 } })), 400, /metadata\.user_id/],
  ['metadata.effort a number', json(ok({ metadata: { effort: 3 } })), 400, /metadata\.effort/],
  ['metadata.effort unknown', json(ok({ metadata: { effort: 'extreme' } })), 400, /invalid effort level/],
  ['thinking a boolean', json(ok({ thinking: true })), 400, /thinking: must be an object/],
  ['thinking enabled without budget', json(ok({ thinking: { type: 'enabled' } })), 400, /budget_tokens/],
  ['thinking budget a string', json(ok({ thinking: { type: 'enabled', budget_tokens: '1024' } })), 400, /budget_tokens/],
  ['thinking type unknown', json(ok({ thinking: { type: 'on' } })), 400, /thinking\.type/],
  ['stream a string', json(ok({ stream: 'yes' })), 400, /stream: must be a boolean/],
  ['stream a number', json(ok({ stream: 1 })), 400, /stream: must be a boolean/],
  ['temperature a string', json(ok({ temperature: 'hot' })), 400, /temperature/],
  ['temperature out of range', json(ok({ temperature: 2 })), 400, /temperature: must be between/],
  ['top_p a boolean', json(ok({ top_p: true })), 400, /top_p/],
  ['top_k fractional', json(ok({ top_k: 1.5 })), 400, /top_k/],
  ['stop_sequences a string', json(ok({ stop_sequences: 'END' })), 400, /stop_sequences/],
  ['stop_sequences of numbers', json(ok({ stop_sequences: [1] })), 400, /stop_sequences/],
  ['output_config a number', json(ok({ output_config: 5 })), 400, /output_config/],
  ['output_config.effort unknown', json(ok({ output_config: { effort: 'turbo' } })), 400, /invalid effort level/],
  // Huge arrays: the one bad element is found wherever it is.
  ['99,000 blocks, the last one bad', json(withContent([...Array(98999).fill({ type: 'text', text: 'a' }), { type: 'text' }])), 400, /content\.98999\.text/],
  ['50,000 stop_sequences, the last a number', json(ok({ stop_sequences: [...Array(49999).fill('x'), 7] })), 400, /stop_sequences/],
  ['20,000 turns, one with a bad role', json(ok({ messages: Array.from({ length: 20000 }, (_, i) => ({ role: i === 12345 ? 'robot' : (i % 2 ? 'assistant' : 'user'), content: 'x' })) })), 400, /messages\.12345\.role/],
];

function post(url, body) {
  return fetch(`${url}/v1/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body,
  }).then(async (res) => {
    const text = await res.text();
    let parsed = null;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, text, json: parsed };
  });
}

describe('bad request bodies', () => {
  let proxy;

  before(async () => {
    proxy = await startProxy({ env: { MAX_BODY_BYTES: MAX_BODY } });
    // The cases count the proxy's children: the start-up auth check's must be gone first.
    await proxy.waitSettled();
  });
  after(async () => {
    await proxy?.stop();
  });

  test('the catalogue has at least 40 body-level cases, each named once', () => {
    assert.ok(CASES.length >= 40, `${CASES.length} cases`);
    assert.equal(new Set(CASES.map((c) => c[0])).size, CASES.length);
  });

  for (const [name, body, status, message] of CASES) {
    test(`${status}: ${name}`, async (t) => {
      // A case that wrongly started a CLI fails itself, not every case after it.
      t.after(async () => {
        await waitFor(() => proxy.onlyPoolLeft(), 20000, 'children to go (but the idle pool)').catch(() => {});
        proxy.clearFakeLogs();
      });
      const asked = (p) => p.hits + p.misses + p.cold_fallbacks;
      const before = asked((await getJson(`${proxy.url}/health`)).json.pool);
      const r = await post(proxy.url, body);
      assert.equal(r.status, status, `status for ${name}: ${r.text.slice(0, 300)}`);
      assertErrorEnvelope(r.json, status === 413 ? 'request_too_large' : 'invalid_request_error');
      if (message) assert.match(r.json.error.message, message);
      // Still serving, and no CLI was started for it (a refused body never reaches a child).
      const h = await getJson(`${proxy.url}/health`);
      assert.equal(h.status, 200, `/health after ${name}`);
      assert.equal(proxy.exited, null, 'the proxy died');
      // The only children are the idle warm pool's (WARM_POOL of them at most, none when it is
      // off), and the refused request never asked the pool for one.
      assert.ok(proxy.children().length <= Number(WARM_POOL), `a child is left: ${proxy.children()}`);
      assert.equal(asked(h.json.pool), before, 'the refused request asked the warm pool for a CLI');
      assert.deepEqual(proxy.servedLogs(), [], 'a CLI was started for a refused body');
    });
  }
});

describe('bodies that must be accepted', () => {
  let proxy;

  before(async () => {
    proxy = await startProxy();
  });
  after(async () => {
    await proxy?.stop();
  });

  // "\u0000" is valid JSON and valid text. It must reach the CLI whole: what follows the NUL
  // too, in the message and in the system text (jansson re-escapes it in the stdin line).
  test('an escaped \\u0000 in text and system is accepted and reaches the CLI intact', async () => {
    const body = raw('{"model":"sonnet","max_tokens":16,"system":"sys\\u0000TAILSYS",'
      + '"messages":[{"role":"user","content":[{"type":"text","text":"/a\\u0000TAILSLASH"},'
      + '{"type":"text","text":"b\\u0000TAILTEXT"}]}]}');
    const r = await post(proxy.url, body);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.type, 'message');
    const log = await proxy.waitFakeLogFor('TAILTEXT');
    const line = log.stdin.find((l) => l.type === 'user');
    const texts = line.message.content.map((b) => b.text);
    assert.deepEqual(texts, ['<instructions>\nsys\u0000TAILSYS\n</instructions>', ' /a\u0000TAILSLASH',
      'b\u0000TAILTEXT']);
  });

  test('valid tools, tool_choice and metadata.user_id are still accepted', async () => {
    const r = await post(proxy.url, json(ok({
      tools: [{ name: 'lookup', description: 'd', input_schema: { type: 'object' } },
        { type: 'web_search_20250305', name: 'web_search' }],
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
      metadata: { user_id: 'u-1' },
      stop_sequences: ['END'],
      temperature: 0.5,
    })));
    assert.equal(r.status, 200, r.text);
  });
});

// ---- one large body -------------------------------------------------------------------------

function rssKb(pid, key = 'VmRSS') {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(s)[1]);
}

const sanitized = !!PROXY_BIN && fs.existsSync(PROXY_BIN) && fs.readFileSync(PROXY_BIN).includes('__asan_init');

// Generous bounds on purpose: CI is a loaded 2-core box. The real goals (0.5 s, 50 ms, 10x, 2x)
// are measured by bench/large-body.mjs.
describe('a body of 370,000 small blocks', () => {
  test('is answered, /health keeps answering meanwhile, and RSS comes back down', { timeout: 240000 }, async () => {
    // MAX_BODY_VALUES raised: this one is about a tree that big being built off the loop.
    const proxy = await startProxy({ env: { MAX_BODY_BYTES: 16 << 20, MAX_BODY_VALUES: 4000000, LOG_LEVEL: 'info' } });
    try {
      const small = await post(proxy.url, json(ok()));
      assert.equal(small.status, 200, small.text);
      await waitFor(() => proxy.onlyPoolLeft(), 10000, 'the warm-up child to go (the idle pool stays)');
      const idle = rssKb(proxy.pid);

      const block = '{"type":"text","text":"a"}';
      const big = raw(`{"model":"sonnet","max_tokens":16,"messages":[{"role":"user","content":[${
        new Array(370000).fill(block).join(',')}]}]}`);
      assert.ok(big.length > 9.9e6 && big.length < 10.5e6);

      // /health on its own connection every 10 ms while the big request runs.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      let running = true, polls = 0, worst = 0;
      const poller = (async () => {
        while (running) {
          const t0 = performance.now();
          const code = await new Promise((resolve) => {
            http.get({ host: proxy.host, port: proxy.port, path: '/health', agent }, (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode));
            }).on('error', () => resolve(0));
          });
          assert.equal(code, 200);
          worst = Math.max(worst, performance.now() - t0);
          polls++;
          await sleep(10);
        }
      })();
      const r = await post(proxy.url, big);
      running = false;
      await poller;
      agent.destroy();
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assert.equal(r.json.type, 'message');
      assert.ok(polls >= 2, `only ${polls} /health polls answered during the request`);
      // A loop held for tens of seconds by one request fails this even on a slow box.
      assert.ok(worst < 20000, `/health took ${worst.toFixed(0)} ms during the large request`);

      await waitFor(() => proxy.onlyPoolLeft(), 20000, 'the child to go (the idle pool stays)');
      // A sanitizer build has its own allocator (and a quarantine of freed memory): RSS says
      // nothing there.
      if (sanitized) return;
      // The memory goes back: well below the ~200 MB the request's tree took.
      const bound = Math.max(idle * 8, 48 * 1024);
      await waitFor(() => rssKb(proxy.pid) < bound, 10000, 'RSS to come down').catch((e) => {
        throw new Error(`${e.message}: idle ${idle} kB, bound ${bound} kB, now ${rssKb(proxy.pid)} kB, `
          + `peak ${rssKb(proxy.pid, 'VmHWM')} kB`);
      });
    } finally {
      await proxy.stop();
    }
  });
});

// At the default MAX_BODY_VALUES the same body is measured, not built: refused at once, and the
// proxy's memory never holds its tree.
describe('a body of more JSON values than MAX_BODY_VALUES', () => {
  test('is answered 413 without building its tree', { timeout: 120000 }, async () => {
    await withProxy({ env: { MAX_BODY_BYTES: 16 << 20, LOG_LEVEL: 'info' } }, async (proxy) => {
      await proxy.waitSettled();
      const block = '{"type":"text","text":"a"}';
      const big = raw(`{"model":"sonnet","max_tokens":16,"messages":[{"role":"user","content":[${
        new Array(370000).fill(block).join(',')}]}]}`);
      const r = await post(proxy.url, big);
      assert.equal(r.status, 413, r.text.slice(0, 300));
      assert.equal(r.json.type, 'error');
      assert.equal(r.json.error.type, 'request_too_large');
      assert.match(r.json.error.message, /more than 500000 JSON values/);
      // Just under the bound (5 values a block: object, two keys, two strings) is parsed.
      const under = raw(`{"model":"sonnet","max_tokens":16,"messages":[{"role":"user","content":[${
        new Array(99000).fill(block).join(',')}]}]}`);
      const u = await post(proxy.url, under);
      assert.equal(u.status, 200, u.text.slice(0, 300));
      await waitFor(() => proxy.onlyPoolLeft(), 20000, 'the child to go (the idle pool stays)');
      if (sanitized) return;
      // The 370,000-block tree alone is ~200 MB; the 99,000-block one ~55 MB.
      const peak = rssKb(proxy.pid, 'VmHWM');
      assert.ok(peak < 120 * 1024, `peak RSS ${peak} kB`);
    });
  });
});

// The body of a large request is parsed on a worker thread; a client that leaves meanwhile must
// neither crash the proxy nor leak the session (the ASan build's leak check runs at stop).
describe('a client that leaves while its large body is parsed', () => {
  test('the proxy stays up, starts no CLI and stops cleanly', { timeout: 240000 }, async () => {
    await withProxy({ env: { MAX_BODY_BYTES: 16 << 20, MAX_BODY_VALUES: 4000000 } }, async (proxy) => {
      await proxy.waitSettled();
      const block = '{"type":"text","text":"a"}';
      const big = `{"model":"sonnet","max_tokens":16,"messages":[{"role":"user","content":[${
        new Array(200000).fill(block).join(',')}]}]}`;
      const N = 3;      // two parse on workers, the third on the loop (PARSE_OFFLOAD_MAX)
      const sockets = [];
      for (let i = 0; i < N; i++) {
        await new Promise((resolve) => {
          const req = http.request({
            host: proxy.host, port: proxy.port, path: '/v1/messages', method: 'POST',
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(big) },
          });
          req.on('error', () => {});
          req.end(big, resolve);
          sockets.push(req);
        });
      }
      // Let the proxy read the bodies (it answers nothing before the parse), then leave.
      await sleep(500);
      for (const r of sockets) r.destroy();
      // Each session ends with its access log line, status 499 (client closed request); only
      // then may the proxy be stopped without waiting for a parse.
      const ended = () => (proxy.stderrText.match(/ anthropic 499 /g) || []).length;
      await waitFor(() => ended() >= N, 200000, `${N} abandoned requests to end`);
      assert.equal(proxy.exited, null, 'the proxy died');
      // Whatever was parsed after its client left never reached a CLI.
      await sleep(200);
      // The only children left are the idle warm pool's (none when it is off). The pool was
      // asked at most once: the body parsed on the loop is done before the loop can see its
      // client gone (that CLI is killed at once); the two parsed on workers never get that far.
      assert.ok(proxy.children().length <= Number(WARM_POOL), `a child is left: ${proxy.children()}`);
      const p = (await getJson(`${proxy.url}/health`)).json.pool;
      assert.ok(p.hits + p.misses + p.cold_fallbacks <= N - 2, `the warm pool was asked: ${JSON.stringify(p)}`);
    });
  });
});
