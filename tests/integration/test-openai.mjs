// SPDX-License-Identifier: MIT
//
// POST /v1/chat/completions and GET /v1/models through the official `openai` npm client (and
// fetch/curl where the bytes matter) against the fake CLI: non-streaming, streaming with
// include_usage, images and PDFs reaching the CLI, tool-call history, n = 2 (two CLI children,
// choices by index, usage summed, one failure killing the sibling), reasoning_content, errors
// in OpenAI's envelope (400/401/404/405/429, mid-stream), models.list/retrieve, and the seed
// README's curl example unchanged.
//
// Goldens: tests/data/expected/chat-NAME.json (the stream as parsed frames) and
// chat-NAME.message.json (the non-streaming body) are compared with what the daemon sends, ids
// and `created` normalised. Each golden is also checked on its own: the streamed chunks must add
// up to the non-streaming message, so a golden rewritten from a broken proxy cannot silently
// become the truth (and test-goldens-sdk.mjs rebuilds them, and resp-text*.json, with the openai
// SDK's own accumulators). TEST_UPDATE_GOLDEN=1 rewrites them (review the diff).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';

import { checkGolden, normaliseResp, readGolden } from './lib/goldens.mjs';
import {
  curl, getJson, missing, requireOrSkip, NODE_DIR, parseSse, pidAlive, postJson, startProxy, waitFor,
} from './lib/harness.mjs';

const TEXT = 'Hello! I am a scripted mock reply, streamed in several small chunks.';
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGP4z8AARwzEcQCukw/x0F8jngAAAABJRU5ErkJggg==';

const nodeRequire = createRequire(path.join(NODE_DIR, 'package.json'));
const haveOpenAI = fs.existsSync(path.join(NODE_DIR, 'node_modules', 'openai'));
requireOrSkip(missing({ tools: ['curl'] }) || (!haveOpenAI && 'the openai npm package is missing: run npm ci --prefix tests/node'));

async function openaiClient(proxy, opts = {}) {
  const mod = await import(nodeRequire.resolve('openai'));
  const OpenAI = mod.default ?? mod.OpenAI;
  return { OpenAI, client: new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: opts.apiKey ?? 'sk-proxy-test',
    maxRetries: 0, timeout: 30000 }) };
}

const chat = (text, extra = {}) => ({ model: 'claude-sonnet-4', messages: [{ role: 'user', content: text }], ...extra });

