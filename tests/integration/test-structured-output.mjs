// SPDX-License-Identifier: MIT
//
// Structured output on all three surfaces (Anthropic output_config.format / output_format, Chat
// Completions response_format, Responses text.format), streaming and not, through the official
// SDKs, with the warm pool on and off: the schema reaches the CLI in its one initialize
// (jsonSchema), the answer is the value as JSON text (never the StructuredOutput tool call, never
// the prose around it), a run without a value is a 502, a bad schema a 400 in the surface's own
// envelope. The fake CLI replays the recorded structured run (s4b_warm_late_initialize_json_schema)
// when its initialize carries a schema; `[[fake:text]]` is a run that never called the tool (the
// real CLI then reports success with plain text and no structured_output, cli/README §13).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  NODE_DIR, TEST_MODEL, assertErrorEnvelope, assertSseGrammar, messageBody, missing, parseSse, postJson,
  requireOrSkip, sdkClient, sseText, startProxy,
} from './lib/harness.mjs';

const nodeRequire = createRequire(path.join(NODE_DIR, 'package.json'));
const haveOpenAI = fs.existsSync(path.join(NODE_DIR, 'node_modules', 'openai'));
requireOrSkip(missing({ sdk: true }) || (!haveOpenAI && 'the openai npm package is missing: run npm ci --prefix tests/node'));

const SCHEMA = {
  type: 'object',
  properties: { name: { type: 'string' }, age: { type: 'integer' } },
  required: ['name', 'age'],
};
// What the recorded run's StructuredOutput call carried, as the client must get it.
const VALUE = { name: 'Bob', age: 42 };
const VALUE_TEXT = JSON.stringify(VALUE);

async function openaiClient(proxy) {
  const mod = await import(nodeRequire.resolve('openai'));
  const OpenAI = mod.default ?? mod.OpenAI;
  return new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'sk-proxy-test', maxRetries: 0, timeout: 30000 });
}

const chatBody = (text, extra = {}) => ({ model: TEST_MODEL, messages: [{ role: 'user', content: text }], ...extra });
const chatFormat = { type: 'json_schema', json_schema: { name: 'person', schema: SCHEMA, strict: true } };
const responsesFormat = { type: 'json_schema', name: 'person', schema: SCHEMA, strict: true };

