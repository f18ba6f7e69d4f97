// SPDX-License-Identifier: MIT
//
// Client tools (function calling) over the fake CLI, through the official SDKs, with the warm
// pool on and off: the request's tools reach the CLI as the sdk MCP server "cp" (declared in the
// one initialize, listed with readOnlyHint), the model's tool_use comes back under the client's
// own name with stop_reason tool_use, the run ends with `interrupt` (never stdin EOF while the
// call is pending), and the follow-up's history carries real tool_use/tool_result blocks.
// The fake follows the recorded transcript s2b_park_then_interrupt (CLI 2.1.197).

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, test } from 'node:test';

import {
  NODE_DIR, childrenOf, conversationLines, missing, pidAlive, postJson, requireOrSkip, sdkClient, startProxy, waitFor,
  withProxy,
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
const PARK = '[[fake:s2b_park_then_interrupt]]';
// 1x1 PNG.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

async function openaiClient(proxy) {
  const mod = await import(createRequire(path.join(NODE_DIR, 'package.json')).resolve('openai'));
  const OpenAI = mod.default ?? mod.OpenAI;
  return new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'sk-proxy-test', maxRetries: 0, timeout: 30000 });
}

// The same tools as OpenAI function tools.
const FUNCTIONS = TOOLS.map((t) => ({ type: 'function',
  function: { name: t.name, description: t.description, parameters: t.input_schema } }));

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

for (const pool of ['0', '1']) {
  describe(`client tools, OpenAI Chat Completions, WARM_POOL=${pool}`, { concurrency: false }, () => {
    test('non-streaming: tool_calls, finish_reason tool_calls', async () => {
      await withProxy({ env: { WARM_POOL: pool } }, async (proxy) => {
        const client = await openaiClient(proxy);
        const r = await client.chat.completions.create({ model: 'claude-sonnet-4-5', tools: FUNCTIONS,
          messages: [{ role: 'user', content: `${PARK} Look up alpha. c-ns-${pool}` }] });
        const ch = r.choices[0];
        assert.equal(ch.finish_reason, 'tool_calls');
        assert.equal(ch.message.content, 'Looking it up.');
        assert.deepEqual(ch.message.tool_calls.map((c) => [c.id, c.type, c.function.name, JSON.parse(c.function.arguments)]),
          [['toolu_mock_lookup_1', 'function', 'lookup', { key: 'alpha' }]]);
        await assertToolRun(proxy, `c-ns-${pool}`);
      });
    });

    test('streaming: arguments streamed, then a role:"tool" follow-up as tool_result history', async () => {
      await withProxy({ env: { WARM_POOL: pool } }, async (proxy) => {
        const client = await openaiClient(proxy);
        const stream = await client.chat.completions.create({ model: 'claude-sonnet-4-5', tools: FUNCTIONS,
          stream: true, messages: [{ role: 'user', content: `${PARK} Look up alpha. c-st-${pool}` }] });
        const calls = [];
        let finish = null, argChunks = 0;
        for await (const c of stream) {
          const d = c.choices[0]?.delta;
          for (const tc of d?.tool_calls ?? []) {
            calls[tc.index] ??= { id: tc.id, name: tc.function?.name, args: '' };
            if (tc.function?.arguments) { calls[tc.index].args += tc.function.arguments; argChunks++; }
          }
          finish = c.choices[0]?.finish_reason ?? finish;
        }
        assert.equal(finish, 'tool_calls');
        assert.equal(calls.length, 1);
        assert.equal(calls[0].id, 'toolu_mock_lookup_1');
        assert.equal(calls[0].name, 'lookup');
        assert.deepEqual(JSON.parse(calls[0].args), { key: 'alpha' });
        assert.ok(argChunks > 1, 'arguments came in several chunks');
        await assertToolRun(proxy, `c-st-${pool}`);

        const r = await client.chat.completions.create({ model: 'claude-sonnet-4-5', tools: FUNCTIONS, messages: [
          { role: 'user', content: 'Look up alpha.' },
          { role: 'assistant', content: null, tool_calls: [{ id: calls[0].id, type: 'function',
            function: { name: 'lookup', arguments: calls[0].args } }] },
          { role: 'tool', tool_call_id: calls[0].id, content: 'value-of-alpha' },
          { role: 'user', content: `so? c-fu-${pool}` },
        ] });
        assert.equal(r.choices[0].finish_reason, 'stop');
        const log = await proxy.waitFakeLogFor(`c-fu-${pool}`, (l) => l.state === 'exited', 20000);
        const lines = conversationLines(log);
        const use = lines.find((l) => l.type === 'assistant').message.content[0];
        assert.equal(use.name, 'mcp__cp__lookup');
        assert.deepEqual(use.input, { key: 'alpha' });
        assert.equal(lines.at(-1).message.content[0].type, 'tool_result');
        assert.equal(lines.at(-1).message.content[0].tool_use_id, 'toolu_mock_lookup_1');
      });
    });
  });
}

