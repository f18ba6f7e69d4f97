// SPDX-License-Identifier: MIT
//
// Client tools with the REAL Claude Code CLI against the scripted mock: the tools reach upstream
// as mcp__cp__<name> with their schemas, the mock's tool_use comes back to the client under its
// own name (single and parallel calls), exactly one upstream call is made for that turn (the run
// is ended with interrupt, not stdin EOF, which would call the model again), no CLI is left, and
// the follow-up's tool_result reaches upstream as a real tool_result block.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  NODE_DIR, REAL_CLI, childrenOf, loadMock, missing, realCliEnv, requireOrSkip, sdkClient, sleep, startMock, startProxy, waitFor,
} from './lib/harness.mjs';

const mockMod = await loadMock();
requireOrSkip(missing({ fake: false, realCli: true, sdk: true }) || (!mockMod && 'tests/mock/anthropic-mock.mjs missing'));

const TOOLS = [
  { name: 'lookup', description: 'Look up a value by key.',
    input_schema: { type: 'object', properties: { key: { type: 'string' } }, required: ['key'] } },
  { name: 'add', description: 'Add two integers.',
    input_schema: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } },
      required: ['a', 'b'] } },
];

async function openaiClient(proxy) {
  const mod = await import(createRequire(path.join(NODE_DIR, 'package.json')).resolve('openai'));
  const OpenAI = mod.default ?? mod.OpenAI;
  return new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 60000 });
}

function body(messages, extra = {}) {
  return { model: 'claude-sonnet-4-5', max_tokens: 256, tools: TOOLS, messages, ...extra };
}

