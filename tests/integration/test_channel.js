// SPDX-License-Identifier: MIT
// Node client half of test_channel.py: argv[2] = base "127.0.0.1:port", argv[3] = scenario,
// argv[4] = pid. Prints one JSON line with what it saw; exits non-zero on a timeout.
const WebSocket = require('ws');
const SockJS = require('sockjs-client');
const [base, scenario, pid] = process.argv.slice(2);
const out = (o) => { console.log(JSON.stringify(o)); process.exit(0); };
setTimeout(() => { console.log(JSON.stringify({timeout: true})); process.exit(2); }, 15000);

if (scenario === 'v1') {
  const ws = new WebSocket(`ws://${base}/${pid}/channel`);
  const seen = [];
  ws.on('open', () => ws.send('V1 message abc\0hello\n'));
  // "echoed" on stderr once the output came back: the test then stops the process.
  ws.on('message', (d) => { seen.push(d.toString()); if (d.toString().startsWith('V1 message ')) process.stderr.write('echoed\n'); });
  ws.on('close', (code) => out({seen, code}));
} else if (scenario === 'v1_readonly') {
  const ws = new WebSocket(`ws://${base}/${pid}/channel?mode=1`);
  const seen = [];
  ws.on('open', () => ws.send('V1 message m1\0nope'));
  ws.on('message', (d) => { seen.push(d.toString()); ws.close(); });
  ws.on('close', () => out({seen}));
} else if (scenario === 'v1_badstream' || scenario === 'origin') {
  const path = scenario === 'origin' ? `/${pid}/channel` : `/${pid}/channel/nope`;
  const opts = scenario === 'origin' ? {origin: 'http://evil.example'} : {};
  const ws = new WebSocket(`ws://${base}${path}`, opts);
  ws.on('unexpected-response', (req, res) => out({status: res.statusCode}));
  ws.on('open', () => out({status: 101}));
} else if (scenario === 'raw') {
  const ws = new WebSocket(`ws://${base}/channel/websocket`);
  const seen = [];
  const send = (o) => ws.send(typeof o === 'string' ? o : JSON.stringify(o));
  ws.on('open', () => {
    send({event: 'SUB', data: {topic: `STREAM:${pid}`}});
    send({event: 'SUB', data: {topic: 'JOB:default.nope'}});
    send({event: 'CMD', data: {identity: 'c1', name: 'send', args: [Number(pid), 'raw\n']}});
    send({event: 'CMD', data: {identity: 'c2', name: 'bogus'}});
    send({event: 'CMD', data: {identity: 'c3', name: 'info', args: ['default.cat']}});
    send({event: 'NOP'});
    send('junk');
  });
  // Six answers and the echoed output (its event may come before or after the answers).
  ws.on('message', (d) => { seen.push(JSON.parse(d.toString())); if (seen.length === 7) ws.close(); });
  ws.on('close', () => out({seen}));
} else if (scenario === 'sockjs_websocket' || scenario === 'sockjs_xhr_streaming') {
  const transports = scenario === 'sockjs_websocket' ? ['websocket'] : ['xhr-streaming'];
  const s = new SockJS(`http://${base}/channel`, null, {transports});
  const seen = [];
  const send = (o) => s.send(JSON.stringify(o));
  let phase = 0;
  s.onopen = () => { send({event: 'SUB', data: {topic: 'EVENTS:load'}}); send({event: 'SUB', data: {topic: 'EVENTS:load'}}); };
  s.onmessage = (e) => {
    const m = JSON.parse(e.data);
    seen.push(m);
    if (m.event === 'gaffer:subscription_success' && phase === 0 && seen.length === 2) {
      phase = 1;
      send({event: 'CMD', data: {identity: 'L', name: 'load', args: [{name: 'sj' + transports[0].length, cmd: 'sleep', args: ['100']}]}});
    } else if (m.event === 'gaffer:event' && phase === 1) {
      phase = 2;
      send({event: 'UNSUB', data: {topic: 'EVENTS:load'}});
      send({event: 'UNSUB', data: {topic: 'EVENTS:load'}});
      send({event: 'CMD', data: {identity: 'L2', name: 'load', args: [{name: 'sjb' + transports[0].length, cmd: 'sleep', args: ['100']}]}});
    } else if (m.event === 'gaffer:command_success' && m.data.id === 'L2') {
      setTimeout(() => s.close(), 300);
    }
  };
  s.onclose = () => out({seen, transport: s.transport});
}
else if (scenario === 'utf8_v1' || scenario === 'utf8_wstreams' || scenario === 'utf8_raw') {
  // Process output with invalid and split UTF-8 in text frames (argv[5]: the raw bytes the
  // child writes, hex). ws closes with 1007 on a text frame that is not UTF-8; the text
  // must be what the WHATWG decoder makes of the bytes.
  const want = new TextDecoder().decode(Buffer.from(process.argv[5], 'hex'));
  const path = {utf8_v1: `/${pid}/channel`, utf8_wstreams: `/wstreams/${pid}`, utf8_raw: '/channel/websocket'}[scenario];
  const ws = new WebSocket(`ws://${base}${path}`);
  const res = {want, text: '', frames: 0, errors: []};
  const done = () => out(res);
  ws.on('error', (e) => res.errors.push(String(e.code || e.message)));
  ws.on('open', () => {
    if (scenario === 'utf8_v1') ws.send('V1 message go\0go\n');
    else if (scenario === 'utf8_wstreams') ws.send('go\n');
    else ws.send(JSON.stringify({event: 'SUB', data: {topic: `STREAM:${pid}`}}));
  });
  ws.on('message', (d, isBinary) => {
    const s = d.toString();
    if (isBinary) res.errors.push('binary frame');
    if (scenario === 'utf8_v1') {
      if (s.startsWith('V1 message ')) { res.frames++; res.text += s.slice(s.indexOf('\0') + 1); }
    } else if (scenario === 'utf8_wstreams') {
      res.frames++; res.text += s;
    } else {
      const m = JSON.parse(s);
      if (m.event === 'gaffer:subscription_success')
        ws.send(JSON.stringify({event: 'CMD', data: {identity: 'go', name: 'send', args: [Number(pid), 'go\n']}}));
      if (m.event === 'gaffer:event') { res.frames++; res.text += m.data.data; }
      // The raw channel stays open after the process exits: stop once the text is whole.
      if (res.text === want) ws.close();
    }
  });
  ws.on('close', (code) => { res.code = code; done(); });
}
