// SPDX-License-Identifier: MIT
// Node side of ws_node_interop (echo_server.cc): drives the lib/ws echo server with the
// real `ws` client and checks every answer. Exit 0 when all checks pass, 1 otherwise.
//
//   node echo_client.js PORT
//
// Checks: text and binary messages of 0, 125, 126, 65535 and 65536 bytes come back
// unchanged (7-, 16- and 64-bit lengths); a message fragmented by the client with a ping
// between its fragments, and a UTF-8 character split across fragments; client ping ->
// pong; server ping -> ws's automatic pong; close 1000 both ways; invalid UTF-8 -> 1007;
// a frame and a fragmented message over 1 MiB -> 1009; a plain GET -> 400.
'use strict';

const http = require('http');
let WebSocket;
try {
  WebSocket = require('ws');
} catch (e) {
  console.error(`FAIL: cannot load the ws package (run \`make deps\`): ${e.message}`);
  process.exit(1);
}

const port = Number(process.argv[2]);
if (!port) {
  console.error('usage: node echo_client.js PORT');
  process.exit(1);
}
const url = `ws://127.0.0.1:${port}/echo`;
const STEP_TIMEOUT_MS = 10000;
const MiB = 1024 * 1024;

let checks = 0;
function ok(what) {
  checks += 1;
  console.log(`ok ${checks} - ${what}`);
}

function withTimeout(promise, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), STEP_TIMEOUT_MS);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

// A connection with queues of received messages, pongs and pings, and its close event.
function connect() {
  return withTimeout(new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const conn = {
      ws,
      messages: [],
      waiters: [],
      pongs: [],
      pongWaiters: [],
      pings: [],
      closed: null,
    };
    conn.closedPromise = new Promise((res) => {
      ws.on('close', (code, reason) => {
        conn.closed = { code, reason: reason.toString() };
        res(conn.closed);
        for (const w of conn.waiters) w.reject(new Error(`connection closed (${code})`));
        conn.waiters = [];
      });
    });
    ws.on('message', (data, isBinary) => {
      const m = { data: Buffer.from(data), isBinary };
      const w = conn.waiters.shift();
      if (w) w.resolve(m);
      else conn.messages.push(m);
    });
    ws.on('pong', (data) => {
      const w = conn.pongWaiters.shift();
      if (w) w(Buffer.from(data));
      else conn.pongs.push(Buffer.from(data));
    });
    ws.on('ping', (data) => conn.pings.push(Buffer.from(data).toString()));
    ws.once('open', () => resolve(conn));
    ws.once('error', reject);
  }), 'the websocket to open');
}

function nextMessage(conn, what) {
  if (conn.messages.length) return Promise.resolve(conn.messages.shift());
  return withTimeout(new Promise((resolve, reject) => conn.waiters.push({ resolve, reject })), what);
}

function nextPong(conn, what) {
  if (conn.pongs.length) return Promise.resolve(conn.pongs.shift());
  return withTimeout(new Promise((resolve) => conn.pongWaiters.push(resolve)), what);
}

function send(conn, data, opts) {
  return new Promise((resolve, reject) => conn.ws.send(data, opts, (err) => (err ? reject(err) : resolve())));
}

function assert(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  ok(what);
}

function textOfSize(n) {
  let s = '';
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  for (let i = 0; i < n; i += 1) s += alphabet[i % alphabet.length];
  return s;
}

function binaryOfSize(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 1) b[i] = (i * 131 + 7) & 0xff;
  return b;
}

async function echoes() {
  const conn = await connect();
  ok('handshake accepted by ws (Sec-WebSocket-Accept verified by the client)');
  for (const n of [0, 125, 126, 65535, 65536]) {
    const text = textOfSize(n);
    await send(conn, text);
    const m = await nextMessage(conn, `the echo of ${n} text bytes`);
    assert(!m.isBinary && m.data.toString() === text, `text message of ${n} bytes echoed`);
  }
  for (const n of [0, 125, 126, 65535, 65536]) {
    const bin = binaryOfSize(n);
    await send(conn, bin, { binary: true });
    const m = await nextMessage(conn, `the echo of ${n} binary bytes`);
    assert(m.isBinary && m.data.equals(bin), `binary message of ${n} bytes echoed`);
  }

  // Fragmented by the client, with a ping between the fragments.
  conn.ws.send('frag-', { fin: false });
  conn.ws.ping('mid');
  conn.ws.send('ment', { fin: true });
  const pong = await nextPong(conn, 'the pong to the ping between fragments');
  assert(pong.toString() === 'mid', 'ping between fragments answered with its payload');
  const frag = await nextMessage(conn, 'the fragmented message');
  assert(!frag.isBinary && frag.data.toString() === 'frag-ment', 'fragmented message reassembled');

  // A UTF-8 character (U+20AC) split across two text fragments.
  conn.ws.send(Buffer.from([0xe2, 0x82]), { binary: false, fin: false });
  conn.ws.send(Buffer.from([0xac]), { binary: false, fin: true });
  const euro = await nextMessage(conn, 'the split euro sign');
  assert(euro.data.toString() === '\u20ac', 'UTF-8 character split across fragments accepted');

  conn.ws.ping('hello');
  const p2 = await nextPong(conn, 'the pong to ping "hello"');
  assert(p2.toString() === 'hello', 'client ping answered with a pong');

  await send(conn, 'please-ping');
  const after = await nextMessage(conn, 'pong-received');
  assert(after.data.toString() === 'pong-received', 'server ping answered by ws, pong seen by the server');
  assert(conn.pings.includes('srv-ping'), 'server ping received by the client');

  conn.ws.close(1000, 'bye');
  const closed = await withTimeout(conn.closedPromise, 'the close reply');
  assert(closed.code === 1000, `client close 1000 answered with 1000 (got ${closed.code})`);
}

async function expectClose(setup, code, what) {
  const conn = await connect();
  await setup(conn);
  const closed = await withTimeout(conn.closedPromise, `close ${code}`);
  assert(closed.code === code, `${what}: closed with ${code} (got ${closed.code} '${closed.reason}')`);
}

async function refusedHandshake() {
  const status = await withTimeout(new Promise((resolve, reject) => {
    http.get(`http://127.0.0.1:${port}/echo`, (res) => {
      res.resume();
      resolve(res.statusCode);
    }).on('error', reject);
  }), 'the refused handshake');
  assert(status === 400, `plain GET without Upgrade refused with 400 (got ${status})`);
}

async function main() {
  await echoes();
  await expectClose(async (c) => {
    c.ws.send(Buffer.from([0x61, 0xff, 0x62]), { binary: false });
  }, 1007, 'invalid UTF-8 in a text message');
  await expectClose(async (c) => {
    c.ws.send(Buffer.alloc(MiB + 1), { binary: true });
  }, 1009, 'a single frame over 1 MiB');
  await expectClose(async (c) => {
    const part = Buffer.alloc(400 * 1024);
    c.ws.send(part, { binary: true, fin: false });
    c.ws.send(part, { binary: true, fin: false });
    c.ws.send(part, { binary: true, fin: true });
  }, 1009, 'a fragmented message over 1 MiB');
  const conn = await connect();
  await send(conn, 'please-close');
  const closed = await withTimeout(conn.closedPromise, 'the server close');
  assert(closed.code === 1000 && closed.reason === 'server bye',
    `server close 1000 'server bye' received (got ${closed.code} '${closed.reason}')`);
  await refusedHandshake();
  console.log(`all ${checks} checks passed`);
}

main().then(() => process.exit(0), (err) => {
  console.error(`FAIL: ${err.message}`);
  process.exit(1);
});
