/**
 * generateStudy: seed -> subject (demographics, physiology, heart shape, thorax) -> acquisition ->
 * label maps and tissue maps per slice and phase -> domain appearance -> DICOM + truth.
 * Random streams: the subject and acquisition depend on (seed, group) only, the appearance on
 * (seed, group, domain), so every domain of a subject has the same grid and the same truth.
 */
import { deterministicUid, type SOPInstanceUID } from '../dicom/uid.js';
import { dot, scaleAdd, type Vec3 } from '../core/geometry.js';
import { IDENTITY, NAMED_TRANSFORMS, transformPixels, transformPlane, type PlaneGeometry } from '../core/in-plane.js';
import { BadInputError } from '../core/errors.js';
import { calibrateShape, drawHeartShape, filling, section, type HeartShape } from './anatomy.js';
import { drawAcquisition, drawMatrix, imagePositionPatient, type Acquisition } from './acquisition.js';
import { drawStyle, NormalPool, renderImage, smoothField, textureField, type DomainStyle, type HeartBox } from './appearance.js';
import { ds, SOP_CLASS, writePart10 } from './dicom-writer.js';
import { drawDemographics, drawPhysiology, type Demographics, type Physiology } from './physiology.js';
import { Random } from './random.js';
import { drawThorax, planeCoordinates, rasterise, thoraxMap } from './scene.js';
import { measure, volumeCurves } from './truth.js';
import { SYNTH_COVERAGES, SYNTH_DOMAINS, SYNTH_GROUPS, type SynthCoverage, type SynthDomain, type SynthFile, type SynthGroup, type SynthLabelEntry, type SynthOptions, type SynthStudy, type SynthTruth } from './types.js';

export const GENERATOR_VERSION = '1.2.0';
const STREAM = 'pulse-synth/1';

function checkOptions(options: SynthOptions): void {
  if (!Number.isSafeInteger(options.seed) || options.seed < 0) throw new BadInputError(`seed must be a non-negative integer, got ${String(options.seed)}`);
  if (options.group !== undefined && !SYNTH_GROUPS.includes(options.group)) throw new BadInputError(`group must be one of ${SYNTH_GROUPS.join(', ')}, got ${String(options.group)}`);
  if (options.domain !== undefined && !SYNTH_DOMAINS.includes(options.domain)) throw new BadInputError(`domain must be one of ${SYNTH_DOMAINS.join(', ')}, got ${String(options.domain)}`);
  if (options.slices !== undefined && (!Number.isInteger(options.slices) || options.slices < 2 || options.slices > 30)) throw new BadInputError(`slices must be an integer from 2 to 30, got ${String(options.slices)}`);
  if (options.phases !== undefined && (!Number.isInteger(options.phases) || options.phases < 2 || options.phases > 60)) throw new BadInputError(`phases must be an integer from 2 to 60, got ${String(options.phases)}`);
  if (options.heartOffset !== undefined && !(options.heartOffset.length === 2 && options.heartOffset.every((v) => Number.isFinite(v) && Math.abs(v) <= 0.4))) throw new BadInputError('heartOffset must be two fractions of the field of view within -0.4..0.4');
  if (options.fovMm !== undefined && !(options.fovMm >= 150 && options.fovMm <= 600)) throw new BadInputError(`fovMm must be 150-600 mm, got ${String(options.fovMm)}`);
  if (options.pixelSpacingMm !== undefined && !(options.pixelSpacingMm >= 0.5 && options.pixelSpacingMm <= 3)) throw new BadInputError(`pixelSpacingMm must be 0.5-3 mm, got ${String(options.pixelSpacingMm)}`);
  if (options.flip !== undefined && !Object.hasOwn(NAMED_TRANSFORMS, options.flip)) throw new BadInputError(`flip must be one of ${Object.keys(NAMED_TRANSFORMS).join(', ')}, got ${String(options.flip)}`);
  if (options.coverage !== undefined && !SYNTH_COVERAGES.includes(options.coverage)) throw new BadInputError(`coverage must be one of ${SYNTH_COVERAGES.join(', ')}, got ${String(options.coverage)}`);
  if (options.sliceThicknessMm !== undefined && !(options.sliceThicknessMm >= 2 && options.sliceThicknessMm <= 12)) throw new BadInputError(`sliceThicknessMm must be 2-12 mm, got ${String(options.sliceThicknessMm)}`);
  if (options.sliceGapMm !== undefined && !(options.sliceGapMm >= 0 && options.sliceGapMm <= 10)) throw new BadInputError(`sliceGapMm must be 0-10 mm, got ${String(options.sliceGapMm)}`);
  if (options.sliceGapMm !== undefined && options.sliceThicknessMm === undefined) throw new BadInputError('sliceGapMm needs sliceThicknessMm');
}

