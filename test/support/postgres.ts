/**
 * A real PostgreSQL 15 for a test: a temporary cluster (initdb) under a fresh folder, on a free
 * loopback port with its unix socket in that folder, started and restarted with pg_ctl, stopped and
 * removed afterwards (also when the test process exits or is interrupted). PostgreSQL refuses to run
 * as root, so as root the binaries run as the `postgres` user (runuser) in a folder that user owns.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/orthanc/local-orthanc.js';

const run = promisify(execFile);

/** Debian's PostgreSQL 15 binaries (PULSE_TEST_PG_BIN to use others). */
export const POSTGRES_BIN = process.env.PULSE_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface TestPostgres {
  /** postgres://pulse@127.0.0.1:<port>/postgres (trust authentication on loopback). */
  readonly url: string;
  readonly port: number;
  /** Fast shutdown, `downMs` without a server (connections refused), then start again on the same port. */
  restart(downMs?: number): Promise<void>;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
  /** The server's log so far (for a failing test's message). */
  log(): string;
}

const live = new Set<{ dir: string; data: string }>();
let exitHandler = false;

function asServerUser(command: string, args: string[]): [string, string[]] {
  // PostgreSQL will not run as root: hand the command to the postgres user.
  return userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

function stopNow(cluster: { dir: string; data: string }): void {
  try {
    const [cmd, args] = asServerUser(join(POSTGRES_BIN, 'pg_ctl'), ['-D', cluster.data, '-m', 'immediate', '-w', 'stop']);
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 20_000 });
  } catch {
    // not running
  }
  rmSync(cluster.dir, { recursive: true, force: true });
}

function registerExitHandler(): void {
  if (exitHandler) return;
  exitHandler = true;
  process.once('exit', () => {
    for (const cluster of live) stopNow(cluster);
  });
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const pgCtl = join(POSTGRES_BIN, 'pg_ctl');
  if (!existsSync(pgCtl)) throw new Error(`PostgreSQL binaries not found under ${POSTGRES_BIN} (Debian package postgresql-15; scripts/setup.sh installs it)`);
  const dir = mkdtempSync(join(tmpdir(), 'pulse-pg-'));
  if (userInfo().uid === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const cluster = { dir, data };
  live.add(cluster);
  registerExitHandler();
  const pg = async (command: string, args: string[], timeoutMs = 120_000): Promise<void> => {
    const [cmd, full] = asServerUser(join(POSTGRES_BIN, command), args);
    await run(cmd, full, { timeout: timeoutMs });
  };
  let port = 0;
  const start = async (): Promise<void> => {
    // Server settings for a throw-away cluster: loopback only, socket in our folder, no fsync (a clean
    // shutdown still writes everything; only an OS crash could lose data, and this cluster dies with the test).
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100 -c shared_buffers=16MB`;
    await pg('pg_ctl', ['-D', data, '-l', logFile, '-o', options, '-w', '-t', '120', 'start']);
  };
  try {
    await pg('initdb', ['-D', data, '-U', 'pulse', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      try {
        await start();
        break;
      } catch (error) {
        // Another process took the port between freePort() and the server's bind: try another.
        if (attempt >= 3) throw error;
      }
    }
  } catch (error) {
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
    stopNow(cluster);
    live.delete(cluster);
    throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n${log}`);
  }
  return {
    url: `postgres://pulse@127.0.0.1:${port}/postgres`,
    port,
    async restart(downMs = 0) {
      await pg('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '120', 'stop']);
      if (downMs > 0) await new Promise((done) => setTimeout(done, downMs));
      await start();
    },
    async stop() {
      if (!live.has(cluster)) return;
      await pg('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']).catch(() => undefined);
      stopNow(cluster);
      live.delete(cluster);
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
  };
}
