import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
