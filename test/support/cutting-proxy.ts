/**
 * A loopback proxy in front of a real Orthanc that cuts chosen answers short, the way an Orthanc that
 * stops mid-answer does: the headers and the first bytes arrive, then the connection closes. The
 * answer carries no Content-Length and no chunked framing (HTTP/1.0 style, `Connection: close`), so
 * to the client the cut-off body looks complete: only the content can tell.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CuttingProxy {
  readonly url: string;
  /** Answers cut so far. */
  readonly cuts: number;
  close(): Promise<void>;
}

/**
 * `shouldCut(method, path, n)` is asked for each request (n counts the matching requests so far);
 * a cut answer delivers `keepBytes` of the body and ends.
 */
export async function startCuttingProxy(target: string, shouldCut: (method: string, path: string) => boolean, options: { keepBytes: number; times: number }): Promise<CuttingProxy> {
  const upstream = new URL(target);
  let cuts = 0;
  const server: Server = createServer((req, res) => {
    const cut = cuts < options.times && shouldCut(req.method ?? 'GET', req.url ?? '/');
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (answer: IncomingMessage) => {
        if (!cut) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        cuts++;
        // Raw socket: status line and headers without framing, part of the body, then close.
        const socket = res.socket!;
        const headers = Object.entries(answer.headers)
          .filter(([name]) => !['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(name))
          .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(', ') : String(value)}`);
        socket.write(`HTTP/1.1 ${answer.statusCode} OK\r\n${headers.join('\r\n')}\r\nConnection: close\r\n\r\n`);
        let sent = 0;
        answer.on('data', (chunk: Buffer) => {
          if (sent >= options.keepBytes) return;
          const part = chunk.subarray(0, options.keepBytes - sent);
          sent += part.length;
          socket.write(part);
          if (sent >= options.keepBytes) {
            socket.end();
            answer.destroy();
          }
        });
        answer.on('end', () => socket.end());
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get cuts() {
      return cuts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
