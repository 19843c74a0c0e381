'use strict';
// The e2e's traffic ends, run with the HOST's node inside namespaces the e2e created.
//   node peer.cjs serve ADDR       TCP :8080 and UDP :8081 on ADDR; each answers with the
//                                  source address it saw (after any SNAT on the way)
//   node peer.cjs probe tcp|udp ADDR   prints the address the server at ADDR saw, or
//                                  "timeout"/"error CODE"; exit 0 only with an answer
const net = require('node:net');
const dgram = require('node:dgram');
const [verb, a, b] = process.argv.slice(2);

if (verb === 'serve') {
  net.createServer((c) => c.end(c.remoteAddress + '\n')).listen(8080, a);
  const u = dgram.createSocket('udp4');
  u.on('message', (_m, r) => u.send(r.address + '\n', r.port, r.address));
  u.bind(8081, a);
  // never outlive a crashed harness by long
  setTimeout(() => process.exit(0), 30 * 60e3).unref();
} else if (verb === 'probe' && (a === 'tcp' || a === 'udp') && b) {
  const done = (s, code) => { console.log(s); process.exit(code); };
  setTimeout(() => done('timeout', 1), 3000);
  if (a === 'tcp') {
    let d = '';
    net.connect(8080, b).on('data', (x) => (d += x)).on('end', () => done(d.trim(), 0)).on('error', (e) => done('error ' + e.code, 1));
  } else {
    const u = dgram.createSocket('udp4');
    u.on('message', (m) => done(String(m).trim(), 0)).on('error', (e) => done('error ' + e.code, 1));
    u.send('who am i', 8081, b);
  }
} else {
  console.error('usage: peer.cjs serve ADDR | probe tcp|udp ADDR');
  process.exit(2);
}