async function rawPost(proxy, route, body) {
  const res = await fetch(`${proxy.url}${route}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, events: parseSse(text) };
}

for (const pool of ['0', '1']) {
  describe(`structured output, WARM_POOL=${pool}`, () => {
    let proxy;
    before(async () => { proxy = await startProxy({ env: { WARM_POOL: pool } }); });
    after(async () => { await proxy?.stop(); });

    // The run's fake log: the schema arrived in exactly one initialize, before the conversation.
    async function assertSchemaSent(marker, schema = SCHEMA) {
      const log = await proxy.waitFakeLogFor(marker, (l) => l.state !== 'started', 10000);
      const inits = log.stdin.filter((l) => l?.type === 'control_request' && l.request.subtype === 'initialize');
      assert.equal(inits.length, 1, 'one initialize per process');
      assert.deepEqual(inits[0].request.jsonSchema, schema);
      const firstUser = log.stdin.findIndex((l) => l?.type === 'user');
      assert.ok(log.stdin.indexOf(inits[0]) < firstUser, 'the initialize comes before the conversation');
      assert.ok(!log.argv.includes('--json-schema'), 'the schema never goes into argv');
      return log;
    }

    // ---- Anthropic Messages ---------------------------------------------------------------

    test('anthropic: output_config.format, non-streaming (SDK)', async () => {
      const { client } = await sdkClient(proxy);
      const m = await client.messages.create(messageBody('Give me a person. SO-A1',
        { output_config: { format: { type: 'json_schema', schema: SCHEMA } } }));
      assert.deepEqual(m.content, [{ type: 'text', text: VALUE_TEXT }], 'one text block: the value');
      assert.equal(m.stop_reason, 'end_turn', 'not the tool_use of the StructuredOutput call');
      assert.deepEqual(JSON.parse(m.content[0].text), VALUE);
      const log = await assertSchemaSent('SO-A1');
      const probed = log.stdin.some((l) => l?.type === 'control_request' && l.request.subtype === 'mcp_status');
      assert.equal(probed, pool === '1', pool === '1' ? 'served by a pooled process' : 'served by a cold one');
    });

    test('anthropic: output_config.format, streaming (SDK and raw SSE)', async () => {
      const { client } = await sdkClient(proxy);
      const s = client.messages.stream(messageBody('Give me a person. SO-A2',
        { output_config: { format: { type: 'json_schema', schema: SCHEMA } } }));
      let text = '';
      s.on('text', (t) => { text += t; });
      const m = await s.finalMessage();
      assert.equal(text, VALUE_TEXT);
      assert.deepEqual(m.content, [{ type: 'text', text: VALUE_TEXT }]);
      assert.equal(m.stop_reason, 'end_turn');

      const r = await rawPost(proxy, '/v1/messages', messageBody('Give me a person. SO-A2b',
        { stream: true, output_config: { format: { type: 'json_schema', schema: SCHEMA } } }));
      assert.equal(r.status, 200, r.text);
      const events = assertSseGrammar(r.events);
      const starts = events.filter((e) => e.event === 'content_block_start');
      assert.deepEqual(starts.map((e) => e.data.content_block.type), ['text'], 'no tool_use block reaches the client');
      assert.ok(!/StructuredOutput|input_json_delta/.test(r.text), 'the tool call is not shown');
      assert.equal(sseText(events), VALUE_TEXT);
    });

    test('anthropic: the older output_format', async () => {
      const r = await postJson(`${proxy.url}/v1/messages`, messageBody('Give me a person. SO-A3',
        { output_format: { type: 'json_schema', schema: SCHEMA } }));
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.content, [{ type: 'text', text: VALUE_TEXT }]);
      await assertSchemaSent('SO-A3');
    });

    test('anthropic: a run without the value is a 502, streaming or not', async () => {
      const body = messageBody('No tool for you. SO-A4 [[fake:text]]',
        { output_config: { format: { type: 'json_schema', schema: SCHEMA } } });
      const r = await postJson(`${proxy.url}/v1/messages`, body);
      assert.equal(r.status, 502, r.text);
      assertErrorEnvelope(r.json, 'api_error');
      assert.match(r.json.error.message, /schema/);

      const s = await rawPost(proxy, '/v1/messages', { ...body, stream: true });
      const events = assertSseGrammar(s.events, { allowError: true });
      const err = events.find((e) => e.event === 'error');
      assert.ok(err, `an error event: ${s.text}`);
      assert.equal(err.data.error.type, 'api_error');
      assert.ok(!/scripted mock reply/.test(s.text), 'the prose answer is not shown');
    });

    test('anthropic: a bad schema is a 400 naming the field', async () => {
      const cases = [
        [{ output_config: { format: { type: 'json_schema', schema: 'nope' } } }, 'output_config.format.schema'],
        [{ output_config: { format: { type: 'json_schema' } } }, 'output_config.format.schema'],
        [{ output_config: { format: { type: 'json_schema', schema: { type: 'array' } } } }, 'output_config.format.schema'],
        [{ output_config: { format: { type: 'xml' } } }, 'output_config.format.type'],
        [{ output_config: { format: 7 } }, 'output_config.format'],
        [{ output_format: { type: 'json_schema', schema: [] } }, 'output_format.schema'],
      ];
      for (const [extra, param] of cases) {
        const r = await postJson(`${proxy.url}/v1/messages`, messageBody('SO-A5', extra));
        assert.equal(r.status, 400, `${JSON.stringify(extra)}: ${r.text}`);
        assertErrorEnvelope(r.json, 'invalid_request_error');
        assert.match(r.json.error.message, new RegExp(param.replace(/\./g, '\\.')));
      }
      assert.equal(proxy.servedLogs().filter((l) => JSON.stringify(l.stdin).includes('SO-A5')).length, 0,
        'no CLI was given a request with a bad schema');
    });

    // ---- OpenAI Chat Completions ----------------------------------------------------------

    test('chat: response_format json_schema, non-streaming (openai client)', async () => {
      const client = await openaiClient(proxy);
      const c = await client.chat.completions.create(chatBody('Give me a person. SO-C1',
        { response_format: chatFormat }));
      assert.equal(c.choices[0].message.content, VALUE_TEXT);
      assert.equal(c.choices[0].finish_reason, 'stop');
      assert.equal(c.choices[0].message.tool_calls, undefined, 'no tool call');
      await assertSchemaSent('SO-C1');
    });

    test('chat: response_format json_schema, streaming (openai client)', async () => {
      const client = await openaiClient(proxy);
      const stream = await client.chat.completions.create(chatBody('Give me a person. SO-C2',
        { response_format: chatFormat, stream: true }));
      let text = '', finish = null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        assert.equal(chunk.choices[0]?.delta?.tool_calls, undefined);
      }
      assert.equal(text, VALUE_TEXT);
      assert.equal(finish, 'stop');
    });

    test('chat: n = 2 choices, each run with its own initialize and value', async () => {
      const client = await openaiClient(proxy);
      const c = await client.chat.completions.create(chatBody('Two people. SO-C7', { response_format: chatFormat, n: 2 }));
      assert.deepEqual(c.choices.map((ch) => ch.message.content), [VALUE_TEXT, VALUE_TEXT]);
      const logs = proxy.servedLogs().filter((l) => JSON.stringify(l.stdin).includes('SO-C7'));
      assert.equal(logs.length, 2, 'two CLI runs');
      for (const l of logs)
        assert.equal(l.stdin.filter((x) => x?.type === 'control_request' && x.request.subtype === 'initialize'
          && x.request.jsonSchema).length, 1);
    });

    test('chat: response_format json_object asks for any object', async () => {
      const client = await openaiClient(proxy);
      const c = await client.chat.completions.create(chatBody('Give me a person as JSON. SO-C3',
        { response_format: { type: 'json_object' } }));
      assert.deepEqual(JSON.parse(c.choices[0].message.content), VALUE);
      await assertSchemaSent('SO-C3', { type: 'object' });
    });

    test('chat: response_format text is plain text', async () => {
      const r = await postJson(`${proxy.url}/v1/chat/completions`, chatBody('SO-C4', { response_format: { type: 'text' } }));
      assert.equal(r.status, 200, r.text);
      assert.match(r.json.choices[0].message.content, /scripted mock reply/);
      assert.ok(!(r.headers.get('x-proxy-unsupported') ?? '').includes('response_format'), 'honoured, not unsupported');
    });

    test('chat: a run without the value is a 502; a bad schema a 400', async () => {
      const client = await openaiClient(proxy);
      await assert.rejects(client.chat.completions.create(chatBody('SO-C5 [[fake:text]]', { response_format: chatFormat })),
        (e) => e.status === 502 && e.error?.type !== undefined);
      const s = await rawPost(proxy, '/v1/chat/completions',
        chatBody('SO-C5b [[fake:text]]', { response_format: chatFormat, stream: true }));
      assert.ok(s.events.some((e) => e.data?.error), `an error chunk: ${s.text}`);
      assert.ok(!s.text.includes('[DONE]'));

      for (const [rf, param] of [
        [{ type: 'json_schema', json_schema: { name: 'x', schema: 5 } }, 'response_format.json_schema.schema'],
        [{ type: 'json_schema' }, 'response_format.json_schema'],
        [{ type: 'yaml' }, 'response_format.type'],
      ]) {
        const r = await postJson(`${proxy.url}/v1/chat/completions`, chatBody('SO-C6', { response_format: rf }));
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.error.type, 'invalid_request_error');
        assert.equal(r.json.error.param, param);
      }
    });

    // ---- OpenAI Responses -----------------------------------------------------------------

    test('responses: text.format json_schema, non-streaming (openai client), format echoed', async () => {
      const client = await openaiClient(proxy);
      const r = await client.responses.create({ model: TEST_MODEL, input: 'Give me a person. SO-R1',
        text: { format: responsesFormat } });
      assert.equal(r.output_text, VALUE_TEXT);
      assert.deepEqual(r.text.format, responsesFormat, 'text.format echoed as given');
      assert.ok(r.output.every((i) => i.type === 'message'), 'no function_call item');
      await assertSchemaSent('SO-R1');
    });

    test('responses: text.format json_schema, streaming (openai client)', async () => {
      const client = await openaiClient(proxy);
      const stream = await client.responses.create({ model: TEST_MODEL, input: 'Give me a person. SO-R2',
        text: { format: responsesFormat }, stream: true });
      let text = '', done = null;
      for await (const ev of stream) {
        if (ev.type === 'response.output_text.delta') text += ev.delta;
        if (ev.type === 'response.completed') done = ev.response;
      }
      assert.equal(text, VALUE_TEXT);
      assert.ok(done, 'response.completed');
      assert.deepEqual(done.text.format, responsesFormat);
    });

    test('responses: json_object; a missing value is a 502; a bad schema a 400', async () => {
      const client = await openaiClient(proxy);
      const r = await client.responses.create({ model: TEST_MODEL, input: 'JSON please. SO-R3',
        text: { format: { type: 'json_object' } } });
      assert.deepEqual(JSON.parse(r.output_text), VALUE);
      assert.deepEqual(r.text.format, { type: 'json_object' });
      await assertSchemaSent('SO-R3', { type: 'object' });

      await assert.rejects(client.responses.create({ model: TEST_MODEL, input: 'SO-R4 [[fake:text]]',
        text: { format: responsesFormat } }), (e) => e.status === 502);
      const bad = await postJson(`${proxy.url}/v1/responses`, { model: TEST_MODEL, input: 'SO-R5',
        text: { format: { type: 'json_schema', name: 'x', schema: 'no' } } });
      assert.equal(bad.status, 400, bad.text);
      assert.equal(bad.json.error.param, 'text.format.schema');
    });
  });
}
