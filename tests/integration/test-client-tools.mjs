// SPDX-License-Identifier: MIT
//
// Client tools (function calling) over the fake CLI, through the official SDKs, with the warm
// pool on and off: the request's tools reach the CLI as the sdk MCP server "cp" (declared in the
// one initialize, listed with readOnlyHint), the model's tool_use comes back under the client's
// own name with stop_reason tool_use, the run ends with `interrupt` (never stdin EOF while the
// call is pending), and the follow-up's history carries real tool_use/tool_result blocks.
// The fake follows the recorded transcript tools_park_interrupt (CLI 2.1.197, s2b).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  childrenOf, conversationLines, missing, postJson, requireOrSkip, sdkClient, waitFor, withProxy,
} from './lib/harness.mjs';

requireOrSkip(missing({ sdk: true }));

const TOOLS = [
  { name: 'lookup', description: 'Look up a value by key.',
    input_schema: { type: 'object', properties: { key: { type: 'string', description: 'the key' } },
      required: ['key'], additionalProperties: false } },
  { name: 'add', description: 'Add two integers.',
    input_schema: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } },
      required: ['a', 'b'] } },
];
const PARK = '[[fake:tools_park_interrupt]]';
// 1x1 PNG.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

function body(text, extra = {}) {
  return { model: 'claude-sonnet-4-5', max_tokens: 256, tools: TOOLS, messages: [{ role: 'user', content: text }],
    ...extra };
}

// The fake's run for `marker` has ended (interrupted, then EOF) and checks every step of it.
async function assertToolRun(proxy, marker) {
  const log = await proxy.waitFakeLogFor(marker, (l) => l.state === 'exited', 20000);
  assert.ok(log.argv.join(' ').includes('--allowedTools mcp__cp'), log.argv.join(' '));
  assert.equal(log.initialize_count, 1, 'one initialize per process');
  assert.equal(log.interrupted, true, 'the run was ended with interrupt');
  assert.equal(log.eof_while_parked, undefined, 'stdin stayed open while the call was pending');
  const list = log.mcp_responses.find((r) => r?.result?.tools);
  assert.deepEqual(list.result.tools.map((t) => t.name), ['lookup', 'add']);
  assert.deepEqual(list.result.tools[0].inputSchema, TOOLS[0].input_schema);
  assert.equal(list.result.tools[0].description, TOOLS[0].description);
  assert.equal(list.result.tools[0].annotations.readOnlyHint, true);
  assert.equal(log.mcp_responses[0].result.capabilities.tools !== undefined, true, 'initialize answered');
  return log;
}

for (const pool of ['0', '1']) {
  describe(`client tools, Anthropic Messages, WARM_POOL=${pool}`, { concurrency: false }, () => {
    test('non-streaming: tool_use under the client\'s name, stop_reason tool_use, run interrupted', async () => {
      await withProxy({ env: { WARM_POOL: pool } }, async (proxy) => {
        const { client } = await sdkClient(proxy);
        const m = await client.messages.create(body(`${PARK} Look up alpha. m-ns-${pool}`));
        assert.equal(m.stop_reason, 'tool_use');
        assert.deepEqual(m.content, [
          { type: 'text', text: 'Looking it up.' },
          { type: 'tool_use', id: 'toolu_mock_lookup_1', name: 'lookup', input: { key: 'alpha' } },
        ]);
        await assertToolRun(proxy, `m-ns-${pool}`);
        await waitFor(() => childrenOf(proxy.pid).length <= Number(pool), 20000, 'the tool run\'s CLI to go');
      });
    });

    test('streaming: input_json_delta, then a follow-up with tool_result history', async () => {
      await withProxy({ env: { WARM_POOL: pool } }, async (proxy) => {
        const { client } = await sdkClient(proxy);
        const s = client.messages.stream(body(`${PARK} Look up alpha. m-st-${pool}`));
        const deltas = [];
        s.on('inputJson', (d) => deltas.push(d));
        const m = await s.finalMessage();
        assert.equal(m.stop_reason, 'tool_use');
        const use = m.content.find((b) => b.type === 'tool_use');
        assert.equal(use.name, 'lookup');
        assert.deepEqual(use.input, { key: 'alpha' });
        assert.equal(deltas.join(''), '{"key": "alpha"}');
        await assertToolRun(proxy, `m-st-${pool}`);

        // The client ran the tool: its result (an error with an image) goes back as history.
        const follow = await client.messages.create(body(`and now? m-fu-${pool}`, {
          messages: [
            { role: 'user', content: 'Look up alpha.' },
            { role: 'assistant', content: m.content },
            { role: 'user', content: [
              { type: 'tool_result', tool_use_id: use.id, is_error: true, content: [
                { type: 'text', text: 'no such key' },
                { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } }] },
              { type: 'text', text: `and now? m-fu-${pool}` }] },
          ],
        }));
        assert.equal(follow.stop_reason, 'end_turn');
        const log = await proxy.waitFakeLogFor(`m-fu-${pool}`, (l) => l.state === 'exited', 20000);
        const lines = conversationLines(log);
        const asst = lines.find((l) => l.type === 'assistant');
        assert.deepEqual(asst.message.content[1],
          { type: 'tool_use', id: 'toolu_mock_lookup_1', name: 'mcp__cp__lookup', input: { key: 'alpha' } });
        assert.ok(asst.message.id, 'the assistant line has its own message id');
        const last = lines.at(-1).message.content;
        assert.equal(last[0].type, 'tool_result');
        assert.equal(last[0].is_error, true);
        assert.equal(last[0].content[1].type, 'image');
      });
    });
  });
}

