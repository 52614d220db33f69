/**
 * `npm run bench:memory`: the memory target of issue 13 alone. A burst of 20 synthetic studies of
 * 12 slices x 30 phases through one `pulse serve` process (its pipeline thread included) with a real
 * Orthanc and the SQLite job store (bench/burst.ts), and the service's peak resident set (VmHWM: the
 * kernel's own peak over every thread of the process; the service starts no child process). With
 * `--baseline <folder>` the same burst runs first through another built checkout (e.g. a worktree of
 * main), so that two builds are compared in one run, at the same load.
 *
 *   npm run build && npm run bench:memory -- [--studies 20] [--slices 12] [--phases 30]
 *     [--baseline ../main] [--env NAME=VALUE]... [--out bench/memory-results.json]
 *
 * The environment is the Dockerfile's (bench/burst.ts: MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_);
 * `--env NAME=` removes a variable, `--env NAME=VALUE` sets one, for both builds.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { runBurst, type BurstResult } from './burst.js';
import { argument } from './args.js';


function environment(): Record<string, string> {
  const env: Record<string, string> = {};
  process.argv.forEach((arg, i) => {
    if (arg !== '--env') return;
    const pair = process.argv[i + 1] ?? '';
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`--env wants NAME=VALUE, got '${pair}'`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  });
  return env;
}

interface MemoryRun {
  readonly build: string;
  readonly peak_rss_mb: number;
  readonly wall_ms: number;
  readonly health_p99_ms: number;
  readonly load_average_1m: BurstResult['loadAverage1m'];
  readonly pipeline_ms_median: number | undefined;
}

async function main(): Promise<void> {
  const studies = Number(argument('studies') ?? 20);
  const slices = Number(argument('slices') ?? 12);
  const phases = Number(argument('phases') ?? 30);
  const baseline = argument('baseline');
  const out = resolve(argument('out') ?? 'bench/memory-results.json');
  const env = environment();
  const builds: Array<{ name: string; root?: string }> = [...(baseline ? [{ name: `baseline (${resolve(baseline)})`, root: resolve(baseline) }] : []), { name: 'this build' }];
  const loadAtStart = loadavg()[0]!;
  const runs: MemoryRun[] = [];
  // The studies are generated once for every build.
  const studiesFolder = mkdtempSync(join(tmpdir(), 'pulse-bench-memory-'));
  try {
    for (const build of builds) {
      process.stdout.write(`memory burst: ${studies} studies of ${slices} x ${phases}, 1 worker, sqlite, ${build.name}\n`);
      const r = await runBurst({ workers: 1, studies, slices, phases, env, studiesFolder, ...(build.root ? { serviceRoot: build.root } : {}) });
      runs.push({ build: build.name, peak_rss_mb: r.peakRssMb, wall_ms: r.wallMs, health_p99_ms: r.health.p99Ms, load_average_1m: r.loadAverage1m, pipeline_ms_median: r.stagesMs['pipeline'] });
      process.stdout.write(`  peak RSS ${r.peakRssMb} MB; load ${r.loadAverage1m.mean}\n`);
    }
  } finally {
    rmSync(studiesFolder, { recursive: true, force: true });
  }
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, load_average_1m_at_start: Math.round(loadAtStart * 100) / 100 },
    burst: { studies, slices, phases, workers: 1, store: 'sqlite', env },
    target_mb: 600,
    runs,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  const lines = runs.map((r) => `  ${r.build}: peak RSS ${r.peak_rss_mb} MB (target < ${results.target_mb}); ${(r.wall_ms / 1000).toFixed(0)} s, pipeline median ${r.pipeline_ms_median ?? '-'} ms, /healthz p99 ${r.health_p99_ms} ms; load ${r.load_average_1m.mean} (max ${r.load_average_1m.max})`);
  process.stdout.write(`peak RSS of the service, ${studies} studies of ${slices} x ${phases}, ${results.machine.cpus} cores\n${lines.join('\n')}\nwritten ${out}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/memory: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