// Raw stream: parsed frames, and whether the last frame was [DONE].
async function rawStream(proxy, body) {
  const res = await fetch(`${proxy.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, frames: parseSse(text) };
}

// The chunk grammar every Chat Completions stream must follow; returns per-choice totals.
function assertChunkGrammar(frames, { n = 1, usage = false, error = false } = {}) {
  const data = frames.filter((f) => f.data !== undefined);
  const choices = Array.from({ length: n }, () => ({ role: 0, finish: 0, content: '', reasoning: '', finishReason: null }));
  let sawUsage = null, done = false, sawError = null;
  const ids = new Set(), created = new Set();
  for (const f of data) {
    assert.ok(!done, 'nothing after [DONE]');
    assert.equal(f.event, null, 'chat chunks are unnamed events');
    if (f.data === '[DONE]') { done = true; continue; }
    assert.ok(!sawError, 'nothing after an error chunk');
    if (f.data.error) { sawError = f.data.error; continue; }
    assert.equal(f.data.object, 'chat.completion.chunk');
    ids.add(f.data.id); created.add(f.data.created);
    assert.match(f.data.id, /^chatcmpl-/);
    if (f.data.choices.length === 0) {
      assert.ok(usage, 'a usage chunk only with include_usage');
      assert.ok(!sawUsage, 'one usage chunk');
      sawUsage = f.data.usage;
      continue;
    }
    assert.ok(!sawUsage, 'the usage chunk comes after every choice finished');
    if (usage) assert.ok('usage' in f.data && f.data.usage === null, 'usage: null on content chunks');
    for (const c of f.data.choices) {
      const ch = choices[c.index];
      assert.ok(ch, `choice index ${c.index} out of range`);
      assert.equal(ch.finish, 0, `choice ${c.index} has a chunk after its finish_reason`);
      if (c.delta.role !== undefined) { assert.equal(c.delta.role, 'assistant'); ch.role++; }
      else assert.equal(ch.role, 1, `choice ${c.index}: the first chunk carries the role`);
      if (c.delta.content) ch.content += c.delta.content;
      if (c.delta.reasoning_content) {
        assert.equal(ch.content, '', 'reasoning_content comes before content');
        ch.reasoning += c.delta.reasoning_content;
      }
      if (c.finish_reason !== null) { ch.finish++; ch.finishReason = c.finish_reason; }
    }
  }
  assert.equal(ids.size, 1, 'one id for the whole stream');
  assert.equal(created.size, 1, 'one created for the whole stream');
  if (error) {
    assert.ok(sawError, 'an error chunk ends a failed stream');
    assert.ok(!done, 'no [DONE] after a failure');
    return { choices, error: sawError };
  }
  assert.ok(done, 'the stream ends with [DONE]');
  for (const [i, ch] of choices.entries()) {
    assert.equal(ch.role, 1, `choice ${i}: one role chunk`);
    assert.equal(ch.finish, 1, `choice ${i}: exactly one finish_reason`);
  }
  if (usage) assert.ok(sawUsage, 'a usage chunk with include_usage');
  return { choices, usage: sawUsage };
}

// ---- goldens ---------------------------------------------------------------------------------

function normalise(v) {
  if (Array.isArray(v)) return v.map(normalise);
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === 'id' && typeof x === 'string' && /^chatcmpl-[A-Za-z0-9]{24}$/.test(x)) o[k] = 'chatcmpl-NORMALISED';
      else if (k === 'created' && typeof x === 'number') o[k] = 0;
      else o[k] = normalise(x);
    }
    return o;
  }
  return v;
}

const GOLDENS = [
  { name: 'text', body: chat('Say hello [[fake:text]]', { stream_options: { include_usage: true } }) },
  { name: 'thinking', body: chat('Say hello [[fake:thinking]]', { reasoning_effort: 'high' }) },
  { name: 'multi_message', body: chat('Write a long answer. [[fake:multi_message]]') },
  { name: 'err_429', body: chat('Say hello [[fake:err_429]]'), error: true },
];

describe('chat completions goldens', () => {
  let proxy;
  before(async () => { proxy = await startProxy(); });
  after(async () => { await proxy?.stop(); });

  for (const g of GOLDENS) {
    test(`${g.name}: the daemon's bytes equal chat-${g.name}*.json`, async () => {
      const s = await rawStream(proxy, g.body);
      const { stream_options: _, ...plain } = g.body;
      const m = await postJson(`${proxy.url}/v1/chat/completions`, plain);
      const streamed = { status: s.status, contentType: s.headers.get('content-type'),
        frames: normalise(s.frames) };
      const message = { status: m.status, body: normalise(m.json) };
      if (g.error) {
        // Before anything streamed, a failure is a plain HTTP error, the same for both.
        assert.equal(s.status, m.status);
        checkGolden(`chat-${g.name}.json`, { status: s.status, body: normalise(JSON.parse(s.text)) });
        assert.deepEqual(JSON.parse(s.text), m.json);
        return;
      }
      checkGolden(`chat-${g.name}.json`, streamed);
      checkGolden(`chat-${g.name}.message.json`, message);
    });

    if (!g.error)
      test(`${g.name}: the golden stream adds up to the golden message`, () => {
        const st = readGolden(`chat-${g.name}.json`);
        const msg = readGolden(`chat-${g.name}.message.json`).body;
        const usage = !!g.body.stream_options?.include_usage;
        const { choices, usage: u } = assertChunkGrammar(st.frames, { usage });
        assert.equal(choices[0].content, msg.choices[0].message.content);
        assert.equal(choices[0].reasoning || undefined, msg.choices[0].message.reasoning_content);
        assert.equal(choices[0].finishReason, msg.choices[0].finish_reason);
        if (usage) assert.deepEqual(u, msg.usage);
      });
  }
});

// ---- the openai client -----------------------------------------------------------------------