// The same tools as Responses function tools (flat).
const RESP_TOOLS = TOOLS.map((t) => ({ type: 'function', name: t.name, description: t.description,
  parameters: t.input_schema }));

for (const pool of ['0', '1']) {
  describe(`client tools, OpenAI Responses, WARM_POOL=${pool}`, { concurrency: false }, () => {
    test('non-streaming: a function_call item', async () => {
      await withProxy({ env: { WARM_POOL: pool } }, async (proxy) => {
        const client = await openaiClient(proxy);
        const r = await client.responses.create({ model: 'claude-sonnet-4-5', tools: RESP_TOOLS,
          input: `${PARK} Look up alpha. r-ns-${pool}` });
        const calls = r.output.filter((i) => i.type === 'function_call');
        assert.equal(calls.length, 1, JSON.stringify(r.output));
        assert.equal(calls[0].call_id, 'toolu_mock_lookup_1');
        assert.equal(calls[0].name, 'lookup');
        assert.deepEqual(JSON.parse(calls[0].arguments), { key: 'alpha' });
        assert.equal(r.output_text, 'Looking it up.');
        await assertToolRun(proxy, `r-ns-${pool}`);
      });
    });

    test('streaming: function_call_arguments deltas, then function_call_output as tool_result', async () => {
      await withProxy({ env: { WARM_POOL: pool } }, async (proxy) => {
        const client = await openaiClient(proxy);
        const stream = await client.responses.create({ model: 'claude-sonnet-4-5', tools: RESP_TOOLS, stream: true,
          input: `${PARK} Look up alpha. r-st-${pool}` });
        let args = '', deltas = 0, done = null, added = null, completed = null;
        for await (const e of stream) {
          if (e.type === 'response.function_call_arguments.delta') { args += e.delta; deltas++; }
          if (e.type === 'response.function_call_arguments.done') done = e;
          if (e.type === 'response.output_item.added' && e.item.type === 'function_call') added = e.item;
          if (e.type === 'response.completed') completed = e.response;
        }
        assert.equal(added.name, 'lookup');
        assert.equal(added.call_id, 'toolu_mock_lookup_1');
        assert.ok(deltas > 1, 'arguments streamed in pieces');
        assert.deepEqual(JSON.parse(args), { key: 'alpha' });
        assert.equal(done.arguments, args);
        assert.ok(completed.output.some((i) => i.type === 'function_call' && i.arguments === args));
        await assertToolRun(proxy, `r-st-${pool}`);

        const r = await client.responses.create({ model: 'claude-sonnet-4-5', tools: RESP_TOOLS, input: [
          { role: 'user', content: 'Look up alpha.' },
          { type: 'function_call', call_id: added.call_id, name: 'lookup', arguments: args },
          { type: 'function_call_output', call_id: added.call_id, output: 'value-of-alpha' },
          { role: 'user', content: `so? r-fu-${pool}` },
        ] });
        assert.equal(r.status, 'completed');
        const log = await proxy.waitFakeLogFor(`r-fu-${pool}`, (l) => l.state === 'exited', 20000);
        const lines = conversationLines(log);
        assert.equal(lines.find((l) => l.type === 'assistant').message.content[0].name, 'mcp__cp__lookup');
        assert.equal(lines.at(-1).message.content[0].tool_use_id, 'toolu_mock_lookup_1');
      });
    });
  });
}

