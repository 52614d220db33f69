/**
 * A real Orthanc 1.10 (Debian binary) started on loopback, for tests and for `pulse demo`.
 * Generates its configuration, picks free ports, waits until `GET /system` answers, and stops it
 * cleanly. The storage folder is temporary (removed on stop) unless a persistent one is given.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { basicAuthorization } from './http.js';

/** A DICOM node Orthanc may send to (`DicomModalities`). */
export interface OrthancModality {
  readonly aet: string;
  readonly host: string;
  readonly port: number;
}

export interface OrthancOptions {
  /**
   * Storage folder (database + files). When given it persists after `stop()`; otherwise a temporary
   * folder is created and removed on `stop()`.
   */
  readonly storageDir?: string;
  /** HTTP port; when taken or absent a free loopback port is chosen. @defaultValue a free port */
  readonly httpPort?: number;
  /** Fail instead of falling back to a free port when `httpPort` is taken. @defaultValue false */
  readonly strictHttpPort?: boolean;
  /** DICOM port. @defaultValue a free port */
  readonly dicomPort?: number;
  /** Seconds a study must be quiet before StableStudy fires. @defaultValue 2 */
  readonly stableAgeSeconds?: number;
  /** User metadata declarations, name -> index (1024..65535). */
  readonly userMetadata?: Readonly<Record<string, number>>;
  /** Lua script bodies; each is written to a file and listed in `LuaScripts`. */
  readonly luaScripts?: readonly string[];
  /** Registered DICOM modalities, symbolic name -> node. */
  readonly modalities?: Readonly<Record<string, OrthancModality>>;
  /** Orthanc's own DICOM AE title. @defaultValue "PULSETEST" */
  readonly aet?: string;
  /** Loads the DICOMweb and GDCM plugins. @defaultValue true */
  readonly plugins?: boolean;
  /**
   * Transfer syntaxes the GDCM plugin decodes; DCMTK (built in) handles the others. Orthanc 1.10.1
   * with Debian's GDCM plugin 1.5 crashes after a few GDCM transcodings (any syntax, even with
   * Throttling 1), so GDCM gets only what DCMTK cannot decode: JPEG 2000. Even that can crash
   * Orthanc: retrieve JPEG 2000 as stored (OrthancRestClient.retrieveInstanceAsStored) and decode locally.
   * @defaultValue JPEG_2000_TRANSFER_SYNTAXES
   */
  readonly gdcmTransferSyntaxes?: readonly string[];
  /** Basic-auth users; when given, authentication is enabled. @defaultValue none (auth off) */
  readonly users?: Readonly<Record<string, string>>;
  /** Extra configuration keys merged last (escape hatch for tests). */
  readonly extraConfig?: Readonly<Record<string, unknown>>;
  /** How long to wait for `GET /system`. @defaultValue 30000 ms */
  readonly startTimeoutMs?: number;
  /** Orthanc executable. @defaultValue "Orthanc" (or $PULSE_ORTHANC_BIN) */
  readonly executable?: string;
  /** Plugin folder. @defaultValue /usr/share/orthanc/plugins */
  readonly pluginDir?: string;
}

export interface RunningOrthanc {
  /** Base URL without trailing slash, e.g. http://127.0.0.1:8042 */
  readonly url: string;
  /** DICOMweb root, `${url}/dicom-web` */
  readonly dicomWebUrl: string;
  readonly httpPort: number;
  readonly dicomPort: number;
  readonly aet: string;
  readonly storageDir: string;
  /** The generated configuration file. */
  readonly configPath: string;
  /** True while the Orthanc process runs. */
  readonly running: boolean;
  /** Last lines of Orthanc's log (stdout + stderr). */
  logTail(lines?: number): string;
  /**
   * Stops Orthanc: SIGTERM (SIGKILL after 10 s) when the storage is kept, SIGKILL when a temporary
   * storage is about to be removed. Removes temporary files unless `keepStorage` is set (for tests
   * that call `start()` again: "Orthanc down for a while, then back").
   */
  stop(options?: { keepStorage?: boolean }): Promise<void>;
  /** Starts Orthanc again on the same storage and ports (after `stop({ keepStorage: true })`). */
  start(): Promise<void>;
}

const DEFAULT_PLUGIN_DIR = '/usr/share/orthanc/plugins';
/** JPEG 2000 (lossless, lossy, Part 2 multi-component): what DCMTK in Orthanc 1.10 cannot decode. */
export const JPEG_2000_TRANSFER_SYNTAXES = ['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.91', '1.2.840.10008.1.2.4.92', '1.2.840.10008.1.2.4.93'] as const;
const PLUGINS = ['libOrthancDicomWeb.so', 'libOrthancGdcm.so'];

