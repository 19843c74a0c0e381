/**
 * `GET /metrics` over plain HTTP with node:http (no dependency). Only when `metrics.listen` is
 * set: by default the daemon opens no socket at all (the unit even forbids IP sockets, see
 * docs/metrics.md for the drop-in that allows them).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Prometheus text format 0.0.4. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Concurrent connections kept; more are closed at once (Prometheus holds one per target). */
export const MAX_CONNECTIONS = 16;
export const HEADERS_TIMEOUT_MS = 5_000;
export const REQUEST_TIMEOUT_MS = 10_000;
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export interface MetricsServer {
  /** The bound address (port resolved when 0 was asked for). */
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

/** Listens on host:port; resolves once bound, rejects with the listen error (EADDRINUSE, …). */
export function startMetricsServer(
  host: string,
  port: number,
  render: () => string,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res
        .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
        .end('not found: the metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
        .end('only GET and HEAD\n');
      return;
    }
    const body = render();
    res.writeHead(200, {
      'content-type': EXPOSITION_CONTENT_TYPE,
      'content-length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  // A scraper that connects and sends nothing must not hold a socket forever, and a flood of
  // connections must not hold thousands: a scrape is one short request.
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.maxConnections = MAX_CONNECTIONS;
  server.maxHeadersCount = 64;
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => {
      server.close();
      reject(e);
    };
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      // Nothing is expected after a successful listen, but an unhandled 'error' would crash
      // the daemon; client socket errors are handled by node:http itself.
      server.on('error', () => undefined);
      const bound = server.address() as AddressInfo;
      resolve({
        address: { host, port: bound.port },
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