/**
 * Partial coverage: the stack without the planes through the apical (beyond 60 % of the heart's
 * length from the base) or basal (before 35 %) part. The heart, its placement and the planes kept are
 * those of the full stack; only planes are dropped.
 */
function coveredPart(acq: Acquisition, coverage: SynthCoverage, heartLengthMm: number): Acquisition {
  if (coverage === 'full') return acq;
  const keep = acq.planesZ.map((z) => (coverage === 'no-apex' ? z <= 0.6 * heartLengthMm : z >= 0.35 * heartLengthMm));
  const first = keep.indexOf(true);
  const last = keep.lastIndexOf(true);
  if (first < 0 || last - first + 1 < 3) throw new BadInputError(`coverage ${coverage} leaves fewer than 3 slices of this stack`);
  return {
    ...acq,
    slices: last - first + 1,
    planesZ: acq.planesZ.slice(first, last + 1),
    origin: scaleAdd(acq.origin, acq.normal, first * acq.spacingBetweenSlicesMm),
  };
}

/** The group a seed gets when none is asked for. */
export function defaultGroup(seed: number): SynthGroup {
  return Random.from(STREAM, seed, 'group').pick(SYNTH_GROUPS);
}

interface Subject {
  demographics: Demographics;
  physiology: Physiology;
  shape: HeartShape;
  acquisition: Acquisition;
  zMid: number;
  heartBoxMm: { minX: number; maxX: number; minY: number; maxY: number };
}

/** Heart outline points (heart-plane mm) at ED over all planes: LV epicardium and RV outer wall. */
function heartOutline(shape: HeartShape, planesZ: readonly number[], zMid: number): Array<[number, number]> {
  const pts: Array<[number, number]> = [];
  for (const z of planesZ) {
    const sec = section(shape, z, 1, zMid);
    if (sec.lvPresent) {
      for (let j = 0; j < sec.re.length; j += 12) {
        const theta = -Math.PI + ((j + 0.5) * 2 * Math.PI) / sec.re.length;
        const r = (sec.re[j] as number) + 6;
        pts.push([sec.cx + r * Math.cos(theta), sec.cy + r * Math.sin(theta)]);
      }
    }
    if (sec.rv) {
      const { ex, ey, ux, uy, a, b } = sec.rv;
      for (let k = 0; k < 48; k++) {
        const t = (k * 2 * Math.PI) / 48;
        const pa = (a + shape.rvWallMm + 4) * Math.cos(t);
        const pb = (b + shape.rvWallMm + 4) * Math.sin(t);
        pts.push([ex + pa * ux - pb * uy, ey + pa * uy + pb * ux]);
      }
    }
  }
  return pts;
}