describe('client tools with a late system prompt', () => {
  test('pooled: the server and the appended prompt share the one initialize', async () => {
    await withProxy({ env: { WARM_POOL: '1', SYSTEM_PROMPT_MODE: 'append' } }, async (proxy) => {
      const { client } = await sdkClient(proxy);
      await proxy.waitHealth((h) => h.pool.ready === 1, 20000,
        'a pooled CLI');
      const m = await client.messages.create(body(`${PARK} Look up alpha. m-sys`, { system: 'SYS-TOOLS-MARK' }));
      assert.equal(m.stop_reason, 'tool_use');
      const log = await assertToolRun(proxy, 'm-sys');
      assert.equal(log.stdin[0]?.request?.subtype, 'mcp_status', 'it ran on the pooled process');
      const inits = log.stdin.filter((l) => l?.request?.subtype === 'initialize');
      assert.equal(inits.length, 1);
      assert.equal(inits[0].request.appendSystemPrompt, 'SYS-TOOLS-MARK');
      assert.deepEqual(inits[0].request.sdkMcpServers, ['cp']);
    });
  });
});

describe('client tools: a CLI that does not end after the interrupt', () => {
  test('is killed about 10 s after the reply, which was not held up', async () => {
    await withProxy({ env: { WARM_POOL: '0', REQUEST_TIMEOUT_MS: '300000', IDLE_TIMEOUT_MS: '300000' } }, async (proxy) => {
      const { client } = await sdkClient(proxy);
      const t0 = Date.now();
      const m = await client.messages.create(body(`[[fake:s2b_park_then_interrupt ignore_interrupt=1]] q m-stuck`));
      assert.equal(m.stop_reason, 'tool_use');
      const log = await proxy.waitFakeLogFor('m-stuck', (l) => l.state === 'ignoring_interrupt', 20000);
      assert.ok(childrenOf(proxy.pid).includes(log.pid), 'still there after the reply');
      await waitFor(() => !childrenOf(proxy.pid).includes(log.pid), 40000, 'the stuck CLI to be killed');
      const took = Date.now() - t0;
      assert.ok(took >= 9000, `killed after ${took} ms, before its 10 s`);
    });
  });
});

// Parking (TOOL_PARK_MS): the fake follows s2a_park_tools_call_15s, the recorded run whose
// tools/call was answered after a wait, so the same process goes on with the second message.
const PARKED = '[[fake:s2a_park_tools_call_15s]]';

function followUp(first, content) {
  return [
    { role: 'user', content: first },
    { role: 'assistant', content },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_mock_lookup_1', content: 'value-of-alpha' }] },
  ];
}

