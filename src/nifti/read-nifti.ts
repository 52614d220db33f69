/**
 * Reads a NIfTI-1/2 volume (.nii or .nii.gz) into voxel data plus the voxel-to-world affine in
 * NIfTI's RAS+ world (mm). Uses nifti-reader-js for parsing; the affine choice is ours:
 * sform when sform_code > 0, else qform when qform_code > 0, else pixdim scaling.
 */
import { readFile } from 'node:fs/promises';
import * as nifti from 'nifti-reader-js';
import { BadInputError } from '../core/errors.js';

/** A 4x4 row-major affine: world = A * [i, j, k, 1]. */
export type Affine = readonly [
  readonly [number, number, number, number],
  readonly [number, number, number, number],
  readonly [number, number, number, number],
  readonly [number, number, number, number],
];

/** Which header fields the affine came from. `sform-pixdim` is an sform whose column lengths disagreed with pixdim (see `chooseAffine`). */
export type AffineSource = 'sform' | 'sform-pixdim' | 'qform' | 'pixdim';

export interface NiftiVolume {
  /** [nx, ny, nz, nt] (nt = 1 for a 3D volume). Voxel (i,j,k,t) is at index i + nx*(j + ny*(k + nz*t)). */
  readonly dims: readonly [number, number, number, number];
  /** Voxel values with scl_slope/scl_inter applied when set. */
  readonly data: Float32Array;
  /** True when every stored value is an integer (no scaling or an integer-valued scaling). */
  readonly integerValued: boolean;
  /** Voxel-to-world (RAS+, mm) affine. */
  readonly affine: Affine;
  readonly affineSource: AffineSource;
  /** pixdim[1..4]: voxel sizes (mm) and the time step (units as in the header). */
  readonly pixdim: readonly [number, number, number, number];
  /** Time step in ms when pixdim[4] and xyzt_units give one. */
  readonly timeStepMs?: number;
}

/** Reads and decodes a NIfTI file. Throws BadInputError naming the file for anything that is not a NIfTI volume. */
export async function readNifti(path: string): Promise<NiftiVolume> {
  const file = await readFile(path);
  return parseNifti(file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength), path);
}

/** Decodes a NIfTI file held in memory (`name` only labels errors). */
export function parseNifti(input: ArrayBuffer, name = 'NIfTI input'): NiftiVolume {
  let data: ArrayBuffer = input;
  if (nifti.isCompressed(data)) data = nifti.decompress(data) as ArrayBuffer;
  if (!nifti.isNIFTI(data)) throw new BadInputError(`${name} is not a NIfTI-1 or NIfTI-2 file`);
  const header = nifti.readHeader(data);
  const dims = header.dims;
  const rank = dims[0] ?? 0;
  if (rank < 2 || rank > 4) throw new BadInputError(`${name}: dim[0] is ${rank}; only 2D, 3D and 4D volumes are supported`);
  const size: [number, number, number, number] = [dims[1] ?? 1, rank >= 2 ? dims[2] ?? 1 : 1, rank >= 3 ? dims[3] ?? 1 : 1, rank >= 4 ? dims[4] ?? 1 : 1];
  if (size.some((d) => !Number.isInteger(d) || d < 1)) throw new BadInputError(`${name}: invalid dimensions ${size.join('x')}`);
  const count = size[0] * size[1] * size[2] * size[3];
  const raw = nifti.readImage(header, data);
  const values = decodeVoxels(raw, header.datatypeCode, header.littleEndian, count, name);

  const slope = header.scl_slope;
  const inter = header.scl_inter;
  const scaled = Number.isFinite(slope) && slope !== 0 && (slope !== 1 || (Number.isFinite(inter) && inter !== 0));
  let integerValued = isIntegerType(header.datatypeCode);
  if (scaled) {
    const b = Number.isFinite(inter) ? inter : 0;
    for (let n = 0; n < values.length; n++) values[n] = values[n]! * slope + b;
    integerValued = integerValued && Number.isInteger(slope) && Number.isInteger(b);
  }
  if (!integerValued) integerValued = values.every((v) => Number.isInteger(v));

  const pixdim: [number, number, number, number] = [
    Math.abs(header.pixDims[1] ?? 1) || 1,
    Math.abs(header.pixDims[2] ?? 1) || 1,
    Math.abs(header.pixDims[3] ?? 1) || 1,
    Math.abs(header.pixDims[4] ?? 0),
  ];
  const { affine, source } = chooseAffine(header, data, pixdim);
  const timeUnits = header.xyzt_units & 0x38;
  const timeStepMs = pixdim[3] > 0 ? (timeUnits === 8 ? pixdim[3] * 1000 : timeUnits === 16 ? pixdim[3] : timeUnits === 24 ? pixdim[3] / 1000 : undefined) : undefined;
  return { dims: size, data: values, integerValued, affine, affineSource: source, pixdim, ...(timeStepMs !== undefined ? { timeStepMs } : {}) };
}

type Header = ReturnType<typeof nifti.readHeader>;

