// SPDX-License-Identifier: MIT
//
// The real Codex CLI (npm @openai/codex, `codex exec`) pointed at the proxy through a custom
// model provider with wire_api "responses": it streams POST /v1/responses with its own request
// shape (developer instructions, function and hosted tools, include, store:false,
// prompt_cache_key, ...) and must print the fake CLI's answer. HOME and CODEX_HOME are a fresh
// directory, so nothing of the machine's own Codex setup is read or written.
//
// The exec_command round trip runs a second proxy whose CLI is the real one, against the
// scripted mock (tests/mock): the mock (the model) calls mcp__cp__exec_command, Codex gets a
// function_call named exec_command, runs the command itself and sends its output back as a
// function_call_output, which reaches upstream as a tool_result the mock's final answer repeats.
// Codex's sub-agent tools come as a `namespace`: the model sees them flat
// (mcp__cp__multi_agent_v1__close_agent) and Codex gets the call back with its namespace, which
// it needs to dispatch it; its hosted web_search is left out. With TOOL_PARK_MS the follow-up
// continues the parked run.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  WARM_POOL, childrenOf, cliSettings, conversationLines, loadMock, missing, NODE_DIR, REAL_CLI, realCliEnv, requireOrSkip, sleep,
  startMock, startProxy, tmpdir, waitFor,
} from './lib/harness.mjs';

const CODEX = path.join(NODE_DIR, 'node_modules', '.bin', 'codex');
const TEXT = 'Hello! I am a scripted mock reply, streamed in several small chunks.';
const RUN_TIMEOUT_MS = 120000;

requireOrSkip(missing({ realCli: true }) || (!fs.existsSync(CODEX) && '@openai/codex missing: run npm ci --prefix tests/node')
  || (!(await loadMock()) && 'tests/mock/anthropic-mock.mjs missing'));

let proxy, home;

// Codex's configuration: the proxy as a model provider speaking the Responses API.
function writeConfig(extra = [], target = proxy) {
  fs.writeFileSync(path.join(home, '.codex', 'config.toml'), [
    'model = "claude-sonnet-4-5"',
    ...extra,
    'model_provider = "proxy"',
    '[model_providers.proxy]',
    'name = "claude-proxy"',
    `base_url = "${target.url}/v1"`,
    'wire_api = "responses"',
    'env_key = "PROXY_API_KEY"',
    '',
  ].join('\n'));
}

before(async () => {
  proxy = await startProxy();
  home = tmpdir('cp-codex-');
  fs.mkdirSync(path.join(home, '.codex'));
  writeConfig();
});

