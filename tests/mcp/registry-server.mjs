// SPDX-License-Identifier: MIT
//
// A tiny stdio MCP server for the registry tests (PROXY_MCP_CONFIG): Node built-ins only,
// newline-delimited JSON-RPC 2.0 on stdin/stdout, the way the CLI talks to stdio servers
// (initialize, notifications/initialized, tools/list, tools/call; cli/README §9).
//
//   node registry-server.mjs [--log FILE]
//
// Its one tool, `lookup {key}`, answers "value-of-<key>:<$REG_SECRET>": the secret comes from the
// server's own environment, which only the registry file's `env` gives it, so an answer holding
// it proves that env reached this process. With --log, one JSON line per start and per message
// is appended to FILE: {event, pid, ppid, fds, env_names} at start (what this process was given),
// then {event:"rpc", method}. The secret's value is never logged.

import fs from 'node:fs';
import readline from 'node:readline';

const args = process.argv.slice(2);
const logFile = args[0] === '--log' ? args[1] : null;

function log(obj) {
  if (logFile) fs.appendFileSync(logFile, `${JSON.stringify({ pid: process.pid, ...obj })}\n`);
}

function fds() {
  try {
    return fs.readdirSync('/proc/self/fd').map((fd) => {
      let target = '';
      try { target = fs.readlinkSync(`/proc/self/fd/${fd}`); } catch { /* gone: readdir's own */ }
      return `${fd}:${target}`;
    });
  } catch {
    return [];
  }
}

log({ event: 'start', ppid: process.ppid, fds: fds(), env_names: Object.keys(process.env).sort() });

const TOOLS = [{
  name: 'lookup',
  description: 'Look up a value by key.',
  inputSchema: { type: 'object', properties: { key: { type: 'string' } }, required: ['key'],
    additionalProperties: false },
}];

function reply(id, result) {
  process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id, result })}\n`);
}

function fail(id, code, message) {
  process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } })}\n`);
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return;
  }
  log({ event: 'rpc', method: msg.method ?? null });
  if (msg.id === undefined || msg.id === null)
    return;   // a notification
  switch (msg.method) {
  case 'initialize':
    return reply(msg.id, {
      protocolVersion: msg.params?.protocolVersion ?? '2025-06-18',
      capabilities: { tools: {} },
      serverInfo: { name: 'registry-test', version: '1.0.0' },
    });
  case 'tools/list':
    return reply(msg.id, { tools: TOOLS });
  case 'tools/call': {
    const { name, arguments: a } = msg.params ?? {};
    if (name !== 'lookup')
      return fail(msg.id, -32602, `unknown tool ${name}`);
    return reply(msg.id, { content: [{ type: 'text', text: `value-of-${a?.key}:${process.env.REG_SECRET ?? 'NO-SECRET'}` }] });
  }
  case 'ping':
    return reply(msg.id, {});
  default:
    return fail(msg.id, -32601, `method not found: ${msg.method}`);
  }
});
rl.on('close', () => process.exit(0));
