// SPDX-License-Identifier: MIT
//
// OpenAI Responses: the CLI's thinking as `reasoning` output items (reasoning.effort or
// reasoning.summary turn it on), streamed with the real API's reasoning_summary events before
// the message, through the official `openai` client and raw SSE against the fake CLI (the
// recorded `thinking` transcript); and the request fields the response object repeats.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';

import { cliSettings, missing, NODE_DIR, parseSse, postJson, requireOrSkip, startProxy } from './lib/harness.mjs';

const nodeRequire = createRequire(path.join(NODE_DIR, 'package.json'));
requireOrSkip(missing() || (!fs.existsSync(path.join(NODE_DIR, 'node_modules', 'openai')) &&
  'the openai npm package is missing: run npm ci --prefix tests/node'));

let proxy, client;
before(async () => {
  proxy = await startProxy();
  const mod = await import(nodeRequire.resolve('openai'));
  const OpenAI = mod.default ?? mod.OpenAI;
  client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'sk-proxy-test', maxRetries: 0, timeout: 30000 });
});
after(async () => { await proxy?.stop(); });

const req = (input, extra = {}) => ({ model: 'claude-sonnet-4', input, ...extra });

describe('reasoning items', () => {
  test('non-streaming: a reasoning item with the thinking as summary_text, then the message', async () => {
    const r = await client.responses.create(req('Say hello [[fake:thinking]] RS-MARK-1',
      { reasoning: { effort: 'high', summary: 'auto' } }));
    assert.equal(r.status, 'completed');
    assert.deepEqual(r.output.map((o) => o.type), ['reasoning', 'message']);
    const rs = r.output[0];
    assert.match(rs.id, /^rs_/);
    assert.equal(rs.summary.length, 1);
    assert.equal(rs.summary[0].type, 'summary_text');
    assert.ok(rs.summary[0].text.length > 0);
    assert.ok(r.output_text.length > 0);
    assert.deepEqual(r.reasoning, { effort: 'high', summary: 'auto' });
    const log = await proxy.waitFakeLogFor('RS-MARK-1');
    assert.equal(cliSettings(log).effort, 'high');
  });

  test('streaming: reasoning_summary events in the real API\'s order, deltas adding up, before the text', async () => {
    const res = await fetch(`${proxy.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(req('Say hello [[fake:thinking]]', { stream: true, reasoning: { summary: 'auto' } })) });
    assert.equal(res.status, 200);
    const evs = parseSse(await res.text()).filter((e) => e.event);
    evs.forEach((e, i) => {
      assert.equal(e.data.type, e.event);
      assert.equal(e.data.sequence_number, i);
    });
    const names = evs.map((e) => e.event);
    const order = ['response.output_item.added', 'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta', 'response.reasoning_summary_text.done',
      'response.reasoning_summary_part.done', 'response.output_item.done'];
    let at = -1;
    for (const n of order) {
      const k = names.indexOf(n, at + 1);
      assert.ok(k > at, `${n} after index ${at} in ${names.join(' ')}`);
      at = k;
    }
    assert.ok(at < names.indexOf('response.output_text.delta'), 'the reasoning item closes before the text');
    const deltas = evs.filter((e) => e.event === 'response.reasoning_summary_text.delta');
    const done = evs.find((e) => e.event === 'response.reasoning_summary_text.done');
    assert.equal(deltas.map((e) => e.data.delta).join(''), done.data.text);
    for (const e of deltas) {
      assert.equal(e.data.output_index, 0);
      assert.equal(e.data.summary_index, 0);
      assert.equal(e.data.item_id, done.data.item_id);
    }
    const final = evs.at(-1).data.response;
    assert.equal(evs.at(-1).event, 'response.completed');
    assert.equal(final.output[0].summary[0].text, done.data.text);
    assert.equal(final.output[1].type, 'message');
  });

  test('the openai client\'s stream reads the reasoning', async () => {
    const stream = await client.responses.create(req('Say hello [[fake:thinking]]',
      { stream: true, reasoning: { effort: 'medium', summary: 'detailed' } }));
    let summary = '', text = '', final = null;
    for await (const e of stream) {
      if (e.type === 'response.reasoning_summary_text.delta') summary += e.delta;
      if (e.type === 'response.output_text.delta') text += e.delta;
      if (e.type === 'response.completed') final = e.response;
    }
    assert.ok(summary.length > 0 && text.length > 0);
    assert.equal(final.output[0].summary[0].text, summary);
  });

  test('no reasoning asked for: no reasoning item, even over a run that thought', async () => {
    const r = await client.responses.create(req('Say hello [[fake:thinking]]'));
    assert.deepEqual(r.output.map((o) => o.type), ['message']);
    assert.deepEqual(r.reasoning, { effort: null, summary: null });
  });
});

test('the response object repeats the request\'s fields', async () => {
  const body = req('Say hello [[fake:text]]', {
    instructions: 'Be brief.', temperature: 0.3, top_p: 0.9, max_output_tokens: 500, metadata: { run: 'x1' },
    tools: [{ type: 'function', name: 'f', parameters: { type: 'object', properties: {} } }],
    tool_choice: 'none', text: { format: { type: 'text' }, verbosity: 'low' }, store: false, user: 'u-1',
    parallel_tool_calls: false, prompt_cache_key: 'pk',
  });
  const r = await postJson(`${proxy.url}/v1/responses`, body);
  assert.equal(r.status, 200, r.text);
  for (const k of ['instructions', 'temperature', 'top_p', 'max_output_tokens', 'metadata', 'tools', 'tool_choice',
    'text', 'store', 'user', 'parallel_tool_calls', 'prompt_cache_key'])
    assert.deepEqual(r.json[k], body[k], k);
  assert.equal(r.json.previous_response_id, null);
  assert.deepEqual(r.json.reasoning, { effort: null, summary: null });
  // Streamed too: the created and completed events carry the same.
  const res = await fetch(`${proxy.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }) });
  const evs = parseSse(await res.text()).filter((e) => e.event);
  for (const e of [evs[0], evs.at(-1)]) {
    assert.equal(e.data.response.instructions, 'Be brief.');
    assert.deepEqual(e.data.response.metadata, { run: 'x1' });
  }
});