describe('client tools: refused before any CLI starts, and tool_choice', { concurrency: false }, () => {
  test('bad tools, unknown tool_use_id: 400 naming the field, no child', async () => {
    await withProxy({ env: { WARM_POOL: '0' } }, async (proxy) => {
      const url = `${proxy.url}/v1/messages`;
      const cases = [
        [{ tools: [{ name: 'bad name', input_schema: { type: 'object' } }] }, 'tools.0.name'],
        [{ tools: [{ name: 'x'.repeat(56), input_schema: { type: 'object' } }] }, 'tools.0.name'],
        [{ tools: [TOOLS[0], { name: 'lookup', input_schema: { type: 'object' } }] }, 'tools.1.name'],
        [{ tools: [{ name: 'ok', input_schema: { type: 'string' } }] }, 'tools.0.input_schema'],
        [{ tools: [{ name: 'ok', input_schema: 'nope' }] }, 'tools.0.input_schema'],
        [{ tool_choice: { type: 'tool', name: 'missing' } }, 'tool_choice.name'],
        [{ messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_nowhere', content: 'x' }] }] },
          'messages.0.content.0.tool_use_id'],
      ];
      for (const [extra, param] of cases) {
        const r = await postJson(url, body('hi', extra));
        assert.equal(r.status, 400, `${JSON.stringify(extra)}: ${r.text}`);
        assert.equal(r.json.type, 'error');
        assert.equal(r.json.error.type, 'invalid_request_error');
        assert.match(r.json.error.message, new RegExp(param.replace(/\./g, '\\.')), r.text);
      }
      assert.equal(proxy.servedLogs().length, 0, 'no CLI was given any of them');
    });
  });

  test('tool_choice none: no tools offered; any: approximated and said so', async () => {
    await withProxy({ env: { WARM_POOL: '0' } }, async (proxy) => {
      const url = `${proxy.url}/v1/messages`;
      let r = await postJson(url, body('hi tc-none', { tool_choice: { type: 'none' } }));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-proxy-approximated'), null);
      let log = await proxy.waitFakeLogFor('tc-none', (l) => l.state === 'exited', 20000);
      assert.equal(log.initialize_count, undefined, 'no server declared');

      r = await postJson(url, body('hi tc-any', { tool_choice: { type: 'any' } }));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-proxy-approximated'), 'tool_choice');
      log = await proxy.waitFakeLogFor('tc-any', (l) => l.state === 'exited', 20000);
      assert.match(JSON.stringify(conversationLines(log)), /calling one of your tools/);

      r = await postJson(url, body('hi tc-auto'));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-proxy-approximated'), null);
    });
  });
});