function drawSubject(seed: number, group: SynthGroup, options: SynthOptions): Subject {
  const rng = Random.from(STREAM, seed, group);
  const demographics = drawDemographics(rng.fork('demographics'));
  const physiology = drawPhysiology(group, rng.fork('physiology'));
  const shape = drawHeartShape(rng.fork('shape'), physiology, demographics.bsaM2);
  const acqRng = rng.fork('acquisition');
  const drawn = drawAcquisition(acqRng, {
    ...(options.slices !== undefined ? { slices: options.slices } : {}),
    ...(options.phases !== undefined ? { phases: options.phases } : {}),
    heartLengthMm: shape.Lc + shape.Tapex,
    heartRateBpm: physiology.heartRateBpm,
    ...(options.sliceThicknessMm !== undefined ? { sliceThicknessMm: options.sliceThicknessMm } : {}),
    ...(options.sliceGapMm !== undefined ? { sliceGapMm: options.sliceGapMm } : {}),
  });
  const zMid = drawn.planesZ.reduce((a, b) => a + b, 0) / drawn.planesZ.length;
  calibrateShape(shape, physiology, demographics.bsaM2, drawn.planesZ, drawn.spacingBetweenSlicesMm, zMid);
  // --fov / --pixel-spacing override what was drawn (the rest of the draw stays the same).
  const fovMm = options.fovMm ?? drawn.fovMm;
  const pixelMm = options.pixelSpacingMm ?? (options.fovMm !== undefined ? (drawn.pixelMm * options.fovMm) / drawn.fovMm : drawn.pixelMm);
  const matrix = drawMatrix(fovMm, drawn.aspect, pixelMm, drawn.anisotropy);
  // Place the heart so its outline stays inside the central 60 % of the field of view.
  const c = Math.cos(drawn.rotation);
  const s = Math.sin(drawn.rotation);
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (const [x, y] of heartOutline(shape, drawn.planesZ, zMid)) {
    const px = c * x - s * y;
    const py = s * x + c * y;
    minX = Math.min(minX, px);
    maxX = Math.max(maxX, px);
    minY = Math.min(minY, py);
    maxY = Math.max(maxY, py);
  }
  const hx = 0.3 * matrix.columns * matrix.pixelSpacing[1];
  const hy = 0.3 * matrix.rows * matrix.pixelSpacing[0];
  // Within the allowed range, favour the middle (real planning centres the heart, roughly).
  const place = (lo: number, hi: number): number => (lo <= hi ? (lo + hi) / 2 + acqRng.uniform(-0.35, 0.35) * (hi - lo) : (lo + hi) / 2);
  const placed: [number, number] = [place(-hx - minX, hx - maxX), place(-hy - minY, hy - maxY)];
  // --offset: the heart's box centre at this fraction of the field of view from the image centre
  // (columns, rows), wherever that puts it: real planning does not always centre the heart.
  const offset = options.heartOffset;
  const shift: [number, number] = offset
    ? [offset[0] * matrix.columns * matrix.pixelSpacing[1] - (minX + maxX) / 2, offset[1] * matrix.rows * matrix.pixelSpacing[0] - (minY + maxY) / 2]
    : placed;
  const acquisition = coveredPart({ ...drawn, ...matrix, shift }, options.coverage ?? 'full', shape.Lc + shape.Tapex);
  return {
    demographics,
    physiology,
    shape,
    acquisition,
    zMid,
    heartBoxMm: { minX: minX + shift[0], maxX: maxX + shift[0], minY: minY + shift[1], maxY: maxY + shift[1] },
  };
}

const STUDY_DESCRIPTION: Record<SynthDomain, string> = {
  'cine-mri': 'Cardiac MRI cine (synthetic)',
  'vendor-shifted-mri': 'Cardiac MRI cine (synthetic)',
  'echo-like': 'Cardiac echo-like cine (synthetic)',
  'ct-like': 'Cardiac CT cine (synthetic)',
};

function dateFromSeed(seed: number): { date: string; year: number } {
  const day = new Date(Date.UTC(2021, 0, 1) + ((seed * 7919) % 1400) * 86400000);
  const iso = day.toISOString();
  return { date: iso.slice(0, 10).replaceAll('-', ''), year: day.getUTCFullYear() };
}