/**
 * The voxel-to-RAS affine: sform when sform_code > 0, else qform when qform_code > 0, else pixdim.
 * Some files (the ACDC NIfTIs among them) carry an sform holding only the rotation, with unit column
 * lengths while pixdim says 1.5625 x 1.5625 x 10 mm. When the sform's column lengths disagree with
 * pixdim by more than 1 %, we keep the sform's directions and origin and take the lengths from pixdim.
 */
function chooseAffine(header: Header, data: ArrayBuffer, pixdim: readonly number[]): { affine: Affine; source: AffineSource } {
  const isNifti1 = header instanceof nifti.NIFTI1 && !(header instanceof nifti.NIFTI2);
  if (header.sform_code > 0 && isNifti1) {
    const view = new DataView(data);
    const m: number[][] = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => view.getFloat32(280 + (r * 4 + c) * 4, header.littleEndian)));
    m.push([0, 0, 0, 1]);
    let source: AffineSource = 'sform';
    for (let c = 0; c < 3; c++) {
      const length = Math.hypot(m[0]![c]!, m[1]![c]!, m[2]![c]!);
      const expected = pixdim[c]!;
      if (length === 0) throw new BadInputError(`NIfTI sform column ${c} is zero`);
      if (Math.abs(length - expected) > 0.01 * expected) {
        source = 'sform-pixdim';
        for (let r = 0; r < 3; r++) m[r]![c] = (m[r]![c]! / length) * expected;
      }
    }
    return { affine: m as unknown as Affine, source };
  }
  if (header.qform_code > 0) {
    const qb = header.quatern_b;
    const qc = header.quatern_c;
    const qd = header.quatern_d;
    const qa = Math.sqrt(Math.max(0, 1 - (qb * qb + qc * qc + qd * qd)));
    const R = [
      [qa * qa + qb * qb - qc * qc - qd * qd, 2 * (qb * qc - qa * qd), 2 * (qb * qd + qa * qc)],
      [2 * (qb * qc + qa * qd), qa * qa + qc * qc - qb * qb - qd * qd, 2 * (qc * qd - qa * qb)],
      [2 * (qb * qd - qa * qc), 2 * (qc * qd + qa * qb), qa * qa + qd * qd - qb * qb - qc * qc],
    ];
    const qfac = (header.pixDims[0] ?? 1) < 0 ? -1 : 1;
    const scale = [pixdim[0]!, pixdim[1]!, pixdim[2]! * qfac];
    const offset = [header.qoffset_x, header.qoffset_y, header.qoffset_z];
    const m = [0, 1, 2].map((r) => [R[r]![0]! * scale[0]!, R[r]![1]! * scale[1]!, R[r]![2]! * scale[2]!, offset[r]!]);
    m.push([0, 0, 0, 1]);
    return { affine: m as unknown as Affine, source: 'qform' };
  }
  if (header.sform_code > 0) {
    // NIfTI-2 with an sform: nifti-reader-js has already read it into `affine`.
    return { affine: header.affine.map((row) => [...row]) as unknown as Affine, source: 'sform' };
  }
  return {
    affine: [
      [pixdim[0]!, 0, 0, 0],
      [0, pixdim[1]!, 0, 0],
      [0, 0, pixdim[2]!, 0],
      [0, 0, 0, 1],
    ],
    source: 'pixdim',
  };
}

function isIntegerType(code: number): boolean {
  return [2, 4, 8, 256, 512, 768, 1024, 1280].includes(code);
}

function decodeVoxels(raw: ArrayBuffer, code: number, le: boolean, count: number, name: string): Float32Array {
  const view = new DataView(raw);
  const out = new Float32Array(count);
  const need = (bytes: number): void => {
    if (raw.byteLength < count * bytes) throw new BadInputError(`${name}: voxel data is truncated (${raw.byteLength} of ${count * bytes} bytes)`);
  };
  switch (code) {
    case 2: // uint8
      need(1);
      for (let n = 0; n < count; n++) out[n] = view.getUint8(n);
      break;
    case 256: // int8
      need(1);
      for (let n = 0; n < count; n++) out[n] = view.getInt8(n);
      break;
    case 4: // int16
      need(2);
      for (let n = 0; n < count; n++) out[n] = view.getInt16(2 * n, le);
      break;
    case 512: // uint16
      need(2);
      for (let n = 0; n < count; n++) out[n] = view.getUint16(2 * n, le);
      break;
    case 8: // int32
      need(4);
      for (let n = 0; n < count; n++) out[n] = view.getInt32(4 * n, le);
      break;
    case 768: // uint32
      need(4);
      for (let n = 0; n < count; n++) out[n] = view.getUint32(4 * n, le);
      break;
    case 16: // float32
      need(4);
      for (let n = 0; n < count; n++) out[n] = view.getFloat32(4 * n, le);
      break;
    case 64: // float64
      need(8);
      for (let n = 0; n < count; n++) out[n] = view.getFloat64(8 * n, le);
      break;
    default:
      throw new BadInputError(`${name}: NIfTI datatype ${code} is not supported (scalar integer or float volumes only)`);
  }
  return out;
}