/** Asks the OS for a free loopback TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** True when `port` can be bound on loopback now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/** The Orthanc configuration for `options` (pure). */
export function orthancConfig(options: {
  storageDir: string;
  httpPort: number;
  dicomPort: number;
  aet: string;
  stableAgeSeconds: number;
  userMetadata?: Readonly<Record<string, number>>;
  luaScriptPaths?: readonly string[];
  modalities?: Readonly<Record<string, OrthancModality>>;
  pluginPaths?: readonly string[];
  users?: Readonly<Record<string, string>>;
  gdcmTransferSyntaxes?: readonly string[];
  extraConfig?: Readonly<Record<string, unknown>>;
}): Record<string, unknown> {
  const modalities: Record<string, unknown> = {};
  for (const [name, m] of Object.entries(options.modalities ?? {})) modalities[name] = [m.aet, m.host, m.port];
  const auth = options.users !== undefined && Object.keys(options.users).length > 0;
  return {
    Name: 'PULSE-Orthanc',
    StorageDirectory: options.storageDir,
    IndexDirectory: options.storageDir,
    HttpPort: options.httpPort,
    DicomPort: options.dicomPort,
    DicomAet: options.aet,
    // Loopback only: the harness never exposes Orthanc to the network.
    RemoteAccessAllowed: false,
    AuthenticationEnabled: auth,
    RegisteredUsers: options.users ?? {},
    StableAge: options.stableAgeSeconds,
    UserMetadata: options.userMetadata ?? {},
    LuaScripts: options.luaScriptPaths ?? [],
    DicomModalities: modalities,
    Plugins: options.pluginPaths ?? [],
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true, WadoRoot: '/wado', Ssl: false, StudiesMetadata: 'Full', SeriesMetadata: 'Full' },
    Gdcm: { Enable: true, RestrictTransferSyntaxes: [...(options.gdcmTransferSyntaxes ?? JPEG_2000_TRANSFER_SYNTAXES)] },
    HttpTimeout: 60,
    // Keep the index small and startup fast.
    StorageCompression: false,
    OverwriteInstances: false,
    ConcurrentJobs: 2,
    HttpThreadsCount: 8,
    ...(options.extraConfig ?? {}),
  };
}

/**
 * Starts a real Orthanc and resolves once `GET /system` answers. Rejects (with the log tail) when
 * Orthanc exits early or does not answer within `startTimeoutMs`. Retries a few times when the
 * chosen ports were taken between choosing and binding.
 */