function domainAttributes(domain: SynthDomain, style: DomainStyle, acq: Acquisition, phys: Physiology): Record<string, unknown> {
  switch (domain) {
    case 'cine-mri':
    case 'vendor-shifted-mri': {
      const vendorB = domain === 'vendor-shifted-mri';
      return {
        SOPClassUID: SOP_CLASS.MRImage,
        Modality: 'MR',
        ImageType: ['ORIGINAL', 'PRIMARY', 'OTHER'],
        Manufacturer: vendorB ? 'PULSE Synthetic B' : 'PULSE Synthetic',
        ManufacturerModelName: vendorB ? 'pulse synth vendor-shifted-mri' : 'pulse synth cine-mri',
        ScanningSequence: 'GR',
        SequenceVariant: vendorB ? 'SP' : 'SS',
        ScanOptions: 'CG',
        MRAcquisitionType: '2D',
        SequenceName: vendorB ? 'synth_fgre_cine' : 'synth_bssfp_cine',
        AngioFlag: 'N',
        RepetitionTime: vendorB ? '5.6' : '3.2',
        EchoTime: vendorB ? '2.4' : '1.6',
        EchoTrainLength: '1',
        NumberOfAverages: '1',
        ImagingFrequency: vendorB ? '127.7' : '63.9',
        ImagedNucleus: '1H',
        MagneticFieldStrength: vendorB ? '3' : '1.5',
        FlipAngle: vendorB ? '12' : '60',
        HeartRate: String(Math.round(phys.heartRateBpm)),
        NominalInterval: Math.round(acq.rrMs),
        CardiacNumberOfImages: acq.phases,
        PixelRepresentation: 0,
      };
    }
    case 'ct-like':
      return {
        SOPClassUID: SOP_CLASS.CTImage,
        Modality: 'CT',
        ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
        Manufacturer: 'PULSE Synthetic',
        ManufacturerModelName: 'pulse synth ct-like',
        KVP: '100',
        ConvolutionKernel: 'SYNTH_SOFT',
        RescaleIntercept: String(style.rescaleIntercept),
        RescaleSlope: '1',
        RescaleType: 'HU',
        HeartRate: String(Math.round(phys.heartRateBpm)),
        NominalInterval: Math.round(acq.rrMs),
        CardiacNumberOfImages: acq.phases,
        PixelRepresentation: 0,
      };
    case 'echo-like':
      return {
        SOPClassUID: SOP_CLASS.SecondaryCapture,
        Modality: 'US',
        ImageType: ['DERIVED', 'SECONDARY'],
        ConversionType: 'SYN',
        // Secondary Capture has no Image Plane module: the plane attributes ride along (Standard
        // Extended SOP Class) so readers keep the cardiac geometry, and PatientOrientation is due.
        PatientOrientation: [orientationLetters(acq.rowCosines), orientationLetters(acq.columnCosines)],
        Manufacturer: 'PULSE Synthetic',
        ManufacturerModelName: 'pulse synth echo-like',
        HeartRate: String(Math.round(phys.heartRateBpm)),
        NominalInterval: Math.round(acq.rrMs),
        CardiacNumberOfImages: acq.phases,
        PixelRepresentation: 0,
      };
  }
}

/** PatientOrientation letters (LPS) of a direction: the dominant components, largest first. */
function orientationLetters(v: Vec3): string {
  const letters: Array<[number, string]> = [
    [Math.abs(v[0]), v[0] > 0 ? 'L' : 'R'],
    [Math.abs(v[1]), v[1] > 0 ? 'P' : 'A'],
    [Math.abs(v[2]), v[2] > 0 ? 'H' : 'F'],
  ];
  return letters.filter(([m]) => m > 0.25).sort((a, b) => b[0] - a[0]).map(([, l]) => l).join('');
}