describe('chat completions', () => {
  let proxy;
  before(async () => { proxy = await startProxy({ env: { MAX_CONCURRENT: '3' } }); });
  after(async () => { await proxy?.stop(); });

  test('non-streaming (openai client)', async () => {
    const { client } = await openaiClient(proxy);
    const { data: r, response } = await client.chat.completions.create(chat('Say hello [[fake:text]]', {
      temperature: 0.3, max_tokens: 100, user: 'u1', seed: 3,
    })).withResponse();
    assert.equal(r.object, 'chat.completion');
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.model, 'claude-sonnet-4', 'the requested name is echoed');
    assert.equal(typeof r.created, 'number');
    assert.equal(r.choices.length, 1);
    assert.deepEqual(r.choices[0].message, { role: 'assistant', content: TEXT, refusal: null });
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.ok(r.usage.completion_tokens > 1);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
    assert.equal(typeof r.usage.prompt_tokens_details.cached_tokens, 'number');
    const h = response.headers.get('x-proxy-unsupported').split(',');
    for (const k of ['temperature', 'max_tokens', 'user', 'seed']) assert.ok(h.includes(k), `${k} in ${h}`);
  });

  test("the seed README's curl example works unchanged", () => {
    const r = curl([`${proxy.url}/v1/chat/completions`, '-H', 'Content-Type: application/json', '-d',
      '{"model":"claude-sonnet-4","messages":[{"role":"user","content":"Hello"}]}']);
    assert.equal(r.status, 200, r.body);
    const j = JSON.parse(r.body);
    assert.equal(j.object, 'chat.completion');
    assert.equal(j.choices[0].message.content, TEXT);
  });

  test('streaming with include_usage (openai client and raw bytes)', async () => {
    const { client } = await openaiClient(proxy);
    const stream = await client.chat.completions.create(chat('Say hello [[fake:text]]', {
      stream: true, stream_options: { include_usage: true },
    }));
    let text = '', finish = null, usage = null, first = null;
    for await (const c of stream) {
      first ??= c;
      if (c.usage) usage = c.usage;
      for (const ch of c.choices) {
        text += ch.delta.content ?? '';
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    }
    assert.equal(first.choices[0].delta.role, 'assistant');
    assert.equal(text, TEXT);
    assert.equal(finish, 'stop');
    assert.ok(usage.completion_tokens > 1);

    const raw = await rawStream(proxy, chat('Say hello [[fake:text]]', { stream_options: { include_usage: true } }));
    assert.equal(raw.status, 200);
    assert.match(raw.headers.get('content-type'), /^text\/event-stream/);
    assert.ok(raw.text.endsWith('data: [DONE]\n\n'), 'ends with data: [DONE]');
    const g = assertChunkGrammar(raw.frames, { usage: true });
    assert.equal(g.choices[0].content, TEXT);
  });

  test('images (data: and https) and a PDF reach the CLI as image/document blocks', async () => {
    const { client } = await openaiClient(proxy);
    proxy.clearFakeLogs();
    const r = await client.chat.completions.create({
      model: 'claude-sonnet-4',
      messages: [{ role: 'user', content: [
        { type: 'text', text: 'What is in this image? [[fake:image]] IMG-MARK' },
        { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
        { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'low' } },
        { type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0xLjQK' } },
      ] }],
    });
    assert.ok(r.choices[0].message.content.length > 0);
    const log = await proxy.waitFakeLogFor('IMG-MARK', (l) => l.state === 'exited');
    const blocks = log.stdin.at(-1).message.content;
    assert.deepEqual(blocks.find((b) => b.type === 'image' && b.source.type === 'base64').source,
      { type: 'base64', media_type: 'image/png', data: PNG });
    assert.deepEqual(blocks.find((b) => b.type === 'image' && b.source.type === 'url').source,
      { type: 'url', url: 'https://example.com/cat.jpg' });
    assert.equal(blocks.find((b) => b.type === 'document').source.media_type, 'application/pdf');
  });

  test('system/developer text and tool-call history reach the CLI', async () => {
    const { client } = await openaiClient(proxy);
    const r = await client.chat.completions.create({
      model: 'claude-sonnet-4',
      messages: [
        { role: 'system', content: 'SYS-SENTINEL' },
        { role: 'developer', content: 'DEV-SENTINEL' },
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_abc', type: 'function',
          function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_abc', content: 'sunny, 21C' },
        { role: 'user', content: 'Thanks TOOL-MARK' },
      ],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }],
    });
    assert.equal(r.choices[0].message.content, TEXT);
    const log = await proxy.waitFakeLogFor('TOOL-MARK', (l) => l.state === 'exited');
    const all = JSON.stringify(log.stdin);
    assert.ok(all.includes('SYS-SENTINEL') && all.includes('DEV-SENTINEL'), 'system and developer text');
    const toolUse = log.stdin.flatMap((l) => l.message?.content ?? []).find((b) => b.type === 'tool_use');
    // The model sees the client's tools as mcp__cp__<name> (api/client-tools.c), history included.
    assert.deepEqual(toolUse, { type: 'tool_use', id: 'call_abc', name: 'mcp__cp__get_weather', input: { city: 'Paris' } });
    const toolResult = log.stdin.flatMap((l) => Array.isArray(l.message?.content) ? l.message.content : [])
      .find((b) => b.type === 'tool_result');
    assert.equal(toolResult.tool_use_id, 'call_abc');
    assert.equal(toolResult.content, 'sunny, 21C');
  });

  test('reasoning_content from thinking (non-streaming and streaming)', async () => {
    const { client } = await openaiClient(proxy);
    const r = await client.chat.completions.create(chat('Say hello [[fake:thinking]]', { reasoning_effort: 'low' }));
    assert.ok(r.choices[0].message.reasoning_content.length > 0, 'reasoning_content');
    assert.ok(r.choices[0].message.content.length > 0);
    const plain = await client.chat.completions.create(chat('Say hello [[fake:thinking]]'));
    assert.equal(plain.choices[0].message.reasoning_content, undefined, 'no thinking asked, none shown');

    const raw = await rawStream(proxy, chat('Say hello [[fake:thinking]]', { reasoning_effort: 'medium' }));
    const g = assertChunkGrammar(raw.frames);
    assert.equal(g.choices[0].reasoning, r.choices[0].message.reasoning_content);
    assert.equal(g.choices[0].content, r.choices[0].message.content);
    const log = await proxy.waitFakeLog((l) => l.argv?.includes('medium'));
    assert.ok(log, 'reasoning_effort became --effort');
  });

  test('n = 2: two CLI children, choices by index, usage summed (non-streaming)', async () => {
    const { client } = await openaiClient(proxy);
    proxy.clearFakeLogs();
    const one = await client.chat.completions.create(chat('Say hello [[fake:text]] N1-MARK'));
    const r = await client.chat.completions.create(chat('Say hello [[fake:text]] N2-MARK', { n: 2 }));
    assert.deepEqual(r.choices.map((c) => c.index), [0, 1]);
    for (const c of r.choices) assert.equal(c.message.content, TEXT);
    assert.equal(r.usage.completion_tokens, 2 * one.usage.completion_tokens);
    assert.equal(r.usage.prompt_tokens, 2 * one.usage.prompt_tokens);
    await waitFor(() => proxy.fakeLogs().filter((l) => JSON.stringify(l.stdin).includes('N2-MARK')).length === 2,
      5000, 'two CLI children for n = 2');
  });

  test('n = 2 streaming: each choice its role, content and one finish_reason; usage summed', async () => {
    const raw = await rawStream(proxy, chat('Say hello [[fake:text delay=5]]', { n: 2, stream_options: { include_usage: true } }));
    const g = assertChunkGrammar(raw.frames, { n: 2, usage: true });
    for (const c of g.choices) assert.equal(c.content, TEXT);
    const one = await rawStream(proxy, chat('Say hello [[fake:text]]', { stream_options: { include_usage: true } }));
    const u1 = assertChunkGrammar(one.frames, { usage: true }).usage;
    assert.equal(g.usage.completion_tokens, 2 * u1.completion_tokens);
  });

  test('n = 2 with one failing child: the request fails and the other child is killed', async () => {
    const claim = `k${Date.now()}`;
    proxy.clearFakeLogs();
    const r = await postJson(`${proxy.url}/v1/chat/completions`,
      // The delay gives the sibling time to start and read its line before the crash: killed
      // before that, it leaves no log to check.
      chat(`Say hello [[fake:text delay=400 crash_after=2 others_hang=${claim}]] FAIL-MARK`, { n: 2 }));
    assert.ok(r.status >= 500, `status ${r.status}: ${r.text}`);
    assert.equal(typeof r.json.error.message, 'string');
    assert.ok(!('type' in r.json && r.json.type === 'error'), 'OpenAI envelope, not Anthropic');
    const marked = () => proxy.fakeLogs().filter((l) => JSON.stringify(l.stdin).includes('FAIL-MARK'));
    await waitFor(() => marked().length === 2, 5000, 'both children logged their line');
    const logs = marked();
    assert.equal(logs.length, 2);
    assert.ok(logs.some((l) => l.claimed === false), 'one child was the hanging sibling');
    await waitFor(() => logs.every((l) => !pidAlive(l.pid)), 10000, 'both children gone');
    await waitFor(() => proxy.onlyPoolLeft(), 10000, 'no children left but the idle pool');
  });

  test('n above MAX_CONCURRENT is a clear 400', async () => {
    const { client, OpenAI } = await openaiClient(proxy);
    await assert.rejects(client.chat.completions.create(chat('hi', { n: 4 })), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `${e}`);
      assert.equal(e.param, 'n');
      assert.match(e.message, /MAX_CONCURRENT/);
      return true;
    });
  });

  test('errors in OpenAI\'s envelope: 400 logprobs, 429 rate limit, 404, 405', async () => {
    const { client, OpenAI } = await openaiClient(proxy);
    await assert.rejects(client.chat.completions.create(chat('hi', { logprobs: true })), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.param, 'logprobs');
      assert.equal(e.type, 'invalid_request_error');
      return true;
    });
    await assert.rejects(client.chat.completions.create(chat('hi [[fake:err_429]]')), (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError, `${e}`);
      assert.equal(e.status, 429);
      assert.equal(e.type, 'rate_limit_error');
      return true;
    });
    const nf = await postJson(`${proxy.url}/v1/chat/nothing`, {});
    assert.equal(nf.status, 404);
    assert.deepEqual(Object.keys(nf.json.error).sort(), ['code', 'message', 'param', 'type']);
    const na = await getJson(`${proxy.url}/v1/chat/completions`);
    assert.equal(na.status, 405);
    assert.equal(typeof na.json.error.message, 'string');
    assert.equal(na.json.type, undefined, 'not the Anthropic envelope');
    const bad = await postJson(`${proxy.url}/v1/chat/completions`, '{"model":');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.type, 'invalid_request_error');
  });

  test('429 keeps retry-after', async () => {
    // The reset moved an hour ahead (the recorded one is past, which gives a constant 0):
    // retry-after must count down to it, within 2 s, on both sides.
    const RESETS_IN = 3600;
    const fake = `hi [[fake:err_429_oauth_rejected resets_in=${RESETS_IN}]]`;
    const sentAt = Date.now();
    const r = await postJson(`${proxy.url}/v1/chat/completions`, chat(fake));
    const a = await postJson(`${proxy.url}/v1/messages`, { model: 'claude-sonnet-4', max_tokens: 10,
      messages: [{ role: 'user', content: fake }] });
    assert.equal(r.status, 429, r.text);
    assert.equal(r.status, a.status, 'the same status as the Anthropic side');
    const elapsed = (Date.now() - sentAt) / 1000;
    for (const [api, h] of [['chat', r.headers], ['messages', a.headers]]) {
      const ra = h.get('retry-after');
      assert.match(ra ?? '', /^\d+$/, `${api} retry-after: ${ra}`);
      assert.ok(Math.abs(Number(ra) - RESETS_IN) <= 2 + elapsed,
        `${api} retry-after ${ra}, expected ${RESETS_IN} s less the ${elapsed.toFixed(1)} s since sending, ±2 s`);
    }
    assert.equal(r.headers.get('anthropic-ratelimit-unified-status'), 'rejected');
  });

  test('a failure after the stream began: an error chunk and no [DONE]', async () => {
    const raw = await rawStream(proxy, chat('hi [[fake:text crash_after=7]]'));
    assert.equal(raw.status, 200);
    const g = assertChunkGrammar(raw.frames, { error: true });
    assert.equal(typeof g.error.message, 'string');
    assert.ok(!raw.text.includes('[DONE]'));
    const { client } = await openaiClient(proxy);
    await assert.rejects(async () => {
      const s = await client.chat.completions.create(chat('hi [[fake:text crash_after=7]]', { stream: true }));
      for await (const _ of s) { /* drain */ }
    }, /./);
  });

  test('models.list and models.retrieve (openai client)', async () => {
    const { client, OpenAI } = await openaiClient(proxy);
    const ids = [];
    for await (const m of client.models.list()) {
      assert.equal(m.object, 'model');
      assert.equal(typeof m.created, 'number');
      assert.equal(typeof m.owned_by, 'string');
      ids.push(m.id);
    }
    assert.ok(ids.includes('claude-sonnet-4-6'), ids.join(','));
    const one = await client.models.retrieve('claude-sonnet-4-6');
    assert.equal(one.id, 'claude-sonnet-4-6');
    await assert.rejects(client.models.retrieve('nope'), (e) => e instanceof OpenAI.NotFoundError);
  });
});

