import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from './support/paths.js';

const python = '/usr/bin/python3';
const hasTorch = existsSync(python) && spawnSync(python, ['-c', 'import torch, numpy, scipy'], { encoding: 'utf8' }).status === 0;

test('one tiny training step per stage runs, checkpoints, and resumes', { skip: hasTorch ? false : `skipped: ${python} with torch, numpy and scipy is not available` }, () => {
  const out = mkdtempSync(join(tmpdir(), 'pulse-smoke-'));
  try {
    const run = () =>
      spawnSync(python, ['-m', 'training.pulse_lite.train', '--smoke', '--threads', '1', '--out', out], {
        cwd: projectRoot,
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, OMP_NUM_THREADS: '1' },
      });
    const first = run();
    assert.equal(first.status, 0, first.stderr);
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const pre = log.find((r) => r.stage === 'pretrain');
    const train = log.find((r) => r.stage === 'train');
    assert.ok(pre && Number.isFinite(pre.recon), 'the masked-reconstruction stage logged a finite loss');
    assert.ok(train && Number.isFinite(train.loss), 'the supervised stage logged a finite composite loss');
    for (const part of ['dice', 'ce', 'lovasz', 'diag']) assert.ok(Number.isFinite(train[part]), `loss term ${part} logged`);
    assert.ok(existsSync(join(out, 'ckpt.pt')) && existsSync(join(out, 'best.pt')), 'checkpoint and best weights written');
    const second = run();
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stdout, /resumed done/, 'a second run resumes from the checkpoint instead of starting over');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('cross-validation smoke: stratified folds, per-fold training, held-out prediction, head with inner temperature, aggregate with ECE, resume', { skip: hasTorch ? false : `skipped: ${python} with torch, numpy and scipy is not available` }, () => {
  const out = mkdtempSync(join(tmpdir(), 'pulse-cv-smoke-'));
  try {
    const run = () =>
      spawnSync(python, ['-m', 'training.pulse_lite.pipeline', 'cv', '--smoke', '--threads', '1', '--out', out], {
        cwd: projectRoot,
        encoding: 'utf8',
        timeout: 180_000,
        env: { ...process.env, OMP_NUM_THREADS: '1' },
      });
    const first = run();
    assert.equal(first.status, 0, first.stderr);
    const report = JSON.parse(readFileSync(join(out, 'cv-report.json'), 'utf8')) as {
      complete: boolean;
      ece_bins: number;
      per_fold: Array<Record<string, number | null>>;
      summary: Record<string, { mean: number | null; sd: number | null; n: number }>;
      pooled: { patients: number; ece: number; confusion: number[][] };
      targets: Record<string, unknown>;
    };
    assert.equal(report.complete, true);
    assert.equal(report.per_fold.length, 2, 'two folds aggregated');
    assert.equal(report.pooled.patients, 10, 'every synthetic patient held out exactly once');
    assert.equal(report.pooled.confusion.flat().reduce((a, b) => a + b, 0), 10);
    assert.equal(report.ece_bins, 10);
    assert.ok(report.pooled.ece >= 0 && report.pooled.ece <= 1, 'pooled ECE is a proportion');
    for (const key of ['dice_rv_es', 'dice_lv_ed', 'hd95_rv_es_mm', 'lvef_mae_pct', 'rvef_mae_pct', 'lv_mass_mae_g', 'diagnosis_accuracy', 'diagnosis_macro_f1', 'ece', 'oof_head_accuracy', 'oof_head_ece']) {
      assert.ok(key in report.summary, `summary has ${key}`);
    }
    assert.equal(report.summary.diagnosis_accuracy!.n, 2, 'mean and SD across the 2 folds');
    for (const k of [0, 1]) {
      const fold = JSON.parse(readFileSync(join(out, `fold-${k}`, 'result.json'), 'utf8')) as {
        held_out: string[];
        trained_on: string[];
        temperature: number;
        inner_folds: number;
        patients: Array<{ id: string; group: string; probabilities: number[] }>;
      };
      assert.equal(fold.held_out.length, 5);
      assert.deepEqual(fold.held_out.filter((id) => fold.trained_on.includes(id)), [], `fold ${k}: no held-out patient in training`);
      assert.equal(new Set(fold.patients.map((p) => p.group)).size, 5, `fold ${k}: stratified, one patient per group`);
      assert.ok(fold.inner_folds >= 2 && fold.temperature > 0, `fold ${k}: temperature from an inner cross-validation`);
      for (const p of fold.patients) assert.ok(Math.abs(p.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-4);
      assert.ok(existsSync(join(out, `fold-${k}`, 'ckpt.pt')), 'per-fold checkpoint');
    }
    const md = readFileSync(join(out, 'EVAL-cv.md'), 'utf8');
    assert.match(md, /\| rv \| [\d.]+ ± [\d.]+ \|/);
    assert.match(md, /expected calibration error/);
    assert.match(md, /\*\*Out-of-fold head\*\*/, "each fold also diagnosed by a head fitted on the other fold's held-out patients");
    const second = run();
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stdout, /fold 0: result present/, 'a second run resumes from the fold results');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('training unit tests (fold stratification, ECE, HD95, recipes, native crop) pass', { skip: hasTorch ? false : `skipped: ${python} with torch, numpy and scipy is not available` }, () => {
  const r = spawnSync(python, ['-m', 'unittest', 'discover', '-s', 'training/tests', '-t', '.'], {
    cwd: projectRoot,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /Ran \d+ tests/);
  assert.match(r.stderr, /\nOK/);
});

test('training/gpu-cv.sh runs the folds as parallel processes, aggregates, and copies the results to $OUT (CPU, synthetic)', { skip: hasTorch ? false : `skipped: ${python} with torch, numpy and scipy is not available` }, () => {
  const work = mkdtempSync(join(tmpdir(), 'pulse-gpu-cv-'));
  const results = join(work, 'out');
  try {
    mkdirSync(results);
    const r = spawnSync('bash', ['training/gpu-cv.sh', '--smoke'], {
      cwd: projectRoot,
      encoding: 'utf8',
      timeout: 240_000,
      env: { ...process.env, PYTHON: python, DEVICE: 'cpu', FOLDS: '0 1', THREADS: '1', OMP_NUM_THREADS: '1', CV_OUT: join(work, 'cv'), OUT: results },
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /folds started: \d+ \d+/, 'one process per fold');
    for (const f of ['cv-report.json', 'EVAL-cv.md', 'cv-folds.tar.gz', 'cv-weights-0-2.tar']) assert.ok(existsSync(join(results, f)), `${f} copied to $OUT`);
    const report = JSON.parse(readFileSync(join(results, 'cv-report.json'), 'utf8')) as { complete: boolean; command: string; per_fold: unknown[] };
    assert.equal(report.complete, true);
    assert.equal(report.per_fold.length, 2);
    assert.match(report.command, /gpu-cv\.sh --smoke/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