describe('client tools: parking (TOOL_PARK_MS)', { concurrency: false }, () => {
  for (const pool of ['0', '1']) {
    test(`WARM_POOL=${pool}: one process answers both turns, its tools/call answered with the result`, async () => {
      await withProxy({ env: { WARM_POOL: pool, TOOL_PARK_MS: '60000' } }, async (proxy) => {
        const { client } = await sdkClient(proxy);
        const first = `${PARKED} Look up alpha. p-one-${pool}`;
        const m = await client.messages.create(body(first));
        assert.equal(m.stop_reason, 'tool_use');
        const parked = await proxy.waitFakeLogFor(`p-one-${pool}`, (l) => l.state === 'parked', 20000);

        const s = client.messages.stream(body('', { messages: followUp(first, m.content) }));
        const final = await s.finalMessage();
        assert.equal(final.stop_reason, 'end_turn');
        assert.equal(final.content.map((b) => b.text).join(''), 'The value is value-of-alpha.');
        const log = await proxy.waitFakeLogFor(`p-one-${pool}`, (l) => l.state === 'exited', 20000);
        assert.equal(log.pid, parked.pid, 'the same process');
        assert.equal(log.env.MCP_TOOL_TIMEOUT, '70000', 'the CLI\'s own bound is behind the park\'s');
        assert.equal(proxy.fakeLogs().filter((l) => JSON.stringify(l.stdin).includes(`p-one-${pool}`)).length, 1,
          'no second process for the follow-up');
        assert.deepEqual(log.tool_answer.result, { content: [{ type: 'text', text: 'value-of-alpha' }], isError: false });
        assert.equal(log.interrupted, undefined);
        assert.equal(conversationLines(log).filter((l) => l.type === 'user').length, 1, 'no replayed history');
        await waitFor(() => childrenOf(proxy.pid).length <= Number(pool), 20000, 'the run to end');
      });
    });
  }

  test('Chat Completions and Responses: the follow-up continues the parked process', async () => {
    await withProxy({ env: { WARM_POOL: '0', TOOL_PARK_MS: '60000' } }, async (proxy) => {
      const client = await openaiClient(proxy);
      const first = `${PARKED} Look up alpha. p-chat`;
      const r1 = await client.chat.completions.create({ model: 'claude-sonnet-4-5', tools: FUNCTIONS,
        messages: [{ role: 'user', content: first }] });
      const msg = r1.choices[0].message;
      assert.equal(r1.choices[0].finish_reason, 'tool_calls');
      const parked = await proxy.waitFakeLogFor('p-chat', (l) => l.state === 'parked', 20000);
      const r2 = await client.chat.completions.create({ model: 'claude-sonnet-4-5', tools: FUNCTIONS, messages: [
        { role: 'user', content: first }, msg,
        { role: 'tool', tool_call_id: msg.tool_calls[0].id, content: 'value-of-alpha' }] });
      assert.equal(r2.choices[0].message.content, 'The value is value-of-alpha.');
      const log = await proxy.waitFakeLogFor('p-chat', (l) => l.state === 'exited', 20000);
      assert.equal(log.pid, parked.pid, 'the same process');

      const rfirst = `${PARKED} Look up alpha. p-resp`;
      const q1 = await client.responses.create({ model: 'claude-sonnet-4-5', tools: RESP_TOOLS, input: rfirst });
      const call = q1.output.find((i) => i.type === 'function_call');
      const rparked = await proxy.waitFakeLogFor('p-resp', (l) => l.state === 'parked', 20000);
      const q2 = await client.responses.create({ model: 'claude-sonnet-4-5', tools: RESP_TOOLS, input: [
        { role: 'user', content: rfirst },
        ...q1.output.map(({ id, status, ...item }) => item),
        { type: 'function_call_output', call_id: call.call_id, output: 'value-of-alpha' }] });
      assert.equal(q2.output_text, 'The value is value-of-alpha.');
      assert.equal((await proxy.waitFakeLogFor('p-resp', (l) => l.state === 'exited', 20000)).pid, rparked.pid);
    });
  });

  test('the deadline passing ends the parked run; a partial match ends it and runs cold', async () => {
    await withProxy({ env: { WARM_POOL: '0', TOOL_PARK_MS: '1000' } }, async (proxy) => {
      const { client } = await sdkClient(proxy);
      let m = await client.messages.create(body(`${PARKED} Look up alpha. p-late`));
      assert.equal(m.stop_reason, 'tool_use');
      const late = await proxy.waitFakeLogFor('p-late', (l) => l.interrupted === true, 20000);
      await waitFor(() => !childrenOf(proxy.pid).includes(late.pid), 30000, 'the parked run past its deadline to go');
    });
    await withProxy({ env: { WARM_POOL: '0', TOOL_PARK_MS: '60000' } }, async (proxy) => {
      const { client } = await sdkClient(proxy);
      const m = await client.messages.create(body(`${PARKED} Look up alpha. p-other`));
      const parked = await proxy.waitFakeLogFor('p-other', (l) => l.state === 'parked', 20000);
      // The same call id, another conversation: not this run's follow-up.
      const r = await client.messages.create(body('', { messages: followUp('something else p-cold', m.content) }));
      assert.equal(r.stop_reason, 'end_turn');
      const cold = await proxy.waitFakeLogFor('p-cold', (l) => l.state === 'exited', 20000);
      assert.notEqual(cold.pid, parked.pid);
      await proxy.waitFakeLogFor('p-other', (l) => l.interrupted === true, 20000);
      await waitFor(() => !childrenOf(proxy.pid).includes(parked.pid), 30000, 'the unmatched parked run to go');
    });
  });

  test('the proxy stopping ends a parked run; it exits cleanly', async () => {
    const proxy = await startProxy({ env: { WARM_POOL: '0', TOOL_PARK_MS: '60000', SHUTDOWN_GRACE_MS: '2000' } });
    let pid;
    try {
      const { client } = await sdkClient(proxy);
      await client.messages.create(body(`${PARKED} Look up alpha. p-stop`));
      pid = (await proxy.waitFakeLogFor('p-stop', (l) => l.state === 'parked', 20000)).pid;
    } finally {
      await proxy.stop();
    }
    await waitFor(() => !pidAlive(pid), 10000, 'the parked CLI to be gone with the proxy');
  });

  test('a request that needs the slot ends the parked run first', async () => {
    await withProxy({ env: { WARM_POOL: '0', MAX_CONCURRENT: '1', TOOL_PARK_MS: '60000' } }, async (proxy) => {
      const { client } = await sdkClient(proxy, { timeout: 60000 });
      await client.messages.create(body(`${PARKED} Look up alpha. p-slot`));
      const parked = await proxy.waitFakeLogFor('p-slot', (l) => l.state === 'parked', 20000);
      const r = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64,
        messages: [{ role: 'user', content: 'unrelated p-needs-slot' }] });
      assert.equal(r.stop_reason, 'end_turn');
      const log = proxy.fakeLogs().find((l) => l.pid === parked.pid);
      assert.equal(log.interrupted, true, 'the parked run was interrupted to free its slot');
      assert.ok(!childrenOf(proxy.pid).includes(parked.pid), 'and is gone');
    });
  });
});

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
        [{ messages: [{ role: 'user', content: 'q' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: {} }] },
          { role: 'user', content: 'no result' }] }, 'messages.2'],
      ];
      for (const [extra, param] of cases) {
        const r = await postJson(url, body('hi', extra));
        assert.equal(r.status, 400, `${JSON.stringify(extra)}: ${r.text}`);
        assert.equal(r.json.type, 'error');
        assert.equal(r.json.error.type, 'invalid_request_error');
        assert.match(r.json.error.message, new RegExp(param.replace(/\./g, '\\.')), r.text);
      }
      const chat = `${proxy.url}/v1/chat/completions`;
      const ocases = [
        [{ tools: [{ type: 'function', function: { name: 'bad name' } }] }, 'tools.0.function.name'],
        [{ tools: [{ type: 'function', function: { name: 'ok', parameters: { type: 'array' } } }] },
          'tools.0.function.parameters'],
        [{ tools: [{ type: 'custom', custom: { name: 'x' } }] }, 'tools.0.type'],
        [{ tools: FUNCTIONS, tool_choice: { type: 'function', function: { name: 'nope' } } }, 'tool_choice.function.name'],
        [{ messages: [{ role: 'tool', tool_call_id: 'call_nowhere', content: 'x' }, { role: 'user', content: 'hi' }] },
          'tool_use_id'],
      ];
      for (const [extra, param] of ocases) {
        const r = await postJson(chat, { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }], ...extra });
        assert.equal(r.status, 400, `${JSON.stringify(extra)}: ${r.text}`);
        assert.equal(r.json.error.type, 'invalid_request_error');
        assert.match(r.json.error.message, new RegExp(param.replace(/\./g, '\\.')), r.text);
      }
      const resp = `${proxy.url}/v1/responses`;
      const rcases = [
        [{ tools: [{ type: 'function', name: 'bad name' }] }, 'tools.0.name'],
        [{ tools: [{ type: 'function', name: 'ok', parameters: [] }] }, 'tools.0.parameters'],
        [{ tools: RESP_TOOLS, tool_choice: { type: 'function', name: 'nope' } }, 'tool_choice.name'],
      ];
      for (const [extra, param] of rcases) {
        const r = await postJson(resp, { model: 'claude-sonnet-4-5', input: 'hi', ...extra });
        assert.equal(r.status, 400, `${JSON.stringify(extra)}: ${r.text}`);
        assert.equal(r.json.error.param, param, r.text);
        assert.match(r.json.error.message, new RegExp(`^${param.replace(/\./g, '\\.')}:`), r.text);
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

      // OpenAI: "none" offers nothing; a named function and parallel_tool_calls:false are approximated.
      const chat = `${proxy.url}/v1/chat/completions`;
      r = await postJson(chat, { model: 'claude-sonnet-4-5', tools: FUNCTIONS, tool_choice: 'none',
        messages: [{ role: 'user', content: 'hi oc-none' }] });
      assert.equal(r.status, 200, r.text);
      log = await proxy.waitFakeLogFor('oc-none', (l) => l.state === 'exited', 20000);
      assert.equal(log.initialize_count, undefined, 'no server declared');
      r = await postJson(chat, { model: 'claude-sonnet-4-5', tools: FUNCTIONS,
        tool_choice: { type: 'function', function: { name: 'add' } },
        messages: [{ role: 'user', content: 'hi oc-named' }] });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-proxy-approximated'), 'tool_choice');
      log = await proxy.waitFakeLogFor('oc-named', (l) => l.state === 'exited', 20000);
      assert.match(JSON.stringify(conversationLines(log)), /calling the tool \\"mcp__cp__add\\"/);
      r = await postJson(chat, { model: 'claude-sonnet-4-5', tools: FUNCTIONS, parallel_tool_calls: false,
        messages: [{ role: 'user', content: 'hi oc-par' }] });
      assert.equal(r.headers.get('x-proxy-approximated'), 'tool_choice');
    });
  });
});
