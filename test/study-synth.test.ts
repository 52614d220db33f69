/** The study reader on a study from the project's synthetic generator: its grid is the generator's truth. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readStudy } from '../src/study/read-study.js';
import { generateStudy } from '../src/synth/index.js';

describe('readStudy on a generated synthetic cine study', () => {
  for (const domain of ['cine-mri', 'vendor-shifted-mri'] as const) {
    it(`recovers the generator's grid, geometry and context (${domain})`, () => {
      const synth = generateStudy({ seed: 11, domain, slices: 5, phases: 4 });
      const { truth } = synth;
      // Reverse the file order: the reader must not rely on it.
      const study = readStudy([...synth.files].reverse().map((f) => ({ source: f.name, bytes: f.bytes })));
      const { grid } = study;
      assert.equal(grid.slices, truth.grid.slices);
      assert.equal(grid.phases, truth.grid.phases);
      assert.equal(study.context.studyInstanceUID, truth.studyInstanceUID);
      assert.equal(study.context.seriesInstanceUID, truth.seriesInstanceUID);

      const dot = grid.sliceNormal.reduce((sum, v, i) => sum + v * truth.grid.sliceNormal[i]!, 0);
      assert.ok(dot > 0.9999, `slice normal ${grid.sliceNormal} vs ${truth.grid.sliceNormal}`);
      grid.slicePositionsMm.forEach((position, s) => assert.ok(Math.abs(position - truth.grid.slicePositionsMm[s]!) < 0.01, `slice ${s} position`));
      grid.phaseTimesMs.forEach((time, p) => assert.ok(Math.abs(time - truth.grid.phaseTimesMs[p]!) < 0.5, `phase ${p} time`));

      for (const entry of truth.labels.instances) {
        const image = grid.images[entry.slice]![entry.phase]!;
        assert.equal(image.sopInstanceUID, entry.sopInstanceUID, `slice ${entry.slice} phase ${entry.phase}`);
        assert.equal(image.plane.rows, entry.rows);
        assert.equal(image.plane.columns, entry.columns);
        assert.equal(image.pixels.length, entry.rows * entry.columns);
      }
      assert.deepEqual(grid.images[0]![0]!.plane.pixelSpacing, truth.grid.pixelSpacing);
      assert.ok(Math.abs(study.context.patientSizeM! - truth.patient.sizeM) < 0.01);
      assert.ok(Math.abs(study.context.patientWeightKg! - truth.patient.weightKg) < 0.1);
    });
  }

  it('reads the other domains once the rules accept their modality and storage class', () => {
    for (const [domain, modality] of [['echo-like', 'US'], ['ct-like', 'CT']] as const) {
      const synth = generateStudy({ seed: 5, domain, slices: 3, phases: 2 });
      const instances = synth.files.map((f) => ({ source: f.name, bytes: f.bytes }));
      assert.throws(() => readStudy(instances), new RegExp(`Modality ${modality} is not one of MR`));
      const study = readStudy(instances, { modalities: [modality], sopClassUIDs: [synth.truth.sopClassUID] });
      assert.equal(study.context.modality, modality);
      for (const entry of synth.truth.labels.instances) {
        assert.equal(study.grid.images[entry.slice]![entry.phase]!.sopInstanceUID, entry.sopInstanceUID, `${domain} slice ${entry.slice} phase ${entry.phase}`);
      }
    }
  });
});
