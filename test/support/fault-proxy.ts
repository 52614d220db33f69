/**
 * A loopback HTTP proxy in front of a real Orthanc that plays the faults of a real network and a real
 * Orthanc, for the fault tests and the reliability suite (test/reliability/):
 * - `hold(match)`: the next matching request is held, never forwarded until released (a kill or an
 *   Orthanc stop can then happen at exactly that point: mid-retrieve, mid-STOW, before marking);
 * - `answered(match)`: resolves once a matching answer has been delivered in full;
 * - `cut(match, …)`: matching answers are cut short, headers and the first bytes then a close, with no
 *   Content-Length and no chunked framing, so to the client the body looks complete (only the content
 *   can tell);
 * - `lossy`: every request delayed, some answers cut at a random point (the connection closes, the
 *   framing kept, as a network cut does), some connections dropped after Orthanc did the work (seeded:
 *   the same run gives the same faults in the same order).
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { seededRandom } from '../../src/util/seeded-random.js';

export type RequestMatch = (method: string, path: string) => boolean;

export interface HeldRequest {
  readonly method: string;
  readonly path: string;
  /** Forwards the held request now (answered as usual). */
  release(): void;
}

export interface LossyOptions {
  /** Seed of the fault draws. */
  readonly seed: number;
  /** Each request waits up to this long (uniform) before it is forwarded. */
  readonly maxDelayMs: number;
  /** Share of answers with a body that are cut at a random point (0..1). */
  readonly cutRate: number;
  /** Share of requests whose connection is dropped once Orthanc has answered (0..1). */
  readonly dropRate: number;
}

export interface FaultStats {
  requests: number;
  held: number;
  cuts: number;
  drops: number;
  delayedMs: number;
}

export interface FaultProxy {
  readonly url: string;
  readonly stats: Readonly<FaultStats>;
  /** Lossy mode (undefined: a faithful pass-through). */
  lossy: LossyOptions | undefined;
  hold(match: RequestMatch): Promise<HeldRequest>;
  answered(match: RequestMatch): Promise<string>;
  /** Cuts up to `times` matching answers after `keepBytes` bytes of body. */
  cut(match: RequestMatch, options: { keepBytes: number; times: number }): void;
  close(): Promise<void>;
}

/** Status line and headers without framing, `keepBytes` of the body, then the connection closes. */
function writeCutAnswer(res: ServerResponse, answer: IncomingMessage, keepBytes: number): void {
  const socket = res.socket!;
  const headers = Object.entries(answer.headers)
    .filter(([name]) => !['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(name))
    .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(', ') : String(value)}`);
  socket.write(`HTTP/1.1 ${answer.statusCode} OK\r\n${headers.join('\r\n')}\r\nConnection: close\r\n\r\n`);
  let sent = 0;
  answer.on('data', (chunk: Buffer) => {
    if (sent >= keepBytes) return;
    const part = chunk.subarray(0, keepBytes - sent);
    sent += part.length;
    socket.write(part);
    if (sent >= keepBytes) {
      socket.end();
      answer.destroy();
    }
  });
  answer.on('end', () => socket.end());
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const stats: FaultStats = { requests: 0, held: 0, cuts: 0, drops: 0, delayedMs: 0 };
  const holds: Array<{ match: RequestMatch; found: (held: HeldRequest) => void }> = [];
  const waitsForAnswer: Array<{ match: RequestMatch; done: (path: string) => void }> = [];
  const cuts: Array<{ match: RequestMatch; keepBytes: number; left: number }> = [];
  let random = seededRandom(1);
  let lossy: LossyOptions | undefined;

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const plannedCut = cuts.find((c) => c.left > 0 && c.match(method, path));
    if (plannedCut) plannedCut.left--;
    // Lossy draws happen in request order, so a seed gives the same faults in the same order.
    const drop = lossy !== undefined && random() < lossy.dropRate;
    const lossyCut = lossy !== undefined && !drop && random() < lossy.cutRate ? random() : undefined;
    const upstreamRequest = request(
      { host: upstream.hostname, port: upstream.port, method, path, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        if (drop) {
          // Orthanc did the work; the client never hears of it.
          stats.drops++;
          answer.resume();
          answer.on('end', () => res.socket?.destroy());
          return;
        }
        if (plannedCut !== undefined && method === 'GET') {
          stats.cuts++;
          writeCutAnswer(res, answer, plannedCut.keepBytes);
          return;
        }
        if (lossyCut !== undefined) {
          // The connection closes mid-answer, its framing (Content-Length or chunks) kept: what a
          // network or an Orthanc that stops does to a real answer.
          stats.cuts++;
          const declared = Number(answer.headers['content-length'] ?? Number.NaN);
          const keepBytes = Math.floor(lossyCut * (Number.isFinite(declared) ? declared : 65_536));
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          let sent = 0;
          answer.on('data', (chunk: Buffer) => {
            if (sent >= keepBytes) return;
            const part = chunk.subarray(0, keepBytes - sent);
            sent += part.length;
            res.write(part);
            if (sent >= keepBytes) {
              answer.destroy();
              res.socket?.destroy();
            }
          });
          answer.on('end', () => res.socket?.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('end', () => {
          for (const w of [...waitsForAnswer]) {
            if (w.match(method, path)) {
              waitsForAnswer.splice(waitsForAnswer.indexOf(w), 1);
              w.done(path);
            }
          }
        });
      },
    );
    upstreamRequest.on('error', () => res.socket?.destroy());
    upstreamRequest.end(body);
  };

  const server: Server = createServer((req, res) => {
    stats.requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const hold = holds.find((h) => h.match(method, path));
      if (hold) {
        holds.splice(holds.indexOf(hold), 1);
        stats.held++;
        hold.found({ method, path, release: () => forward(req, res, body) });
        return;
      }
      const delay = lossy ? Math.floor(random() * lossy.maxDelayMs) : 0;
      stats.delayedMs += delay;
      if (delay > 0) setTimeout(() => forward(req, res, body), delay);
      else forward(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    get lossy() {
      return lossy;
    },
    set lossy(options: LossyOptions | undefined) {
      lossy = options;
      if (options) random = seededRandom(options.seed);
    },
    hold: (match) => new Promise((found) => holds.push({ match, found })),
    answered: (match) => new Promise((done) => waitsForAnswer.push({ match, done })),
    cut: (match, options) => void cuts.push({ match, keepBytes: options.keepBytes, left: options.times }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** WADO-RS retrieval of one series (what a job retrieves). */
export const isSeriesRetrieval: RequestMatch = (method, path) => method === 'GET' && /\/dicom-web\/studies\/[^/]+\/series\/[^/?]+$/.test(path);
/** STOW-RS of our outputs. */
export const isStow: RequestMatch = (method, path) => method === 'POST' && /\/dicom-web\/studies(\/[^/]+)?$/.test(path);
/** A study's metadata write (marking). */
export const isMarking: RequestMatch = (method, path) => method === 'PUT' && /^\/studies\/[^/]+\/metadata\//.test(path);
