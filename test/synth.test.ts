/**
 * The synthetic cine generator: determinism, exact truth, group physiology, geometry, DICOM
 * validity (dciodvfy) in every domain, the on-disk format and the `pulse synth` command.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import dcmjs from 'dcmjs';
import { isValidUid } from '../src/dicom/uid.js';
import { generateStudy, readSynthStudy, SYNTH_DOMAINS, writeStudy, type SynthStudy } from '../src/synth/index.js';
import { Random } from '../src/synth/random.js';
import { projectRoot, pulseBin } from './support/paths.js';

const run = promisify(execFile);

type Dataset = Record<string, unknown>;
function readDataset(bytes: Uint8Array): Dataset {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const dict = dcmjs.data.DicomMessage.readFile(buffer);
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict) as Dataset;
}
const num = (v: unknown): number => Number(v);
const vec = (v: unknown): number[] => (v as unknown[]).map(Number);

/** Volumes recomputed here, independently of src/synth/truth.ts (regular stack: slab = slice spacing). */
function recomputeVolumes(study: SynthStudy): { lv: number[]; rv: number[]; myo: number[] } {
  const { grid } = study.truth;
  const voxelMl = (grid.pixelSpacing[0] * grid.pixelSpacing[1] * grid.spacingBetweenSlicesMm) / 1000;
  const lv = new Array<number>(grid.phases).fill(0);
  const rv = new Array<number>(grid.phases).fill(0);
  const myo = new Array<number>(grid.phases).fill(0);
  for (const entry of study.truth.labels.instances) {
    const map = study.labels.get(entry.sopInstanceUID as never) as Uint8Array;
    for (const v of map) {
      if (v === 1) rv[entry.phase] = (rv[entry.phase] as number) + voxelMl;
      else if (v === 2) myo[entry.phase] = (myo[entry.phase] as number) + voxelMl;
      else if (v === 3) lv[entry.phase] = (lv[entry.phase] as number) + voxelMl;
    }
  }
  return { lv, rv, myo };
}

const close = (a: number, b: number, tol = 1e-6): boolean => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

describe('seeded random streams', () => {
  it('repeat for equal keys and differ for different keys', () => {
    const a = Random.from('k', 1);
    const b = Random.from('k', 1);
    const c = Random.from('k', 2);
    const seqA = Array.from({ length: 5 }, () => a.nextUint32());
    assert.deepEqual(Array.from({ length: 5 }, () => b.nextUint32()), seqA);
    assert.notDeepEqual(Array.from({ length: 5 }, () => c.nextUint32()), seqA);
  });
  it('draw normals with mean ~0 and sd ~1', () => {
    const r = Random.from('normal-check');
    const xs = Array.from({ length: 20000 }, () => r.normal());
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
    assert.ok(Math.abs(mean) < 0.03 && Math.abs(sd - 1) < 0.03, `mean ${mean} sd ${sd}`);
  });
});