for (const pool of ['1', '0']) {
  describe(`client tools with the real CLI, WARM_POOL=${pool}`, { concurrency: false }, () => {
    let mock, proxy;
    const posts = () => mock.requests.filter((r) => r.method === 'POST' && /\/v1\/messages/.test(r.path)
      && !/count_tokens/.test(r.path));

    before(async () => {
      mock = await startMock();
      proxy = await startProxy({
        claudePath: REAL_CLI,
        env: realCliEnv(mock.url, { WARM_POOL: pool }),
      });
    });
    after(async () => {
      await proxy?.stop();
      await mock?.close();
    });

    async function noToolRunLeft() {
      // The pooled process (if any) refills; the interrupted run's CLI must go.
      await waitFor(() => childrenOf(proxy.pid).length <= Number(pool), 30000, 'the interrupted CLI to exit');
    }

    test('a tool call: tool_use to the client, one upstream call, then a tool_result round trip', async () => {
      const { client } = await sdkClient(proxy, { timeout: 60000 });
      mock.setScript({ queue: [{ content: [
        { type: 'text', text: 'Looking it up.' },
        { type: 'tool_use', id: 'toolu_real_1', name: 'mcp__cp__lookup', input: { key: 'alpha' } }] }],
      default: { content: [{ type: 'text', text: 'alpha is 42.' }] } });
      const n0 = posts().length;
      const m = await client.messages.create(body([{ role: 'user', content: 'Look up alpha.' }]));
      assert.equal(m.stop_reason, 'tool_use');
      assert.deepEqual(m.content.at(-1), { type: 'tool_use', id: 'toolu_real_1', name: 'lookup', input: { key: 'alpha' } });
      const up = posts().at(-1).body;
      const names = up.tools.map((t) => t.name);
      assert.deepEqual(names.filter((n) => n.startsWith('mcp__cp__')).sort(), ['mcp__cp__add', 'mcp__cp__lookup']);
      const lookup = up.tools.find((t) => t.name === 'mcp__cp__lookup');
      assert.deepEqual(lookup.input_schema.properties, TOOLS[0].input_schema.properties);
      await noToolRunLeft();
      await sleep(300);
      assert.equal(posts().length - n0, 1, 'one upstream call: the CLI did not call the model again');

      const s = client.messages.stream(body([
        { role: 'user', content: 'Look up alpha.' },
        { role: 'assistant', content: m.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_real_1', content: '42' }] },
      ]));
      const final = await s.finalMessage();
      assert.equal(final.stop_reason, 'end_turn');
      assert.equal(final.content[0].text, 'alpha is 42.');
      const msgs = posts().at(-1).body.messages;
      const blocks = msgs.flatMap((x) => Array.isArray(x.content) ? x.content : []);
      assert.ok(blocks.some((b) => b.type === 'tool_use' && b.id === 'toolu_real_1' && b.name === 'mcp__cp__lookup'),
        JSON.stringify(msgs));
      assert.ok(blocks.some((b) => b.type === 'tool_result' && b.tool_use_id === 'toolu_real_1'), JSON.stringify(msgs));
    });

    test('parallel calls, streaming: both tool_use blocks, distinct ids, input_json_delta', async () => {
      const { client } = await sdkClient(proxy, { timeout: 60000 });
      mock.setScript({ queue: [{ chunk: 4, content: [
        { type: 'tool_use', id: 'toolu_par_A', name: 'mcp__cp__lookup', input: { key: 'alpha' } },
        { type: 'tool_use', id: 'toolu_par_B', name: 'mcp__cp__add', input: { a: 2, b: 3 } }] }],
      default: { content: [{ type: 'text', text: 'unexpected second call' }] } });
      const n0 = posts().length;
      const s = client.messages.stream(body([{ role: 'user', content: 'Both, please.' }]));
      let json = '';
      s.on('inputJson', (d) => { json += d; });
      const m = await s.finalMessage();
      assert.equal(m.stop_reason, 'tool_use');
      assert.deepEqual(m.content.map((b) => [b.type, b.id, b.name]),
        [['tool_use', 'toolu_par_A', 'lookup'], ['tool_use', 'toolu_par_B', 'add']]);
      assert.deepEqual(m.content[1].input, { a: 2, b: 3 });
      assert.ok(json.length > 0, 'input_json_delta streamed');
      await noToolRunLeft();
      await sleep(300);
      assert.equal(posts().length - n0, 1, 'one upstream call');
    });

    test('tool_choice none offers nothing upstream; any is asked for in the system prompt', async () => {
      const { client } = await sdkClient(proxy, { timeout: 60000 });
      mock.setScript({ default: { content: [{ type: 'text', text: 'plain' }] } });
      const m = await client.messages.create(body([{ role: 'user', content: 'No tools now.' }],
        { tool_choice: { type: 'none' } }));
      assert.equal(m.stop_reason, 'end_turn');
      const up = posts().at(-1).body;
      assert.ok(!(up.tools ?? []).some((t) => t.name.startsWith('mcp__cp__')), JSON.stringify(up.tools));

      const r = await client.messages.create(body([{ role: 'user', content: 'Use one.' }],
        { tool_choice: { type: 'any' } })).asResponse();
      assert.equal(r.headers.get('x-proxy-approximated'), 'tool_choice');
      assert.match(JSON.stringify(posts().at(-1).body), /calling one of your tools/);
    });

    // Measured here: CLI 2.1.197 forwards a tool_result's image, but keeps only the text blocks
    // of an is_error result (the proxy hands both over unchanged).
    test('tool_results reach upstream as real blocks: is_error kept, an image kept', async () => {
      const { client } = await sdkClient(proxy, { timeout: 60000 });
      const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
      mock.setScript({ default: { content: [{ type: 'text', text: 'I see it.' }] } });
      for (const isError of [true, false]) {
        const m = await client.messages.create(body([
          { role: 'user', content: 'Look up alpha.' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_res_1', name: 'lookup', input: { key: 'alpha' } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_res_1', ...(isError ? { is_error: true } : {}),
            content: [{ type: 'text', text: 'result text' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } }] }] },
        ]));
        assert.equal(m.content[0].text, 'I see it.');
        const blocks = posts().at(-1).body.messages.flatMap((x) => Array.isArray(x.content) ? x.content : []);
        assert.ok(blocks.some((b) => b.type === 'tool_use' && b.name === 'mcp__cp__lookup'));
        const res = blocks.find((b) => b.type === 'tool_result');
        assert.equal(res.tool_use_id, 'toolu_res_1');
        assert.equal(res.content[0].text, 'result text');
        if (isError)
          assert.equal(res.is_error, true);
        else
          assert.equal(res.content[1].source.data, PNG, JSON.stringify(res));
      }
    });

    test('Chat Completions, streaming: tool_calls with streamed arguments', async () => {
      const client = await openaiClient(proxy);
      mock.setScript({ queue: [{ chunk: 5, content: [
        { type: 'tool_use', id: 'toolu_chat_1', name: 'mcp__cp__add', input: { a: 2, b: 3 } }] }],
      default: { content: [{ type: 'text', text: 'unexpected second call' }] } });
      const n0 = posts().length;
      const stream = await client.chat.completions.create({ model: 'claude-sonnet-4-5', stream: true,
        tools: TOOLS.map((t) => ({ type: 'function', function: { name: t.name, description: t.description,
          parameters: t.input_schema } })),
        messages: [{ role: 'user', content: 'Add 2 and 3.' }] });
      let id = null, name = null, args = '', finish = null;
      for await (const c of stream) {
        for (const tc of c.choices[0]?.delta?.tool_calls ?? []) {
          id ??= tc.id;
          name ??= tc.function?.name;
          args += tc.function?.arguments ?? '';
        }
        finish = c.choices[0]?.finish_reason ?? finish;
      }
      assert.equal(finish, 'tool_calls');
      assert.equal(id, 'toolu_chat_1');
      assert.equal(name, 'add');
      assert.deepEqual(JSON.parse(args), { a: 2, b: 3 });
      await noToolRunLeft();
      assert.equal(posts().length - n0, 1, 'one upstream call');
    });

    test('Responses, non-streaming: a function_call item', async () => {
      const client = await openaiClient(proxy);
      mock.setScript({ queue: [{ content: [
        { type: 'tool_use', id: 'toolu_resp_1', name: 'mcp__cp__lookup', input: { key: 'beta' } }] }],
      default: { content: [{ type: 'text', text: 'unexpected second call' }] } });
      const r = await client.responses.create({ model: 'claude-sonnet-4-5', input: 'Look up beta.',
        tools: TOOLS.map((t) => ({ type: 'function', name: t.name, description: t.description,
          parameters: t.input_schema })) });
      const call = r.output.find((i) => i.type === 'function_call');
      assert.equal(call.call_id, 'toolu_resp_1');
      assert.equal(call.name, 'lookup');
      assert.deepEqual(JSON.parse(call.arguments), { key: 'beta' });
      await noToolRunLeft();
    });
  });
}

