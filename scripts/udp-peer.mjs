#!/usr/bin/env node
// A tiny UDP "who am I talking to" peer for the demo and the traffic tests:
//   udp-peer.mjs serve PORT ADDR...     replies to every datagram with the source address it saw
//   udp-peer.mjs ask HOST PORT [TRIES] [FROM]  prints the source address the server saw, or
//                                              exits 1 (FROM: the local address to send from)
// and, for toPorts (which source PORT did the NAT pick?):
//   udp-peer.mjs serve-ports PORT ADDR...           UDP and TCP on PORT: answers "ADDRESS PORT" it saw
//   udp-peer.mjs flows udp|tcp HOST PORT COUNT      COUNT new flows (a new socket each), one
//                                                   "ADDRESS PORT" line per answer; exits 1 if any
//                                                   flow got no answer
// All run inside network namespaces the caller created; nothing here picks an address.
import dgram from 'node:dgram';
import net from 'node:net';

const [mode, a, b, c] = process.argv.slice(2);

if (mode === 'serve') {
  // One socket per address: a reply must leave from the address the request was sent to, or
  // conntrack on the router cannot match it to the (NATed) flow. Node has no IP_PKTINFO.
  const port = Number(a);
  const addresses = process.argv.slice(4);
  let pending = addresses.length;
  for (const address of addresses) {
    const sock = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    sock.on('message', (_msg, rinfo) => sock.send(rinfo.address, rinfo.port, rinfo.address));
    sock.bind(port, address, () => {
      if (--pending === 0) process.stdout.write('ready\n');
    });
  }
} else if (mode === 'ask') {
  const host = a;
  const port = Number(b);
  let tries = Number(c ?? 5);
  // A new socket is a new conntrack flow; connected, so only the peer's own answer counts.
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const timer = setInterval(() => {
    if (--tries <= 0) {
      process.stderr.write(`no answer from ${host}:${port}\n`);
      process.exit(1);
    }
    sock.send('who');
  }, 300);
  sock.on('message', (msg) => {
    clearInterval(timer);
    process.stdout.write(`${msg.toString()}\n`);
    sock.close();
  });
  const from = process.argv[6];
  const start = () => sock.connect(port, host, () => sock.send('who'));
  if (from) sock.bind({ address: from }, start);
  else start();
} else if (mode === 'serve-ports') {
  const port = Number(a);
  const addresses = process.argv.slice(4);
  let pending = addresses.length * 2;
  const ready = () => {
    if (--pending === 0) process.stdout.write('ready\n');
  };
  for (const address of addresses) {
    const sock = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    sock.on('message', (_msg, rinfo) =>
      sock.send(`${rinfo.address} ${rinfo.port}`, rinfo.port, rinfo.address),
    );
    sock.bind(port, address, ready);
    const server = net.createServer((conn) => conn.end(`${conn.remoteAddress} ${conn.remotePort}`));
    server.listen(port, address, ready);
  }
} else if (mode === 'flows') {
  const [proto, host, portText, countText] = process.argv.slice(3);
  const port = Number(portText);
  const count = Number(countText);
  /** One flow: a fresh socket (a new source port, so a new conntrack entry and a new NAT choice). */
  const udpFlow = () =>
    new Promise((resolve) => {
      const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
      let tries = 10;
      const timer = setInterval(() => (--tries <= 0 ? done(null) : sock.send('who')), 200);
      const done = (answer) => {
        clearInterval(timer);
        sock.close();
        resolve(answer);
      };
      sock.on('message', (msg) => done(msg.toString()));
      sock.on('error', () => done(null));
      sock.connect(port, host, () => sock.send('who'));
    });
  const tcpFlow = () =>
    new Promise((resolve) => {
      let data = '';
      const conn = net.connect({ host, port, timeout: 3000 });
      conn.setEncoding('utf8');
      conn.on('data', (d) => (data += d));
      conn.on('end', () => resolve(data || null));
      conn.on('timeout', () => conn.destroy());
      conn.on('error', () => resolve(null));
      conn.on('close', () => resolve(data || null));
    });
  const flow = proto === 'tcp' ? tcpFlow : udpFlow;
  let failed = 0;
  const lines = [];
  // A few flows at a time: quick, and few enough that no reply is lost to a full socket buffer.
  for (let done = 0; done < count;) {
    const batch = Math.min(16, count - done);
    const answers = await Promise.all(Array.from({ length: batch }, flow));
    for (const answer of answers) {
      if (answer === null) failed++;
      else lines.push(answer);
    }
    done += batch;
  }
  process.stdout.write(lines.map((l) => `${l}\n`).join(''));
  if (failed > 0) {
    process.stderr.write(`${failed} of ${count} ${proto} flows to ${host}:${port} got no answer\n`);
    process.exit(1);
  }
} else {
  process.stderr.write(
    'usage: udp-peer.mjs serve PORT ADDR... | ask HOST PORT [TRIES] [FROM] | serve-ports PORT ADDR... | flows udp|tcp HOST PORT COUNT\n',
  );
  process.exit(2);
}