describe('generateStudy', () => {
  const small = { seed: 3, group: 'MINF', slices: 6, phases: 8 } as const;
  const study = generateStudy(small);

  it('is deterministic: the same options give identical bytes, another seed differs', () => {
    const again = generateStudy(small);
    assert.equal(again.files.length, study.files.length);
    study.files.forEach((f, i) => assert.deepEqual(again.files[i]?.bytes, f.bytes, `file ${f.name}`));
    assert.deepEqual(again.labelsBin, study.labelsBin);
    assert.deepEqual(again.truth, study.truth);
    const other = generateStudy({ ...small, seed: 4 });
    assert.notDeepEqual(other.labelsBin, study.labelsBin);
    assert.notEqual(other.truth.studyInstanceUID, study.truth.studyInstanceUID);
    assert.notDeepEqual(other.files[0]?.bytes, study.files[0]?.bytes);
  });

  it('writes one file per slice and phase with unique valid UIDs', () => {
    assert.equal(study.files.length, 6 * 8);
    const uids = new Set(study.truth.labels.instances.map((e) => e.sopInstanceUID));
    assert.equal(uids.size, 48);
    for (const uid of [...uids, study.truth.studyInstanceUID, study.truth.seriesInstanceUID]) assert.ok(isValidUid(uid), uid);
    for (const entry of study.truth.labels.instances) assert.equal(study.labels.get(entry.sopInstanceUID as never)?.length, entry.rows * entry.columns);
  });

  it('has truth volumes equal to the volumes recomputed from the label maps, and ED/ES/EF/mass from them', () => {
    const v = recomputeVolumes(study);
    const t = study.truth;
    for (let p = 0; p < t.grid.phases; p++) {
      assert.ok(close(t.volumes.lv_ml[p] as number, v.lv[p] as number), `LV phase ${p}`);
      assert.ok(close(t.volumes.rv_ml[p] as number, v.rv[p] as number), `RV phase ${p}`);
      assert.ok(close(t.volumes.myo_ml[p] as number, v.myo[p] as number), `MYO phase ${p}`);
    }
    const ed = v.lv.indexOf(Math.max(...v.lv));
    const es = v.lv.indexOf(Math.min(...v.lv));
    assert.deepEqual(t.phases, { ed, es });
    const m = t.measurements;
    assert.ok(close(m.lvedv_ml, v.lv[ed] as number) && close(m.lvesv_ml, v.lv[es] as number));
    assert.ok(close(m.lvef_pct, ((m.lvedv_ml - m.lvesv_ml) / m.lvedv_ml) * 100));
    assert.ok(close(m.rvef_pct, ((m.rvedv_ml - m.rvesv_ml) / m.rvedv_ml) * 100));
    assert.ok(close(m.lv_mass_g, (v.myo[ed] as number) * 1.05));
    assert.ok(close(m.lvedvi_ml_m2, m.lvedv_ml / t.patient.bsaM2));
    assert.ok(close(t.patient.bsaM2, Math.sqrt((t.patient.sizeM * 100 * t.patient.weightKg) / 3600)));
  });

  it('contracts: LV volume falls from ED to ES and the wall thickens', () => {
    const t = study.truth;
    assert.ok(t.volumes.lv_ml[t.phases.es]! < 0.8 * t.volumes.lv_ml[t.phases.ed]!);
    // Mean wall thickness (annulus model) over mid slices thickens from ED to ES.
    const [dr, dc] = t.grid.pixelSpacing;
    const thickness = (phase: number): number => {
      const values: number[] = [];
      for (const e of t.labels.instances.filter((x) => x.phase === phase)) {
        const map = study.labels.get(e.sopInstanceUID as never) as Uint8Array;
        let lv = 0;
        let myo = 0;
        for (const v of map) (v === 3 ? lv++ : v === 2 ? myo++ : 0);
        if (lv > 0 && myo > 0) values.push(Math.sqrt(((lv + myo) * dr * dc) / Math.PI) - Math.sqrt((lv * dr * dc) / Math.PI));
      }
      return values.reduce((s, x) => s + x, 0) / values.length;
    };
    assert.ok(thickness(t.phases.es) > 1.1 * thickness(t.phases.ed), `ED ${thickness(t.phases.ed)} ES ${thickness(t.phases.es)}`);
  });

  it('writes consistent oblique geometry, cine timing and demographics', () => {
    const t = study.truth;
    const datasets = study.files.map((f) => readDataset(f.bytes));
    const first = datasets[0] as Dataset;
    const iop = vec(first.ImageOrientationPatient);
    const row = iop.slice(0, 3);
    const col = iop.slice(3, 6);
    const normal = [row[1]! * col[2]! - row[2]! * col[1]!, row[2]! * col[0]! - row[0]! * col[2]!, row[0]! * col[1]! - row[1]! * col[0]!];
    // Oblique: neither direction is along a patient axis.
    for (const v of [row, col]) assert.ok(Math.max(...v.map(Math.abs)) < 0.97, `axis-aligned direction ${v}`);
    const spacing = num(first.SpacingBetweenSlices);
    assert.ok(num(first.SliceThickness) <= spacing + 1e-9);
    const bySlice = new Map<number, number[]>();
    datasets.forEach((ds, i) => {
      assert.deepEqual(vec(ds.ImageOrientationPatient), iop);
      assert.deepEqual(vec(ds.PixelSpacing), [...t.grid.pixelSpacing]);
      const entry = t.labels.instances[i]!;
      assert.equal(ds.SOPInstanceUID, entry.sopInstanceUID);
      const ipp = vec(ds.ImagePositionPatient);
      const along = ipp[0]! * normal[0]! + ipp[1]! * normal[1]! + ipp[2]! * normal[2]!;
      assert.ok(Math.abs(along - t.grid.slicePositionsMm[entry.slice]!) < 1e-3);
      // The stack is straight: in-plane coordinates of the corners agree across slices.
      const inRow = ipp[0]! * row[0]! + ipp[1]! * row[1]! + ipp[2]! * row[2]!;
      const firstIpp = vec(first.ImagePositionPatient);
      assert.ok(Math.abs(inRow - (firstIpp[0]! * row[0]! + firstIpp[1]! * row[1]! + firstIpp[2]! * row[2]!)) < 1e-3);
      bySlice.set(entry.slice, [...(bySlice.get(entry.slice) ?? []), num(ds.TriggerTime)]);
      assert.equal(num(ds.CardiacNumberOfImages), t.grid.phases);
    });
    for (let s = 1; s < t.grid.slices; s++) assert.ok(Math.abs(t.grid.slicePositionsMm[s]! - t.grid.slicePositionsMm[s - 1]! - spacing) < 1e-3);
    for (const times of bySlice.values()) {
      assert.equal(times.length, t.grid.phases);
      for (let p = 1; p < times.length; p++) assert.ok(times[p]! > times[p - 1]!);
    }
    assert.equal(first.Modality, 'MR');
    assert.equal(first.SOPClassUID, '1.2.840.10008.5.1.4.1.1.4');
    assert.equal(first.BodyPartExamined, 'HEART');
    assert.match(String(first.StudyDescription), /synthetic/i);
    assert.match(String(first.SeriesDescription), /^SA cine/);
    assert.match(String((first.PatientName as Array<{ Alphabetic: string }>)[0]?.Alphabetic ?? first.PatientName), /^SYNTH\^\d{4}$/);
    assert.ok(close(num(first.PatientSize), t.patient.sizeM, 1e-3) && num(first.PatientSize) > 1 && num(first.PatientSize) < 2.2);
    assert.ok(close(num(first.PatientWeight), t.patient.weightKg, 1e-3));
  });

  it('keeps the heart inside the central 60 % of the field of view on every image', () => {
    const { rows, columns } = study.truth.grid;
    for (const map of study.labels.values()) {
      for (let i = 0; i < map.length; i++) {
        if (map[i] === 0) continue;
        const r = Math.floor(i / columns);
        const c = i % columns;
        assert.ok(Math.abs(r - (rows - 1) / 2) <= 0.3 * rows + 1 && Math.abs(c - (columns - 1) / 2) <= 0.3 * columns + 1, `label at ${r},${c}`);
      }
    }
  });

  it('gives the same truth in every domain and only the appearance changes', () => {
    const mri = generateStudy({ seed: 8, group: 'HCM', slices: 3, phases: 4 });
    for (const domain of SYNTH_DOMAINS.filter((d) => d !== 'cine-mri')) {
      const other = generateStudy({ seed: 8, group: 'HCM', slices: 3, phases: 4, domain });
      assert.deepEqual(other.labelsBin, mri.labelsBin, domain);
      assert.deepEqual(other.truth.volumes, mri.truth.volumes, domain);
      assert.deepEqual(other.truth.measurements, mri.truth.measurements, domain);
      assert.notEqual(other.truth.studyInstanceUID, mri.truth.studyInstanceUID, 'UIDs differ so both can live in one PACS');
      assert.notDeepEqual(other.files[0]?.bytes, mri.files[0]?.bytes);
    }
  });

  it('rejects bad options with a message naming the option', () => {
    assert.throws(() => generateStudy({ seed: -1 }), /seed/);
    assert.throws(() => generateStudy({ seed: 1, slices: 1 }), /slices/);
    assert.throws(() => generateStudy({ seed: 1, phases: 100 }), /phases/);
    assert.throws(() => generateStudy({ seed: 1, group: 'XYZ' as never }), /group/);
    assert.throws(() => generateStudy({ seed: 1, domain: 'pet' as never }), /domain/);
  });
});