export async function startOrthanc(options: OrthancOptions = {}): Promise<RunningOrthanc> {
  const workDir = mkdtempSync(join(tmpdir(), 'pulse-orthanc-'));
  const temporaryStorage = options.storageDir === undefined;
  const storageDir = resolve(options.storageDir ?? join(workDir, 'storage'));
  mkdirSync(storageDir, { recursive: true });
  const pluginDir = options.pluginDir ?? DEFAULT_PLUGIN_DIR;
  const pluginPaths = options.plugins === false ? [] : PLUGINS.map((p) => join(pluginDir, p)).filter((p) => existsSync(p));
  const luaScriptPaths = (options.luaScripts ?? []).map((body, i) => {
    const path = join(workDir, `script-${i}.lua`);
    writeFileSync(path, body);
    return path;
  });
  const executable = options.executable ?? process.env.PULSE_ORTHANC_BIN ?? 'Orthanc';
  const aet = options.aet ?? 'PULSETEST';
  const configPath = join(workDir, 'orthanc.json');
  const logPath = join(workDir, 'orthanc.log');
  const timeoutMs = options.startTimeoutMs ?? 30_000;

  let child: ChildProcess | undefined;
  let httpPort = 0;
  let dicomPort = 0;
  let exited: Promise<void> = Promise.resolve();

  // A temporary storage folder lives inside workDir, so this removes it too.
  const cleanupWork = (): void => {
    rmSync(workDir, { recursive: true, force: true });
  };

  const tail = (lines = 40): string => {
    try {
      return readFileSync(logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };

  const launch = async (): Promise<void> => {
    writeFileSync(
      configPath,
      JSON.stringify(
        orthancConfig({
          storageDir, httpPort, dicomPort, aet,
          stableAgeSeconds: options.stableAgeSeconds ?? 2,
          userMetadata: options.userMetadata, luaScriptPaths, modalities: options.modalities,
          pluginPaths, users: options.users, extraConfig: options.extraConfig,
          ...(options.gdcmTransferSyntaxes !== undefined ? { gdcmTransferSyntaxes: options.gdcmTransferSyntaxes } : {}),
        }),
        null,
        2,
      ),
    );
    const logFd = openSync(logPath, 'a');
    const proc = spawn(executable, [configPath], { stdio: ['ignore', logFd, logFd], detached: false });
    closeSync(logFd);
    child = proc;
    let exitCode: number | null | undefined;
    let spawnError: string | undefined;
    exited = new Promise<void>((done) => {
      proc.once('exit', (code, signal) => {
        exitCode = code ?? (signal ? -1 : 0);
        done();
      });
      proc.once('error', (error: NodeJS.ErrnoException) => {
        exitCode = -2;
        spawnError = error.code === 'ENOENT' ? `Orthanc executable "${executable}" not found (install the Debian package orthanc, or set PULSE_ORTHANC_BIN)` : error.message;
        done();
      });
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (spawnError !== undefined) throw new Error(spawnError);
      if (exitCode !== undefined) throw new OrthancExitedError(`Orthanc exited during start-up (code ${exitCode})`, tail());
      try {
        const res = await fetch(`http://127.0.0.1:${httpPort}/system`, {
          signal: AbortSignal.timeout(2000),
          headers: authHeader(options.users),
        });
        if (res.ok) {
          await res.arrayBuffer();
          return;
        }
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        await exited;
        throw new Error(`Orthanc did not answer GET /system within ${timeoutMs} ms; log tail:\n${tail()}`);
      }
      await delay(100);
    }
  };

  const stopProcess = async (signal: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  const firstStart = async (): Promise<void> => {
    let lastError: unknown;
    for (let attempt = 0; attempt < 4; attempt++) {
      const wanted = attempt === 0 ? options.httpPort : undefined;
      if (wanted !== undefined && (await isPortFree(wanted))) httpPort = wanted;
      else if (wanted !== undefined && options.strictHttpPort) throw new Error(`HTTP port ${wanted} is already in use`);
      else httpPort = await freePort();
      dicomPort = attempt === 0 && options.dicomPort !== undefined ? options.dicomPort : await freePort();
      try {
        await launch();
        return;
      } catch (error) {
        lastError = error;
        // A bind race (another process took the port between our check and Orthanc's bind) ends
        // as an early exit that names the port: try again on fresh ports. Other exits are final.
        if (!(error instanceof OrthancExitedError) || !/already in use/iu.test(error.logTail)) break;
      }
    }
    throw lastError instanceof Error ? new Error(`${lastError.message}${lastError instanceof OrthancExitedError ? `; log tail:\n${lastError.logTail}` : ''}`) : lastError;
  };

  try {
    await firstStart();
  } catch (error) {
    cleanupWork();
    throw error;
  }

  const instance: RunningOrthanc = {
    get url() {
      return `http://127.0.0.1:${httpPort}`;
    },
    get dicomWebUrl() {
      return `http://127.0.0.1:${httpPort}/dicom-web`;
    },
    get httpPort() {
      return httpPort;
    },
    get dicomPort() {
      return dicomPort;
    },
    aet,
    storageDir,
    configPath,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    logTail: tail,
    async stop(stopOptions) {
      // Orthanc takes ~2 s to shut down cleanly; storage that is about to be deleted needs no clean shutdown.
      await stopProcess(temporaryStorage && !stopOptions?.keepStorage ? 'SIGKILL' : 'SIGTERM');
      if (stopOptions?.keepStorage) return;
      if (temporaryStorage) rmSync(storageDir, { recursive: true, force: true });
      cleanupWork();
    },
    async start() {
      if (instance.running) return;
      if (!existsSync(workDir)) throw new Error('Orthanc was stopped without keepStorage; start a new one');
      try {
        await launch();
      } catch (error) {
        throw error instanceof OrthancExitedError ? new Error(`${error.message}; log tail:\n${error.logTail}`) : error;
      }
    },
  };
  return instance;
}

class OrthancExitedError extends Error {
  constructor(message: string, readonly logTail: string) {
    super(message);
  }
}

function authHeader(users: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const first = users ? Object.entries(users)[0] : undefined;
  return first ? basicAuthorization(first[0], first[1]) : {};
}

function delay(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
