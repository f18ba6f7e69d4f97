// SPDX-License-Identifier: MIT
//
// POST /v1/messages against the fake CLI: non-streaming and streaming answers through fetch,
// curl and the official @anthropic-ai/sdk; the SSE grammar; thinking on and off; a run with
// several upstream messages merged into one; the request-id and x-proxy-unsupported headers.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertSseGrammar, cliSettings, curl, messageBody, missing, parseSse, postJson, requireOrSkip, sdkClient, sseText,
  startProxy,
} from './lib/harness.mjs';

const TEXT = 'Hello! I am a scripted mock reply, streamed in several small chunks.';
const MULTI = 'This answer was cut off because the limit was reached; here is the rest.';
requireOrSkip(missing({ sdk: true, tools: ['curl'] }));

describe('messages', () => {
  let proxy;
  before(async () => { proxy = await startProxy(); });
  after(async () => { await proxy?.stop(); });

  const url = () => `${proxy.url}/v1/messages`;

  test('non-streaming text (fetch)', async () => {
    const r = await postJson(url(), messageBody('Say hello [[fake:text]]'));
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    const m = r.json;
    assert.equal(m.type, 'message');
    assert.equal(m.role, 'assistant');
    assert.match(m.id, /^msg_/);
    assert.equal(m.model, 'claude-sonnet-4-5', 'the client model name is echoed');
    assert.deepEqual(m.content, [{ type: 'text', text: TEXT }]);
    assert.equal(m.stop_reason, 'end_turn');
    assert.equal(m.stop_sequence, null);
    assert.equal(typeof m.usage.input_tokens, 'number');
    assert.ok(m.usage.output_tokens > 1, 'final usage, not the message_start placeholder');
    assert.ok(r.headers.get('request-id'), 'request-id header');
  });

  test('a default transcript when there is no directive', async () => {
    const r = await postJson(url(), messageBody('Say hello'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.content[0].text, TEXT);
  });

  test('incoming x-request-id is kept', async () => {
    const r = await postJson(url(), messageBody('hi'), { 'x-request-id': 'req-it-12345' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('request-id'), 'req-it-12345');
  });

  test('request ids differ between requests', async () => {
    const a = await postJson(url(), messageBody('hi'));
    const b = await postJson(url(), messageBody('hi'));
    assert.ok(a.headers.get('request-id'));
    assert.notEqual(a.headers.get('request-id'), b.headers.get('request-id'));
    assert.notEqual(a.json.id, b.json.id, 'message ids differ');
  });

  test('temperature is accepted and named in x-proxy-unsupported', async () => {
    const r = await postJson(url(), messageBody('hi', { temperature: 0.2, top_k: 5 }));
    assert.equal(r.status, 200, r.text);
    const h = r.headers.get('x-proxy-unsupported') ?? '';
    assert.ok(h.split(/\s*,\s*/).includes('temperature'), `x-proxy-unsupported: ${h}`);
    assert.ok(h.split(/\s*,\s*/).includes('top_k'), `x-proxy-unsupported: ${h}`);
    const plain = await postJson(url(), messageBody('hi'));
    assert.equal(plain.headers.get('x-proxy-unsupported'), null);
  });

  test('streaming text (fetch): exact SSE grammar and text', async () => {
    const res = await fetch(url(), {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(messageBody('Say hello [[fake:text]]', { stream: true })),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    assert.ok(res.headers.get('request-id'));
    const events = assertSseGrammar(parseSse(await res.text()));
    assert.equal(sseText(events), TEXT);
    const start = events[0].data.message;
    assert.match(start.id, /^msg_/);
    assert.equal(start.model, 'claude-sonnet-4-5');
    assert.deepEqual(start.content, []);
    const delta = events.find((e) => e.event === 'message_delta').data;
    assert.equal(delta.delta.stop_reason, 'end_turn');
    assert.ok(delta.usage.output_tokens > 1);
  });

  test('streaming text (curl -N)', async () => {
    const r = curl(['-N', '-H', 'content-type: application/json', '--data-binary',
      JSON.stringify(messageBody('Say hello', { stream: true })), url()]);
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/event-stream/);
    assert.equal(sseText(assertSseGrammar(parseSse(r.body))), TEXT);
  });

  test('non-streaming text (curl)', async () => {
    const r = curl(['-H', 'content-type: application/json', '--data-binary',
      JSON.stringify(messageBody('Say hello')), url()]);
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).content[0].text, TEXT);
  });

  test('SDK messages.create', async () => {
    const { client } = await sdkClient(proxy);
    const m = await client.messages.create(messageBody('Say hello [[fake:text]]'));
    assert.equal(m.content[0].type, 'text');
    assert.equal(m.content[0].text, TEXT);
    assert.equal(m.stop_reason, 'end_turn');
  });

  test('SDK messages.create with stream:true', async () => {
    const { client } = await sdkClient(proxy);
    const stream = await client.messages.create(messageBody('Say hello', { stream: true }));
    const types = [];
    let text = '';
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
    }
    assert.equal(text, TEXT);
    assert.equal(types[0], 'message_start');
    assert.equal(types.at(-1), 'message_stop');
  });

  test('SDK messages.stream and finalMessage', async () => {
    const { client } = await sdkClient(proxy);
    const stream = client.messages.stream(messageBody('Say hello [[fake:text]]'));
    let text = '';
    stream.on('text', (t) => { text += t; });
    const m = await stream.finalMessage();
    assert.equal(text, TEXT);
    assert.deepEqual(m.content.map((b) => b.type), ['text']);
    assert.equal(m.content[0].text, TEXT);
    assert.equal(m.stop_reason, 'end_turn');
    assert.ok(m.usage.output_tokens > 1);
  });

  test('thinking requested: the thinking block comes first, then text', async () => {
    const body = messageBody('Say hello [[fake:thinking]] think-on', { thinking: { type: 'enabled', budget_tokens: 2048 } });
    const r = await postJson(url(), body);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.content.map((b) => b.type), ['thinking', 'text']);
    assert.equal(r.json.content[0].thinking, 'The user wants a greeting. I will keep it short.');
    assert.equal(r.json.content[0].signature, 'EqMBCkYIBxgCKkBmockSignatureBytes==');
    assert.equal(r.json.content[1].text, 'Hello there!');

    const res = await fetch(url(), {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, stream: true }),
    });
    const events = assertSseGrammar(parseSse(await res.text()));
    const starts = events.filter((e) => e.event === 'content_block_start');
    assert.deepEqual(starts.map((e) => [e.data.index, e.data.content_block.type]), [[0, 'thinking'], [1, 'text']]);
    assert.ok(events.some((e) => e.event === 'content_block_delta' && e.data.delta.type === 'signature_delta'));
    assert.equal(sseText(events), 'Hello there!');

    // By its marker: the last log in the directory need not be this request's.
    const log = await proxy.waitFakeLogFor('think-on');
    const cfg = cliSettings(log);
    assert.equal(cfg.thinking, undefined, `thinking must not be disabled: ${JSON.stringify(cfg)}`);
    assert.equal(cfg.maxThinkingTokens, 2048, `argv: ${log.argv.join(' ')}; ${JSON.stringify(cfg)}`);
  });

  test('thinking not requested: thinking blocks dropped, indices stay contiguous', async () => {
    proxy.clearFakeLogs();
    const body = messageBody('Say hello [[fake:thinking]] think-off');
    const r = await postJson(url(), body);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.content, [{ type: 'text', text: 'Hello there!' }]);
    const log = await proxy.waitFakeLogFor('think-off');
    const cfg = cliSettings(log);
    assert.equal(cfg.thinking, 'disabled', `argv: ${log.argv.join(' ')}; ${JSON.stringify(cfg)}`);

    const res = await fetch(url(), {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, stream: true }),
    });
    const events = assertSseGrammar(parseSse(await res.text()));
    const starts = events.filter((e) => e.event === 'content_block_start');
    assert.deepEqual(starts.map((e) => [e.data.index, e.data.content_block.type]), [[0, 'text']]);
    assert.ok(!events.some((e) => e.event === 'content_block_delta' && /thinking|signature/.test(e.data.delta.type)));
  });

  test('several upstream messages merge into one (non-streaming)', async () => {
    const r = await postJson(url(), messageBody('Write a long answer. [[fake:multi_message]]'));
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.content.every((b) => b.type === 'text'));
    assert.equal(r.json.content.map((b) => b.text).join(''), MULTI);
    assert.equal(r.json.stop_reason, 'end_turn', 'the last message decides stop_reason');
  });

  test('several upstream messages merge into one (streaming)', async () => {
    const res = await fetch(url(), {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(messageBody('Write a long answer. [[fake:multi_message]]', { stream: true })),
    });
    const events = assertSseGrammar(parseSse(await res.text()));
    assert.equal(sseText(events), MULTI);
    assert.equal(events.filter((e) => e.event === 'message_stop').length, 1);
    assert.equal(events.find((e) => e.event === 'message_delta').data.delta.stop_reason, 'end_turn');
  });

  test('an allowed_warning rate-limit event is not an error', async () => {
    const r = await postJson(url(), messageBody('Say hi [[fake:rate_limit_warning]]'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.content[0].text, 'Hi.');
  });

  test('garbage lines on the CLI stdout are ignored', async () => {
    const r = await postJson(url(), messageBody('Say hello [[fake:text garbage=1]]'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.content[0].text, TEXT);
    const res = await fetch(url(), {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(messageBody('Say hello [[fake:text garbage=1]]', { stream: true })),
    });
    assert.equal(sseText(assertSseGrammar(parseSse(await res.text()))), TEXT);
  });

  test('GET /v1/models lists models', async () => {
    const res = await fetch(`${proxy.url}/v1/models`);
    assert.equal(res.status, 200);
    const j = await res.json();
    assert.ok(Array.isArray(j.data) && j.data.length > 0, JSON.stringify(j));
    for (const m of j.data) {
      assert.equal(typeof m.id, 'string');
      assert.equal(m.type, 'model');
    }
  });
});