after(async () => {
  await proxy?.stop();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

// `codex exec PROMPT`; resolves with its exit code and output, killing it after a bound.
function codexExec(prompt, args = []) {
  return new Promise((resolve) => {
    const child = spawn(CODEX, ['exec', '--skip-git-repo-check', '--color', 'never', ...args, prompt], {
      cwd: home,
      env: { PATH: process.env.PATH, HOME: home, CODEX_HOME: path.join(home, '.codex'), PROXY_API_KEY: 'sk-proxy-test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal, stdout, stderr }); });
  });
}

test('codex --version runs', async () => {
  const r = await new Promise((resolve) => {
    const c = spawn(CODEX, ['--version'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    c.on('exit', (code) => resolve({ code, out }));
  });
  assert.equal(r.code, 0);
  assert.match(r.out, /^codex-cli \d+\.\d+\.\d+/);
});

test('codex exec streams an answer through /v1/responses and the fake CLI', async () => {
  const r = await codexExec('Say hello [marker-codex-1]');
  const ctx = `codex exit ${r.code}/${r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr.slice(-4000)}`;
  assert.equal(r.code, 0, ctx);
  // codex exec prints the final agent message on stdout.
  assert.equal(r.stdout.trim(), TEXT, ctx);

  // It came over the Responses API, streamed, and answered 200.
  await waitFor(() => /api=responses .*stream=1 http_status=200/.test(proxy.stderrText), 10000, 'the access log line');
  // The prompt reached the CLI as the conversation's last user turn, and Codex's developer
  // instructions (its long system text) reached it too, in the system prompt or the turns.
  const log = await proxy.waitFakeLogFor('marker-codex-1', (l) => l.state === 'done' || l.state !== 'started', 10000);
  const conv = JSON.stringify(conversationLines(log));
  assert.match(conv, /Say hello \[marker-codex-1\]/);
  assert.ok(JSON.stringify(log).length > 2000, 'the Codex instructions reached the CLI');
});

test('codex exec with reasoning: the thinking comes back as a reasoning summary Codex shows', async () => {
  writeConfig(['model_reasoning_effort = "high"', 'model_reasoning_summary = "detailed"']);
  try {
    const r = await codexExec('Say hello [[fake:thinking]] [marker-codex-2]');
    const ctx = `codex exit ${r.code}/${r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr.slice(-4000)}`;
    assert.equal(r.code, 0, ctx);
    // The recorded run (tests/data/transcripts/thinking): its thinking, then its answer.
    assert.equal(r.stdout.trim(), 'Hello there!', ctx);
    assert.match(r.stderr, /The user wants a greeting/, ctx);
    const log = await proxy.waitFakeLogFor('marker-codex-2', () => true, 10000);
    assert.equal(cliSettings(log).effort, 'high');
  } finally {
    writeConfig();
  }
});

describe('Codex with the real CLI against the mock', { concurrency: false }, () => {
  let mock, real;
  const posts = () => mock.requests.filter((q) => q.method === 'POST' && q.path === '/v1/messages');

  before(async () => {
    mock = await startMock();
    real = await startProxy({
      claudePath: REAL_CLI,
      env: realCliEnv(mock.url),
    });
    writeConfig([], real);
  });
  after(async () => {
    writeConfig();
    await real?.stop();
    await mock?.close();
  });

  test('exec_command round trip: the model calls it, Codex runs it, the output goes back', async () => {
    const mark = `CODEX_MARK_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
    mock.setScript({
      queue: [{ content: [{ type: 'tool_use', id: 'toolu_codex_exec_1', name: 'mcp__cp__exec_command',
        input: { cmd: `echo ${mark}` } }] }],
      default: { echo_tool_result: 'The command printed: ' },
    });
    const n0 = posts().length;
    const log0 = real.stderrText.length;
    const r = await codexExec('Run the marker command');
    // The runs' CLIs have ended (the pooled one stays): a late second model call would be counted.
    await waitFor(() => childrenOf(real.pid).length <= Number(WARM_POOL), 30000, 'the runs\' CLIs to end');
    await sleep(300);
    const up = posts().slice(n0);
    const ctx = `codex exit ${r.code}/${r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr.slice(-4000)}\n` +
      `proxy:\n${real.stderrText.slice(-3000)}`;
    assert.equal(r.code, 0, ctx);

    // Upstream, the first call offered Codex's function tools under mcp__cp__ and its
    // namespace's functions flattened; the hosted web_search was left out.
    assert.ok(up.length >= 2, `upstream calls: ${up.length}\n${ctx}`);
    const names = up[0].body.tools.map((t) => t.name);
    assert.ok(names.includes('mcp__cp__exec_command'), names.join(' '));
    assert.ok(names.includes('mcp__cp__multi_agent_v1__spawn_agent'), names.join(' '));
    assert.ok(!names.some((n) => /web_search/.test(n)), names.join(' '));

    // The command ran on Codex's side: its output came back as a function_call_output, which
    // reached upstream as a tool_result for the mock's call id.
    const last = up.at(-1).body.messages.flatMap((m) => Array.isArray(m.content) ? m.content : []);
    const use = last.find((b) => b.type === 'tool_use' && b.id === 'toolu_codex_exec_1');
    assert.equal(use?.name, 'mcp__cp__exec_command', JSON.stringify(last).slice(0, 2000));
    const res = last.find((b) => b.type === 'tool_result' && b.tool_use_id === 'toolu_codex_exec_1');
    assert.ok(res && JSON.stringify(res.content).includes(mark), JSON.stringify(res));

    // The final answer (the mock repeating the output) is what codex exec printed.
    assert.match(r.stdout, new RegExp(`The command printed: [^]*${mark}`), ctx);
    // One upstream call per Responses request (the access log line of the last one may follow
    // Codex's exit: wait for it).
    const served = () => (real.stderrText.slice(log0).match(/api=responses .*http_status=200/g) ?? []).length;
    await waitFor(() => served() >= 2, 10000, 'the access log lines of both requests');
    await sleep(200);
    assert.equal(up.length, served(), `upstream ${up.length} for ${served()} requests`);
  });
  // Codex's sub-agent tools come as a namespace; the model calls a member by its flat name and
  // the call goes back as Codex reads it (name and namespace), and back upstream as the flat
  // name in the history. Codex's own request shape, trimmed, sent directly: no sub-agent runs.
  test('a namespace member\'s call goes back with its namespace; the hosted tool is named unsupported', async () => {
    const tools = [
      { type: 'function', name: 'exec_command', strict: false,
        parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] } },
      { type: 'namespace', name: 'multi_agent_v1', description: 'Tools for spawning and managing sub-agents.',
        tools: [{ type: 'function', name: 'close_agent', description: 'Close an agent.', strict: false,
          parameters: { type: 'object', properties: { target: { type: 'string' } }, required: ['target'] } }] },
      { type: 'web_search', external_web_access: false },
    ];
    const post = (input) => fetch(`${real.url}/v1/responses`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', stream: false, store: false, tools, tool_choice: 'auto',
        parallel_tool_calls: true, input }),
    });
    mock.setScript({
      queue: [{ content: [{ type: 'tool_use', id: 'toolu_codex_ns_1', name: 'mcp__cp__multi_agent_v1__close_agent',
        input: { target: 'agent-7' } }] }],
      default: { echo_tool_result: 'Closed: ' },
    });
    const user = { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Close agent-7.' }] };
    const r1 = await post([user]);
    const j1 = await r1.json();
    assert.equal(r1.status, 200, JSON.stringify(j1));
    assert.deepEqual((r1.headers.get('x-proxy-unsupported') ?? '').split(',').filter((n) => n.startsWith('tools')),
      ['tools.web_search']);
    const call = j1.output.find((o) => o.type === 'function_call');
    assert.deepEqual({ name: call?.name, namespace: call?.namespace, call_id: call?.call_id, args: JSON.parse(call?.arguments ?? 'null') },
      { name: 'close_agent', namespace: 'multi_agent_v1', call_id: 'toolu_codex_ns_1', args: { target: 'agent-7' } },
      JSON.stringify(j1.output));

    // Codex sends the call back as it got it, with its output.
    const r2 = await post([user, { type: 'function_call', call_id: call.call_id, namespace: call.namespace,
      name: call.name, arguments: call.arguments }, { type: 'function_call_output', call_id: call.call_id,
      output: 'agent-7 closed' }]);
    const j2 = await r2.json();
    assert.equal(r2.status, 200, JSON.stringify(j2));
    assert.equal(j2.output.find((o) => o.type === 'message')?.content[0].text, 'Closed: agent-7 closed');
    const blocks = posts().at(-1).body.messages.flatMap((m) => Array.isArray(m.content) ? m.content : []);
    assert.ok(blocks.some((b) => b.type === 'tool_use' && b.id === 'toolu_codex_ns_1'
      && b.name === 'mcp__cp__multi_agent_v1__close_agent'), JSON.stringify(blocks).slice(-1500));
  });
  // The same through Codex itself: its close_agent handler must get the call (it answers that
  // the id is no agent's), which it does only when the call names its namespace.
  test('codex exec: a namespace member\'s call reaches Codex\'s own handler', async () => {
    mock.setScript({
      queue: [{ content: [{ type: 'tool_use', id: 'toolu_codex_ns_2', name: 'mcp__cp__multi_agent_v1__close_agent',
        input: { target: 'not-an-agent' } }] }],
      default: { echo_tool_result: 'Codex answered: ' },
    });
    const n0 = posts().length;
    const r = await codexExec('Close the agent');
    const ctx = `codex exit ${r.code}/${r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr.slice(-3000)}`;
    assert.equal(r.code, 0, ctx);
    const up = posts().slice(n0);
    const blocks = up.at(-1).body.messages.flatMap((m) => Array.isArray(m.content) ? m.content : []);
    const res = blocks.find((b) => b.type === 'tool_result' && b.tool_use_id === 'toolu_codex_ns_2');
    assert.match(JSON.stringify(res?.content ?? null), /invalid agent id not-an-agent/, `${JSON.stringify(res)}\n${ctx}`);
    assert.match(r.stdout, /Codex answered: invalid agent id not-an-agent/, ctx);
  });

  // With parking on (TOOL_PARK_MS) the run that made the call waits for its output, and Codex's
  // follow-up continues it: one CLI for both turns.
  test('with parking on, the exec_command follow-up continues the parked run', async () => {
    const parked = await startProxy({
      claudePath: REAL_CLI,
      env: realCliEnv(mock.url, { TOOL_PARK_MS: '30000', LOG_LEVEL: 'debug' }),
    });
    writeConfig([], parked);
    try {
      const mark = `CODEX_PARK_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
      mock.setScript({
        queue: [{ content: [{ type: 'tool_use', id: 'toolu_codex_park_1', name: 'mcp__cp__exec_command',
          input: { cmd: `echo ${mark}` } }] }],
        default: { echo_tool_result: 'Parked and resumed: ' },
      });
      const r = await codexExec('Run the marker command');
      const ctx = `codex exit ${r.code}/${r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr.slice(-3000)}\n` +
        `proxy:\n${parked.stderrText.slice(-4000)}`;
      assert.equal(r.code, 0, ctx);
      assert.match(r.stdout, new RegExp(`Parked and resumed: [^]*${mark}`), ctx);
      assert.match(parked.stderrText, /CLI parked on 1 tool call/, ctx);
      assert.match(parked.stderrText, /parked CLI adopted, its tool calls answered/, ctx);
    } finally {
      writeConfig([], real);
      await parked.stop();
    }
  });
});