describe('parking with the real CLI (TOOL_PARK_MS)', { concurrency: false }, () => {
  let mock, proxy;
  const posts = () => mock.requests.filter((r) => r.method === 'POST' && /\/v1\/messages/.test(r.path)
    && !/count_tokens/.test(r.path));

  before(async () => {
    mock = await startMock();
    proxy = await startProxy({
      claudePath: REAL_CLI,
      env: realCliEnv(mock.url, { WARM_POOL: '0', TOOL_PARK_MS: '60000' }),
    });
  });
  after(async () => {
    await proxy?.stop();
    await mock?.close();
  });

  test('the follow-up continues the parked process: no replay, the result reaches upstream', async () => {
    const { client } = await sdkClient(proxy, { timeout: 60000 });
    mock.setScript({ queue: [{ content: [
      { type: 'text', text: 'Looking it up.' },
      { type: 'tool_use', id: 'toolu_park_1', name: 'mcp__cp__lookup', input: { key: 'alpha' } }] }],
    default: { content: [{ type: 'text', text: 'alpha is 42.' }] } });
    const n0 = posts().length;
    const first = [{ role: 'user', content: 'Look up alpha.' }];
    const m = await client.messages.create(body(first));
    assert.equal(m.stop_reason, 'tool_use');
    // Parked (the proxy says so), then still there: a run ended at the reply would be gone.
    await proxy.waitHealth((h) => h.parked === 1, 10000,
      '/health to count the parked run');
    const parked = childrenOf(proxy.pid);
    assert.equal(parked.length, 1, 'the parked CLI is still there');

    const s = client.messages.stream(body([...first, { role: 'assistant', content: m.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_park_1', content: '42' }] }]));
    const final = await s.finalMessage();
    assert.equal(final.content[0].text, 'alpha is 42.');
    assert.equal(posts().length - n0, 2, 'two upstream calls: one per turn, nothing replayed');
    const up = posts().at(-1).body.messages;
    const res = up.flatMap((x) => Array.isArray(x.content) ? x.content : []).find((b) => b.type === 'tool_result');
    assert.equal(res.tool_use_id, 'toolu_park_1');
    // The CLI made it from the MCP answer (content blocks), not from replayed history (the string).
    assert.deepEqual(res.content, [{ type: 'text', text: '42' }], JSON.stringify(res));
    await waitFor(() => childrenOf(proxy.pid).length === 0, 30000, 'the run to end after its answer');
  });
});
