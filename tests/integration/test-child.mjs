// SPDX-License-Identifier: MIT
//
// What the proxy hands the CLI, as the fake logged it: argv, environment (scrubbed), cwd,
// process group, and the stream-json stdin lines of a multi-turn history (sequenced: each
// shouldQuery:false line answered before the next is written).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { cliSettings, conversationLines, messageBody, missing, postJson, requireOrSkip, startProxy } from './lib/harness.mjs';

const KEY = 'proxy-key-secret';

requireOrSkip(missing());

describe('CLI child', () => {
  let proxy;
  before(async () => {
    proxy = await startProxy({
      env: {
        REQUIRE_AUTH: 'true',
        PROXY_API_KEYS: KEY,
        ANTHROPIC_API_KEY: 'sk-must-not-leak',
        ANTHROPIC_AUTH_TOKEN: 'tok-must-not-leak',
        NOTIFY_SOCKET: '/nonexistent/notify',
        CLAUDECODE: '1',
        CLAUDE_CODE_ENTRYPOINT: 'cli',
        UNRELATED_SECRET: 'nope',
        MY_EXTRA_VAR: 'passed',
        // CHILD_ENV cannot smuggle the proxy's keys or systemd's variables through.
        CHILD_ENV: 'FAKE_CLAUDE_DIR FAKE_CLAUDE_LOG_DIR MY_EXTRA_VAR PROXY_API_KEYS NOTIFY_SOCKET',
      },
    });
  });
  after(async () => { await proxy?.stop(); });

  const post = (body) => postJson(`${proxy.url}/v1/messages`, body, { 'x-api-key': KEY });

  test('environment is scrubbed', async () => {
    proxy.clearFakeLogs();
    const r = await post(messageBody('hi env-check'));
    assert.equal(r.status, 200, r.text);
    const { env } = await proxy.waitFakeLogFor('env-check');
    for (const k of ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'NOTIFY_SOCKET', 'CLAUDECODE',
      'CLAUDE_CODE_ENTRYPOINT', 'PROXY_API_KEYS', 'UNRELATED_SECRET', 'LISTEN_FDS', 'LISTEN_PID'])
      assert.equal(env[k], undefined, `${k} reached the CLI`);
    assert.ok(!JSON.stringify(env).includes(KEY), 'the proxy key reached the CLI');
    assert.equal(env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, '1');
    assert.equal(env.MY_EXTRA_VAR, 'passed', 'CHILD_ENV names pass');
    assert.ok(env.FAKE_CLAUDE_DIR);
    assert.ok(env.PATH, 'PATH is kept');
    assert.match(env.CLAUDE_CODE_MAX_RETRIES ?? '', /^\d+$/, 'CLAUDE_CODE_MAX_RETRIES is set');
  });

  test('argv, cwd and process group', async () => {
    proxy.clearFakeLogs();
    const r = await post(messageBody('hi', { model: 'claude-sonnet-4-5', system: 'SYSTEM-SENTINEL be brief' }));
    assert.equal(r.status, 200, r.text);
    const log = await proxy.waitFakeLogFor('SYSTEM-SENTINEL');
    const a = log.argv;
    for (const f of ['-p', '--verbose', '--include-partial-messages', '--strict-mcp-config', '--no-session-persistence'])
      assert.ok(a.includes(f), `${f} missing: ${a.join(' ')}`);
    const val = (flag) => a[a.indexOf(flag) + 1];
    assert.equal(val('--output-format'), 'stream-json');
    assert.equal(val('--input-format'), 'stream-json');
    assert.equal(val('--tools'), '');
    assert.equal(val('--setting-sources'), '');
    assert.ok(a.includes('--model'), 'a --model is passed');
    assert.ok(!a.some((x) => x.includes('SYSTEM-SENTINEL')), 'client text must not travel in argv');
    assert.ok(JSON.stringify(log.stdin).includes('SYSTEM-SENTINEL'), 'the system text reaches the CLI on stdin');
    assert.equal(fs.realpathSync(log.cwd), fs.realpathSync(proxy.workDir), 'cwd is WORK_DIR');
    assert.equal(log.pgid, log.pid, 'the CLI leads its own process group');
    assert.equal(log.ppid, proxy.pid, 'spawned by the proxy itself');
  });

  test('history is written sequenced, with distinct assistant ids', async () => {
    proxy.clearFakeLogs();
    const r = await post({
      model: 'claude-sonnet-4-5', max_tokens: 100,
      messages: [
        { role: 'user', content: 'My name is Bob.' },
        { role: 'assistant', content: 'Nice to meet you, Bob.' },
        { role: 'user', content: [{ type: 'text', text: 'I live in Paris.' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Paris is lovely.' }] },
        { role: 'user', content: 'What is my name and city? [[fake:history]]' },
      ],
    });
    assert.equal(r.status, 200, r.text);
    const log = await proxy.waitFakeLogFor('What is my name and city?');
    // The sequencing first: a proxy that writes ahead also garbles the answer below.
    assert.equal(log.history_acks.length, 2, 'one acknowledgement per shouldQuery:false line');
    // The fake checks once it has seen the proxy asleep after the line it acknowledges, so a
    // proxy writing ahead has had its chance whatever the load; not seen means not checked.
    assert.ok(log.history_acks.every((a) => a.proxy_idle_seen),
      `the fake never saw the proxy idle, so write-ahead was not checked: ${JSON.stringify(log.history_acks)}`);
    assert.ok(log.history_acks.every((a) => !a.next_line_written_early),
      'the proxy wrote a line before the previous result arrived');
    assert.equal(r.json.content.map((b) => b.text).join(''), 'Your name is Bob and you live in Paris.');
    const lines = conversationLines(log);
    assert.deepEqual(lines.map((l) => l.type), ['user', 'assistant', 'user', 'assistant', 'user']);
    assert.deepEqual(lines.map((l) => l.message.role), ['user', 'assistant', 'user', 'assistant', 'user']);
    assert.equal(lines[0].shouldQuery, false);
    assert.equal(lines[2].shouldQuery, false);
    assert.ok(!('shouldQuery' in lines[4]) || lines[4].shouldQuery === true, 'the last turn queries');
    const text = (l) => (typeof l.message.content === 'string' ? l.message.content
      : l.message.content.filter((b) => b.type === 'text').map((b) => b.text).join(''));
    assert.equal(text(lines[0]), 'My name is Bob.');
    assert.equal(text(lines[1]), 'Nice to meet you, Bob.');
    assert.equal(text(lines[2]), 'I live in Paris.');
    assert.equal(text(lines[3]), 'Paris is lovely.');
    assert.match(text(lines[4]), /^What is my name and city\?/);
    const ids = [lines[1].message.id, lines[3].message.id];
    assert.ok(ids[0] && ids[1] && ids[0] !== ids[1], `assistant ids must be distinct: ${ids}`);
  });

  test('a user text starting with "/" is not run as a slash command', async () => {
    proxy.clearFakeLogs();
    const r = await post(messageBody('/compact please'));
    assert.equal(r.status, 200, r.text);
    const log = await proxy.waitFakeLogFor('compact please');
    const last = log.stdin.at(-1);
    const c = last.message.content;
    const first = typeof c === 'string' ? c : c.find((b) => b.type === 'text').text;
    assert.ok(!first.startsWith('/'), `first text block still starts with '/': ${JSON.stringify(first)}`);
    assert.match(first, /\/compact please/);
  });

  // The spawn (clone with CLONE_VM|CLONE_VFORK here, pgroup mode) hands over fds 0-2, fd 3 only
  // when a system prompt file travels in argv, and no blocked or ignored signal (SigBlk and
  // SigIgn survive execve(); the proxy blocks all signals around the clone and ignores SIGPIPE).
  test('the CLI holds no fd of the proxy and inherits no blocked or ignored signal', async () => {
    proxy.clearFakeLogs();
    const r = await post(messageBody('hi inherit-check'));
    assert.equal(r.status, 200, r.text);
    const log = await proxy.waitFakeLogFor('inherit-check');
    assert.ok(log.inherited, 'the fake logged what it inherited');
    const want = log.argv.includes('/dev/fd/3') ? [0, 1, 2, 3] : [0, 1, 2];
    assert.deepEqual([...log.inherited.fds].sort((a, b) => a - b), want, 'fds at exec');
    assert.equal(log.inherited.SigBlk, '0000000000000000', 'blocked signals at exec');
    assert.equal(log.inherited.SigIgn, '0000000000000000', 'ignored signals at exec');
  });

  test('stdin is closed after the result, so the CLI exits', async () => {
    proxy.clearFakeLogs();
    const r = await post(messageBody('hi eof-check'));
    assert.equal(r.status, 200);
    const log = await proxy.waitFakeLogFor('eof-check', (l) => l.state === 'exited', 3000);
    assert.equal(log.state, 'exited');
  });
});

describe('systemd credentials', () => {
  let proxy;
  let dir;
  before(async () => {
    // What LoadCredential= provides: a private directory with one file per credential.
    dir = fs.mkdtempSync('/tmp/cp-creds-');
    fs.writeFileSync(`${dir}/api-keys`, '# keys\ncred-key-1\n\n  cred-key-2  \n');
    fs.writeFileSync(`${dir}/claude-code-oauth-token`, 'oauth-from-credential\n');
    proxy = await startProxy({
      env: { REQUIRE_AUTH: 'true', CREDENTIALS_DIRECTORY: dir, CLAUDE_CODE_OAUTH_TOKEN: 'from-env' },
    });
  });
  after(async () => {
    await proxy?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('api-keys credential authenticates, the OAuth token credential reaches the CLI', async () => {
    proxy.clearFakeLogs();
    const bad = await postJson(`${proxy.url}/v1/messages`, messageBody('hi'), { 'x-api-key': 'cred-key-3' });
    assert.equal(bad.status, 401, bad.text);
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi cred-check'), { 'x-api-key': 'cred-key-2' });
    assert.equal(r.status, 200, r.text);
    const { env } = await proxy.waitFakeLogFor('cred-check');
    assert.equal(env.CLAUDE_CODE_OAUTH_TOKEN, 'oauth-from-credential', 'the credential wins over the environment');
    assert.equal(env.CREDENTIALS_DIRECTORY, undefined, 'the credentials directory itself is not passed');
  });
});