function percentile(values: ArrayLike<number>, p: number): number {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

/** Generates one synthetic study; deterministic in its options (same options -> identical bytes). */
export function generateStudy(options: SynthOptions): SynthStudy {
  checkOptions(options);
  const seed = options.seed;
  const group = options.group ?? defaultGroup(seed);
  const domain = options.domain ?? 'cine-mri';
  const subject = drawSubject(seed, group, options);
  const { shape, acquisition: acq, demographics: demo, physiology: phys, zMid } = subject;
  const thorax = drawThorax(Random.from(STREAM, seed, group, 'thorax'), shape.Rc + shape.T0, shape.W + shape.rvWallMm);
  const appRng = Random.from(STREAM, seed, group, domain, 'appearance');
  const [dr, dc] = acq.pixelSpacing;
  const box: HeartBox = {
    minX: subject.heartBoxMm.minX / dc + (acq.columns - 1) / 2,
    maxX: subject.heartBoxMm.maxX / dc + (acq.columns - 1) / 2,
    minY: subject.heartBoxMm.minY / dr + (acq.rows - 1) / 2,
    maxY: subject.heartBoxMm.maxY / dr + (acq.rows - 1) / 2,
  };
  const style = drawStyle(domain, appRng.fork('style'), acq.rows, acq.columns, box);
  const bias = smoothField(style, acq.rows, acq.columns);
  const coords = planeCoordinates(acq);
  // End-systole falls on a frame (as a scanner's nearest frame would show it), so the truth EF is the
  // calibrated one rather than one diluted by the frame sampling.
  const esFraction = Math.max(1, Math.round(phys.esFraction * acq.phases)) / acq.phases;
  const pool = new NormalPool(appRng.fork('noise-pool'));

  // --flip: every image is stored transposed/flipped, with the geometry of the same physical pixels.
  const flip = options.flip ? NAMED_TRANSFORMS[options.flip] : IDENTITY;
  const storedPlane = (s: number): PlaneGeometry =>
    transformPlane(
      { rows: acq.rows, columns: acq.columns, pixelSpacing: acq.pixelSpacing, imagePositionPatient: imagePositionPatient(acq, s), imageOrientationPatient: [...acq.rowCosines, ...acq.columnCosines] as unknown as PlaneGeometry['imageOrientationPatient'] },
      flip,
    );
  const stored = storedPlane(0);
  const storedIop = stored.imageOrientationPatient;
  const storedRow: Vec3 = [storedIop[0], storedIop[1], storedIop[2]];
  const storedColumn: Vec3 = [storedIop[3], storedIop[4], storedIop[5]];
  const storedNormal: Vec3 = [storedRow[1] * storedColumn[2] - storedRow[2] * storedColumn[1], storedRow[2] * storedColumn[0] - storedRow[0] * storedColumn[2], storedRow[0] * storedColumn[1] - storedRow[1] * storedColumn[0]];
  // A transpose or a single flip turns the stack normal round: slice indices then run the other way.
  const reversed = dot(storedNormal, acq.normal) < 0;

  const uidKey = [STREAM, seed, group, domain] as const;
  const studyInstanceUID = deterministicUid<'StudyInstanceUID'>(...uidKey, 'study');
  const seriesInstanceUID = deterministicUid<'SeriesInstanceUID'>(...uidKey, 'series');
  const frameOfReferenceUID = deterministicUid<'FrameOfReferenceUID'>(...uidKey, 'frame-of-reference');
  const { date: studyDate, year } = dateFromSeed(seed);
  const birthYear = year - demo.ageYears;
  const patientTag = deterministicUid(STREAM, seed, group, 'patient').slice(5, 13);
  const common: Record<string, unknown> = {
    SpecificCharacterSet: 'ISO_IR 100',
    ...domainAttributes(domain, style, { ...acq, rowCosines: storedRow, columnCosines: storedColumn }, phys),
    SoftwareVersions: `pulse synth ${GENERATOR_VERSION}`,
    StudyDate: studyDate,
    SeriesDate: studyDate,
    ContentDate: studyDate,
    AcquisitionDate: studyDate,
    StudyTime: '093000',
    SeriesTime: '093500',
    AccessionNumber: `SYN${patientTag}`,
    ReferringPhysicianName: '',
    StudyDescription: STUDY_DESCRIPTION[domain],
    SeriesDescription: domain === 'cine-mri' ? 'SA cine' : `SA cine ${domain}`,
    PatientName: `SYNTH^${String(seed).padStart(4, '0')}`,
    PatientID: `SYNTH-${patientTag}`,
    PatientBirthDate: `${birthYear}0101`,
    PatientSex: demo.sex,
    PatientAge: `${String(demo.ageYears).padStart(3, '0')}Y`,
    PatientSize: ds(demo.sizeM, 2),
    PatientWeight: ds(demo.weightKg, 1),
    BodyPartExamined: 'HEART',
    PatientPosition: 'HFS',
    StudyInstanceUID: studyInstanceUID,
    SeriesInstanceUID: seriesInstanceUID,
    StudyID: '1',
    SeriesNumber: 1,
    AcquisitionNumber: 1,
    FrameOfReferenceUID: frameOfReferenceUID,
    PositionReferenceIndicator: '',
    ImageOrientationPatient: [...storedIop].map((v) => ds(v, 6)),
    PixelSpacing: [ds(stored.pixelSpacing[0], 4), ds(stored.pixelSpacing[1], 4)],
    SliceThickness: ds(acq.sliceThicknessMm, 2),
    SpacingBetweenSlices: ds(acq.spacingBetweenSlicesMm, 2),
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: stored.rows,
    Columns: stored.columns,
    BitsAllocated: style.bitsAllocated,
    BitsStored: style.bitsStored,
    HighBit: style.bitsStored - 1,
    BurnedInAnnotation: 'NO',
  };

  const frameBytes = acq.rows * acq.columns;
  const labelsBin = new Uint8Array(acq.slices * acq.phases * frameBytes);
  const labelGrid: Uint8Array[][] = [];
  const entries: SynthLabelEntry[] = [];
  const labels = new Map<SOPInstanceUID, Uint8Array>();
  const files: SynthFile[] = [];
  const slicePositionsMm: number[] = [];
  let window: { center: number; width: number } | null = null;

  for (let s = 0; s < acq.slices; s++) {
    const z = acq.planesZ[s] as number;
    const ipp: Vec3 = storedPlane(s).imagePositionPatient;
    const ippDs = ipp.map((v) => ds(v, 4));
    const position = dot(ipp, storedNormal);
    slicePositionsMm.push(position);
    const texture = textureField(appRng.fork(`texture-${s}`), acq.rows, acq.columns);
    // Through-plane partial volume: the image averages three sub-planes across the slice thickness;
    // the labels are those of the centre plane (what a reader contours).
    const subPlanes = [-1 / 3, 0, 1 / 3].map((k) => z + k * acq.sliceThicknessMm);
    const backgrounds = subPlanes.map((zz) => thoraxMap(thorax, coords, zz));
    const row: Uint8Array[] = [];
    for (let t = 0; t < acq.phases; t++) {
      const f = filling(t / acq.phases, esFraction);
      const sec = section(shape, z, f, zMid);
      const { labels: map, tissues } = rasterise(shape, thorax, sec, coords, backgrounds[1] as Uint8Array, f);
      const sideTissues = [0, 2].map((k) => rasterise(shape, thorax, section(shape, subPlanes[k] as number, f, zMid), coords, backgrounds[k] as Uint8Array, f).tissues);
      const offset = (s * acq.phases + t) * frameBytes;
      labelsBin.set(transformPixels(map, acq.rows, acq.columns, flip), offset);
      const view = labelsBin.subarray(offset, offset + frameBytes);
      row.push(view);
      const rendered = renderImage(style, [sideTissues[0] as Uint8Array, tissues, sideTissues[1] as Uint8Array], acq.rows, acq.columns, bias, texture, appRng.fork(`noise-${s}-${t}`), pool);
      const pixels = transformPixels(rendered, acq.rows, acq.columns, flip);
      if (!window) {
        // One window for the whole series, from the first image: readers show the series consistently.
        const lo = percentile(pixels, 0.01);
        const hi = percentile(pixels, 0.995);
        window = { center: (lo + hi) / 2, width: Math.max(1, hi - lo) };
      }
      const sopInstanceUID = deterministicUid<'SOPInstanceUID'>(...uidKey, 'instance', s, t);
      const name = `s${String(s).padStart(2, '0')}-p${String(t).padStart(2, '0')}.dcm`;
      const attributes: Record<string, unknown> = {
        ...common,
        SOPInstanceUID: sopInstanceUID,
        InstanceNumber: s * acq.phases + t + 1,
        ContentTime: `0935${String(t).padStart(2, '0')}`,
        ImagePositionPatient: ippDs,
        SliceLocation: ds(position, 4),
        TriggerTime: ds(acq.triggerTimesMs[t] as number, 1),
        // CT: a cardiac window in HU (the VOI LUT applies after the rescale).
        WindowCenter: domain === 'ct-like' ? '100' : ds(window.center, 1),
        WindowWidth: domain === 'ct-like' ? '700' : ds(window.width, 1),
      };
      files.push({ name, bytes: writePart10({ attributes, pixels }) });
      labels.set(sopInstanceUID, view);
      entries.push({ sopInstanceUID, file: name, slice: reversed ? acq.slices - 1 - s : s, phase: t, offset, rows: stored.rows, columns: stored.columns });
    }
    labelGrid.push(row);
  }

  const grid = { slices: acq.slices, phases: acq.phases, rows: stored.rows, columns: stored.columns, pixelSpacing: stored.pixelSpacing, slicePositionsMm, labels: labelGrid };
  const curves = volumeCurves(grid, acq.spacingBetweenSlicesMm);
  const { ed, es, measurements } = measure(grid, curves, demo.bsaM2);
  const truth: SynthTruth = {
    format: 'pulse-synth-truth',
    version: 1,
    generator: { name: 'pulse synth', version: GENERATOR_VERSION },
    seed,
    group,
    domain,
    studyInstanceUID,
    seriesInstanceUID,
    sopClassUID: common.SOPClassUID as string,
    dicomFolder: 'dicom',
    grid: {
      slices: acq.slices,
      phases: acq.phases,
      rows: stored.rows,
      columns: stored.columns,
      pixelSpacing: [stored.pixelSpacing[0], stored.pixelSpacing[1]],
      sliceThicknessMm: acq.sliceThicknessMm,
      spacingBetweenSlicesMm: acq.spacingBetweenSlicesMm,
      imageOrientationPatient: [...storedIop] as unknown as SynthTruth['grid']['imageOrientationPatient'],
      sliceNormal: storedNormal,
      // Ascending along the stored normal, as the slice indices of the label entries.
      slicePositionsMm: reversed ? [...slicePositionsMm].reverse() : slicePositionsMm,
      phaseTimesMs: acq.triggerTimesMs,
    },
    patient: { sizeM: demo.sizeM, weightKg: demo.weightKg, bsaM2: demo.bsaM2, sex: demo.sex, ageYears: demo.ageYears },
    labelValues: { background: 0, RV: 1, MYO: 2, LV: 3 },
    phases: { ed, es },
    volumes: { lv_ml: curves.lv, rv_ml: curves.rv, myo_ml: curves.myo },
    measurements,
    parameters: {
      targets: {
        lvedvi_ml_m2: phys.lvedvi,
        lvef_pct: phys.lvef,
        rvedvi_ml_m2: phys.rvedvi,
        rvef_pct: phys.rvef,
        lv_mass_i_g_m2: phys.lvMassI,
      },
      heartRateBpm: phys.heartRateBpm,
      esFractionOfRR: esFraction,
      longAxisShortening: phys.longAxisShortening,
      hypertrophyPeakMm: phys.hypertrophyPeakMm,
      infarct: phys.infarct,
      shape: {
        cavityRadiusMm: shape.Rc,
        cavityLengthMm: shape.Lc,
        wallThicknessMm: shape.T0,
        apicalCapMm: shape.Tapex,
        radialShorteningLv: shape.kLv,
        rvReachMm: shape.W,
        radialShorteningRv: shape.kRv,
      },
      acquisition: {
        apexward: acq.apexward,
        flip: options.flip ?? 'none',
        coverage: options.coverage ?? 'full',
        inPlaneRotationRad: acq.rotation,
        heartShiftMm: acq.shift,
        planesZMm: acq.planesZ,
      },
      appearance: {
        psfSigmaPx: style.psfSigmaPx,
        noiseSigma: style.noiseSigma,
        bitsStored: style.bitsStored,
      },
    },
    labels: { file: 'labels.bin', encoding: 'uint8-row-major', instances: entries },
  };
  const name = `synth-${String(seed).padStart(4, '0')}-${group}-${domain}`;
  return { name, files, truth, labelsBin, labels };
}