describe('chat completions with authentication', () => {
  let proxy;
  before(async () => { proxy = await startProxy({ env: { REQUIRE_AUTH: 'true', PROXY_API_KEYS: 'sk-good' } }); });
  after(async () => { await proxy?.stop(); });

  test('a wrong key: 401 in OpenAI\'s envelope; the right one works', async () => {
    const { client, OpenAI } = await openaiClient(proxy, { apiKey: 'sk-wrong' });
    await assert.rejects(client.chat.completions.create(chat('hi')), (e) => {
      assert.ok(e instanceof OpenAI.AuthenticationError, `${e}`);
      assert.equal(e.type, 'authentication_error');
      return true;
    });
    const r = await postJson(`${proxy.url}/v1/chat/completions`, chat('hi'));
    assert.equal(r.status, 401);
    assert.equal(r.json.type, undefined, 'not the Anthropic envelope');
    assert.equal(r.json.error.param, null);
    const ok = await openaiClient(proxy, { apiKey: 'sk-good' });
    const m = await ok.client.chat.completions.create(chat('hi'));
    assert.equal(m.choices[0].message.content, TEXT);
  });
});

// ---- the Responses API ------------------------------------------------------------------------

// The typed event grammar: created, in_progress, items, completed (or failed) last,
// sequence_number 0.. without gaps, data.type the event name. Returns the text deltas' sum.
function assertResponsesGrammar(events, { last = 'response.completed' } = {}) {
  const evs = events.filter((e) => e.event);
  evs.forEach((e, i) => {
    assert.equal(e.data.type, e.event);
    assert.equal(e.data.sequence_number, i, `sequence_number of ${e.event}`);
  });
  assert.deepEqual(evs.slice(0, 2).map((e) => e.event), ['response.created', 'response.in_progress']);
  assert.equal(evs.at(-1).event, last);
  const text = evs.filter((e) => e.event === 'response.output_text.delta').map((e) => e.data.delta).join('');
  const done = evs.filter((e) => e.event === 'response.output_text.done').map((e) => e.data.text).join('');
  if (last === 'response.completed') assert.equal(text, done);
  return { text, final: evs.at(-1).data.response };
}

