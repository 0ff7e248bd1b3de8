// SPDX-License-Identifier: MIT
// The PM2 adapter's hands: a thin JSON-lines RPC over stdin/stdout to PM2's
// programmatic API (require('pm2')), so that bench/peers/pm2.py can drive PM2 the way a
// Node program would. One request per line: {"id", "op", ...}; one answer per line,
// prefixed with "@@bench " (PM2 itself may print to stdout): {"id", "ok"|"error", ...}.
// time_list times pm2.list() round trips here, in Node, so the pipe to Python is not
// part of the status latency.
'use strict';
const path = require('path');
const readline = require('readline');

const pm2 = require(path.join(process.env.BENCH_NODE_DIR, 'node_modules', 'pm2'));

function answer(id, obj) {
  process.stdout.write('@@bench ' + JSON.stringify(Object.assign({ id }, obj)) + '\n');
}

function compact(list, name) {
  const out = [];
  for (const p of list || []) {
    if (name && p.name !== name) continue;
    out.push({ name: p.name, pm_id: p.pm_id, pid: p.pid || 0, status: p.pm2_env ? p.pm2_env.status : '' });
  }
  return out;
}

function timeList(count, budgetMs, done) {
  const ms = [];
  const end = Date.now() + budgetMs;
  (function next() {
    if (ms.length === count || (ms.length >= 5 && Date.now() > end)) return done(null, { ms });
    const t0 = process.hrtime.bigint();
    pm2.list((err) => {
      if (err) return done(err);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
      next();
    });
  })();
}

// A stop answered at once (nowait) is still running in PM2 afterwards: its per-process
// steps must not interleave with a later delete/start (PM2 reuses pm_ids, and a late
// step of the stop then tears down the new app's log streams). Every op but the
// read-only ones waits for pending stops first.
let pendingStops = [];
const READ_ONLY = new Set(['list', 'time_list']);

const ops = {
  connect: (m, done) => pm2.connect((err) => done(err, {})),
  start: (m, done) => pm2.start(m.opts, (err) => done(err, {})),
  list: (m, done) => pm2.list((err, list) => done(err, { procs: compact(list, m.name) })),
  time_list: (m, done) => timeList(m.count, m.budget_ms, done),
  stop: (m, done) => {
    if (m.nowait) {
      pendingStops.push(new Promise((resolve) => pm2.stop(m.name, () => resolve())));
      return done(null, {});
    }
    return pm2.stop(m.name, (err) => done(err, {}));
  },
  delete: (m, done) => pm2.delete(m.name, (err) => done(err, {})),
  scale: (m, done) => pm2.scale(m.name, m.n, (err) => done(err, {})),
  kill: (m, done) => pm2.killDaemon((err) => done(err, {})),
  disconnect: (m, done) => { pm2.disconnect(); done(null, {}); },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let m;
  try {
    m = JSON.parse(line);
  } catch (e) {
    return answer(null, { error: 'bad json' });
  }
  const op = ops[m.op];
  if (!op) return answer(m.id, { error: 'unknown op ' + m.op });
  const run = () => op(m, (err, res) => answer(m.id, err ? { error: String((err && err.message) || err) } : Object.assign({ ok: true }, res)));
  const guarded = () => {
    try {
      run();
    } catch (e) {
      answer(m.id, { error: String(e && e.message || e) });
    }
  };
  if (READ_ONLY.has(m.op) || pendingStops.length === 0) return guarded();
  const waiting = pendingStops;
  pendingStops = [];
  Promise.all(waiting).then(guarded);
});
rl.on('close', () => process.exit(0));
