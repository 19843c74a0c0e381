#!/usr/bin/env node
// A tiny UDP "who am I talking to" peer for the demo and the traffic tests:
//   udp-peer.mjs serve PORT ADDR...     replies to every datagram with the source address it saw
//   udp-peer.mjs ask HOST PORT [TRIES]  prints the source address the server saw, or exits 1
// Both run inside network namespaces the caller created; nothing here picks an address.
import dgram from 'node:dgram';

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
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const send = () => sock.send('who', port, host);
  const timer = setInterval(() => {
    if (--tries <= 0) {
      process.stderr.write(`no answer from ${host}:${port}\n`);
      process.exit(1);
    }
    send();
  }, 300);
  sock.on('message', (msg) => {
    clearInterval(timer);
    process.stdout.write(`${msg.toString()}\n`);
    sock.close();
  });
  sock.bind(0, send);
} else {
  process.stderr.write('usage: udp-peer.mjs serve PORT ADDR... | ask HOST PORT [TRIES]\n');
  process.exit(2);
}