describe('ACDC group physiology (Bernard et al. 2018 definitions) in the truth', () => {
  // Two subjects per group with few phases keep this quick; ES lands on a frame, so EF is exact.
  const seeds = [21, 22];
  const cases = {
    NOR: (m: SynthStudy['truth']['measurements']) => m.lvef_pct > 50 && m.lvedvi_ml_m2 < 100 && m.max_wall_thickness_ed_mm < 15,
    DCM: (m: SynthStudy['truth']['measurements']) => m.lvef_pct < 40 && m.lvedvi_ml_m2 > 100,
    HCM: (m: SynthStudy['truth']['measurements']) => m.lvef_pct > 50 && m.lv_mass_i_g_m2 > 110 && m.max_wall_thickness_ed_mm > 15,
    MINF: (m: SynthStudy['truth']['measurements']) => m.lvef_pct < 40,
    RV: (m: SynthStudy['truth']['measurements']) => (m.rvedvi_ml_m2 > 110 || m.rvef_pct < 40) && m.lvef_pct > 50,
  } as const;
  for (const [group, holds] of Object.entries(cases)) {
    it(`${group} subjects meet their group definition`, () => {
      for (const seed of seeds) {
        const s = generateStudy({ seed, group: group as keyof typeof cases, phases: 6 });
        assert.ok(holds(s.truth.measurements), `${group} seed ${seed}: ${JSON.stringify(s.truth.measurements)}`);
      }
    });
  }
  it('MINF has a segment that does not thicken while NOR thickens everywhere', () => {
    const sectorThickening = (s: SynthStudy): number => {
      const t = s.truth;
      const [dr, dc] = t.grid.pixelSpacing;
      let least = Infinity;
      for (let slice = 1; slice < t.grid.slices - 1; slice++) {
        const th = (phase: number): number[] | null => {
          const e = t.labels.instances.find((x) => x.slice === slice && x.phase === phase)!;
          const map = s.labels.get(e.sopInstanceUID as never)!;
          let sr = 0;
          let sc = 0;
          let n = 0;
          for (let i = 0; i < map.length; i++) if (map[i] === 3) { sr += Math.floor(i / e.columns); sc += i % e.columns; n++; }
          if (n < 20) return null;
          const lv = new Array<number>(6).fill(0);
          const myo = new Array<number>(6).fill(0);
          for (let i = 0; i < map.length; i++) {
            if (map[i] !== 2 && map[i] !== 3) continue;
            const j = Math.min(5, Math.floor((Math.atan2((Math.floor(i / e.columns) - sr / n) * dr, ((i % e.columns) - sc / n) * dc) + Math.PI) / (Math.PI / 3)));
            if (map[i] === 3) lv[j]! += dr * dc;
            else myo[j]! += dr * dc;
          }
          const th = Math.PI / 3;
          return lv.map((a, j) => Math.sqrt((2 * (a + myo[j]!)) / th) - Math.sqrt((2 * a) / th));
        };
        const ed = th(t.phases.ed);
        const es = th(t.phases.es);
        if (!ed || !es) continue;
        ed.forEach((v, j) => { if (v > 0) least = Math.min(least, (es[j]! - v) / v); });
      }
      return least;
    };
    const minf = generateStudy({ seed: 31, group: 'MINF', phases: 6 });
    const nor = generateStudy({ seed: 31, group: 'NOR', phases: 6 });
    assert.ok(sectorThickening(minf) < 0.12, `MINF least thickening ${sectorThickening(minf)}`);
    assert.ok(sectorThickening(nor) > 0.15, `NOR least thickening ${sectorThickening(nor)}`);
  });
});

