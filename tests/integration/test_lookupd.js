// SPDX-License-Identifier: MIT
// Node client half of test_lookupd.py: the real sockjs-client on the lookupd's /lookup
// event feed. argv: base "127.0.0.1:port", transport (websocket | xhr-streaming), count.
// Writes "open" on stderr once the session is open, then prints one JSON line with the
// first `count` events; exits non-zero on a timeout.
const SockJS = require('sockjs-client');
const [base, transport, count] = process.argv.slice(2);
setTimeout(() => { console.log(JSON.stringify({timeout: true})); process.exit(2); }, 20000);
const s = new SockJS(`http://${base}/lookup`, null, {transports: [transport]});
const seen = [];
s.onopen = () => process.stderr.write('open\n');
s.onmessage = (e) => {
  seen.push(JSON.parse(e.data));
  if (seen.length === Number(count)) {
    console.log(JSON.stringify({seen, transport: s.transport}));
    process.exit(0);
  }
};
s.onclose = (e) => { console.log(JSON.stringify({seen, closed: e.code})); process.exit(3); };
