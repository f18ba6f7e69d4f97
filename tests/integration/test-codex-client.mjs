// SPDX-License-Identifier: MIT
//
// The real Codex CLI (npm @openai/codex, `codex exec`) pointed at the proxy through a custom
// model provider with wire_api "responses": it streams POST /v1/responses with its own request
// shape (developer instructions, function and hosted tools, include, store:false,
// prompt_cache_key, ...) and must print the fake CLI's answer. HOME and CODEX_HOME are a fresh
// directory, so nothing of the machine's own Codex setup is read or written.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { cliSettings, conversationLines, missing, NODE_DIR, requireOrSkip, startProxy, tmpdir, waitFor } from './lib/harness.mjs';

const CODEX = path.join(NODE_DIR, 'node_modules', '.bin', 'codex');
const TEXT = 'Hello! I am a scripted mock reply, streamed in several small chunks.';
const RUN_TIMEOUT_MS = 120000;

requireOrSkip(missing() || (!fs.existsSync(CODEX) && '@openai/codex missing: run npm ci --prefix tests/node'));

let proxy, home;

// Codex's configuration: the proxy as a model provider speaking the Responses API.
function writeConfig(extra = []) {
  fs.writeFileSync(path.join(home, '.codex', 'config.toml'), [
    'model = "claude-sonnet-4-5"',
    ...extra,
    'model_provider = "proxy"',
    '[model_providers.proxy]',
    'name = "claude-proxy"',
    `base_url = "${proxy.url}/v1"`,
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
function codexExec(prompt) {
  return new Promise((resolve) => {
    const child = spawn(CODEX, ['exec', '--skip-git-repo-check', '--color', 'never', prompt], {
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