describe('responses', () => {
  let proxy;
  before(async () => { proxy = await startProxy(); });
  after(async () => { await proxy?.stop(); });

  test('non-streaming (openai client): output_text, usage, the requested model', async () => {
    const { client } = await openaiClient(proxy);
    const r = await client.responses.create({ model: 'claude-sonnet-4', input: 'Say hello [[fake:text]]',
      instructions: 'Be brief.', store: false });
    assert.equal(r.object, 'response');
    assert.match(r.id, /^resp_/);
    assert.equal(r.status, 'completed');
    assert.equal(r.model, 'claude-sonnet-4');
    assert.equal(r.output_text, TEXT);
    assert.ok(r.usage.output_tokens > 1);
    assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
  });

  test('streaming (openai client and raw events); golden resp-text.json', async () => {
    const { client } = await openaiClient(proxy);
    const stream = await client.responses.create({ model: 'claude-sonnet-4', input: 'Say hello [[fake:text]]', stream: true });
    const types = [];
    let text = '', final = null;
    for await (const e of stream) {
      types.push(e.type);
      if (e.type === 'response.output_text.delta') text += e.delta;
      if (e.type === 'response.completed') final = e.response;
    }
    assert.equal(text, TEXT);
    assert.equal(final.output[0].content[0].text, TEXT);
    for (const t of ['response.created', 'response.output_item.added', 'response.content_part.added',
      'response.output_text.done', 'response.output_item.done'])
      assert.ok(types.includes(t), `${t} in ${types}`);

    const res = await fetch(`${proxy.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4', input: 'Say hello [[fake:text]]', stream: true }) });
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    const events = parseSse(await res.text());
    const g = assertResponsesGrammar(events);
    assert.equal(g.text, TEXT);
    checkGolden('resp-text.json', normaliseResp(events));
    // The non-streaming reply to the same request: test-goldens-sdk.mjs checks that the SDK's
    // ResponseStream rebuilds it from resp-text.json.
    const m = await postJson(`${proxy.url}/v1/responses`, { model: 'claude-sonnet-4', input: 'Say hello [[fake:text]]' });
    checkGolden('resp-text.message.json', { status: m.status, body: normaliseResp(m.json) });
  });

  test('function_call history and input_image reach the CLI as tool_use/tool_result/image', async () => {
    const { client } = await openaiClient(proxy);
    await client.responses.create({ model: 'claude-sonnet-4', input: [
      { role: 'developer', content: 'DEV-RESP-MARK' },
      { role: 'user', content: [{ type: 'input_text', text: 'run ls' },
        { type: 'input_image', image_url: `data:image/png;base64,${PNG}` }] },
      { type: 'function_call', call_id: 'call_r1', name: 'exec_command', arguments: '{"cmd":"ls"}' },
      { type: 'function_call_output', call_id: 'call_r1', output: 'a.txt' },
      { role: 'user', content: 'and now? RESP-MARK' },
    ], tools: [{ type: 'function', name: 'exec_command', parameters: { type: 'object', properties: {} } }] });
    const log = await proxy.waitFakeLogFor('RESP-MARK', (l) => l.state === 'exited');
    const blocks = log.stdin.flatMap((l) => Array.isArray(l.message?.content) ? l.message.content : []);
    assert.ok(JSON.stringify(log.stdin).includes('DEV-RESP-MARK'));
    assert.deepEqual(blocks.find((b) => b.type === 'tool_use'),
      { type: 'tool_use', id: 'call_r1', name: 'mcp__cp__exec_command', input: { cmd: 'ls' } });
    assert.equal(blocks.find((b) => b.type === 'tool_result').content, 'a.txt');
    assert.equal(blocks.find((b) => b.type === 'image').source.data, PNG);
  });

  test('previous_response_id is a clear 400; errors in OpenAI\'s envelope', async () => {
    const { client, OpenAI } = await openaiClient(proxy);
    await assert.rejects(client.responses.create({ model: 'claude-sonnet-4', input: 'x', previous_response_id: 'resp_1' }),
      (e) => {
        assert.ok(e instanceof OpenAI.BadRequestError, `${e}`);
        assert.equal(e.param, 'previous_response_id');
        assert.match(e.message, /send the earlier items/);
        return true;
      });
    await assert.rejects(client.responses.create({ model: 'claude-sonnet-4', input: 'hi [[fake:err_429]]' }),
      (e) => e instanceof OpenAI.RateLimitError);
    const r = await getJson(`${proxy.url}/v1/responses/resp_123`);
    assert.equal(r.status, 404);
    assert.equal(typeof r.json.error.message, 'string');
    assert.equal(r.json.type, undefined);
  });

  test('a failure after the stream began ends with response.failed', async () => {
    const res = await fetch(`${proxy.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4', input: 'hi [[fake:text crash_after=7]]', stream: true }) });
    assert.equal(res.status, 200);
    const { final } = assertResponsesGrammar(parseSse(await res.text()), { last: 'response.failed' });
    assert.equal(final.status, 'failed');
    assert.equal(typeof final.error.message, 'string');
  });
});