describe('DICOM validity (dciodvfy) in every domain', () => {
  for (const domain of SYNTH_DOMAINS) {
    it(`${domain}: no errors`, async () => {
      const study = generateStudy({ seed: 5, group: 'NOR', domain, slices: 2, phases: 2 });
      const dir = await mkdtemp(join(tmpdir(), 'pulse-synth-dciodvfy-'));
      try {
        for (const file of study.files.slice(0, 2)) {
          const path = join(dir, file.name);
          await writeFile(path, file.bytes);
          // dciodvfy reports on stderr and exits non-zero on some warnings: judge by the "Error" lines.
          const { stdout, stderr } = await run('dciodvfy', [path]).catch((e: { stdout: string; stderr: string }) => e);
          const errors = `${stdout}\n${stderr}`.split('\n').filter((l) => l.startsWith('Error'));
          assert.deepEqual(errors, [], `${domain} ${file.name}`);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('study folders', () => {
  it('writeStudy and readSynthStudy round-trip the truth and label maps', async () => {
    const study = generateStudy({ seed: 9, group: 'RV', slices: 3, phases: 3 });
    const dir = await mkdtemp(join(tmpdir(), 'pulse-synth-io-'));
    try {
      const studyDir = await writeStudy(dir, study);
      const back = await readSynthStudy(studyDir);
      assert.deepEqual(back.truth, JSON.parse(JSON.stringify(study.truth)));
      assert.equal(back.labels.size, study.labels.size);
      for (const [uid, map] of study.labels) assert.deepEqual(back.labels.get(uid), map);
      assert.equal((await readdir(join(studyDir, 'dicom'))).length, 9);
      for (const path of back.dicomFiles) assert.ok(existsSync(path), path);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('pulse synth (CLI, from the build)', { skip: existsSync(join(projectRoot, 'dist', 'src', 'cli', 'main.js')) ? false : 'not built: run npx tsc -p tsconfig.json first' }, () => {
  it('writes a DCM study with DICOM files and truth', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pulse-synth-cli-'));
    try {
      const { stdout } = await run(process.execPath, [pulseBin, 'synth', '--seed', '1', '--class', 'DCM', '--out', dir]);
      const studyDir = stdout.split('\t')[0] as string;
      const back = await readSynthStudy(studyDir);
      assert.equal(back.truth.group, 'DCM');
      assert.equal(back.truth.seed, 1);
      assert.ok(back.truth.measurements.lvef_pct < 40);
      assert.equal((await readdir(join(studyDir, 'dicom'))).length, back.truth.grid.slices * back.truth.grid.phases);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('lists the domains, one a line, and fails with one line on a bad class', async () => {
    const { stdout } = await run(process.execPath, [pulseBin, 'synth', '--list-domains']);
    assert.deepEqual(stdout.trim().split('\n'), [...SYNTH_DOMAINS]);
    const failure = await run(process.execPath, [pulseBin, 'synth', '--class', 'XYZ', '--out', tmpdir()]).then(() => null, (e: { code: number; stderr: string }) => e);
    assert.ok(failure && failure.code !== 0);
    assert.equal(failure.stderr.trim().split('\n').length, 1);
    assert.match(failure.stderr, /--class/);
  });
});
