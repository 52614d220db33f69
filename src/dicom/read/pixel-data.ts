/**
 * Pixel data -> stored sample values, one typed array per frame. Pure: bytes and the Image Pixel
 * module in, samples out. The caller turns failures into typed errors with the study's UID.
 */
import { inflateRawSync } from 'node:zlib';
import { decodeJpeg2000, decodeJpegBaseline, decodeJpegLossless, decodeJpegLs, type DecodedFrame } from './codecs.js';
import type { NaturalDataset } from './dicom-file.js';
import { decodeRleFrame } from './rle.js';
import type { PixelEncoding } from './transfer-syntax.js';

/** Stored sample values of one frame, samples interleaved (R,G,B,R,G,B,... for colour). Read-only: may view the input bytes. */
export type StoredSamples = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;

/** The Image Pixel module attributes that decoding needs. */
export interface PixelFormat {
  readonly rows: number;
  readonly columns: number;
  readonly samplesPerPixel: number;
  readonly bitsAllocated: number;
  readonly bitsStored: number;
  readonly pixelRepresentation: 0 | 1;
  readonly planarConfiguration: 0 | 1;
  readonly photometricInterpretation: string;
  readonly numberOfFrames: number;
}

/** A problem with the pixel data; `attribute` names the DICOM attribute at fault. */
export class PixelDataError extends Error {
  override readonly name = 'PixelDataError';
  constructor(message: string, readonly attribute: string) {
    super(message);
  }
}

function positiveInteger(dataset: NaturalDataset, keyword: string, fallback?: number): number {
  const raw = dataset[keyword];
  const value = typeof raw === 'string' ? Number.parseInt(raw, 10) : Array.isArray(raw) ? Number(raw[0]) : Number(raw);
  if (raw === undefined || raw === null || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new PixelDataError(`${keyword} is missing`, keyword);
  }
  if (!Number.isInteger(value) || value <= 0) {
    if (fallback !== undefined && keyword === 'NumberOfFrames') return fallback;
    throw new PixelDataError(`${keyword} is not a positive integer (${String(raw).slice(0, 16)})`, keyword);
  }
  return value;
}

/** Reads and checks the Image Pixel module. */
export function pixelFormatOf(dataset: NaturalDataset): PixelFormat {
  const rows = positiveInteger(dataset, 'Rows');
  const columns = positiveInteger(dataset, 'Columns');
  const samplesPerPixel = positiveInteger(dataset, 'SamplesPerPixel', 1);
  const bitsAllocated = positiveInteger(dataset, 'BitsAllocated');
  const bitsStored = positiveInteger(dataset, 'BitsStored', bitsAllocated);
  if (![1, 8, 16, 32].includes(bitsAllocated)) throw new PixelDataError(`BitsAllocated ${bitsAllocated} is not supported`, 'BitsAllocated');
  if (bitsStored > bitsAllocated) throw new PixelDataError(`BitsStored ${bitsStored} exceeds BitsAllocated ${bitsAllocated}`, 'BitsStored');
  if (samplesPerPixel !== 1 && samplesPerPixel !== 3) throw new PixelDataError(`SamplesPerPixel ${samplesPerPixel} is not supported`, 'SamplesPerPixel');
  return {
    rows,
    columns,
    samplesPerPixel,
    bitsAllocated,
    bitsStored,
    pixelRepresentation: Number(dataset['PixelRepresentation']) === 1 ? 1 : 0,
    planarConfiguration: Number(dataset['PlanarConfiguration']) === 1 ? 1 : 0,
    photometricInterpretation: String(dataset['PhotometricInterpretation'] ?? 'MONOCHROME2').trim(),
    numberOfFrames: positiveInteger(dataset, 'NumberOfFrames', 1),
  };
}

function join(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** True when `bytes` starts a new compressed frame of this encoding (used to group fragments). */
function startsFrame(encoding: PixelEncoding, bytes: Uint8Array): boolean {
  switch (encoding) {
    case 'jpeg-baseline':
    case 'jpeg-lossless':
    case 'jpeg-ls':
      return bytes[0] === 0xff && bytes[1] === 0xd8; // SOI
    case 'jpeg-2000':
      return (bytes[0] === 0xff && bytes[1] === 0x4f && bytes[2] === 0xff && bytes[3] === 0x51) || // SOC + SIZ
        (bytes[4] === 0x6a && bytes[5] === 0x50 && bytes[6] === 0x20 && bytes[7] === 0x20); // JP2 signature box
    default:
      return false;
  }
}

/**
 * Encapsulated pixel data as dcmjs gives it (per frame with a Basic Offset Table, per fragment
 * without) -> one encoded buffer per frame.
 */
export function encapsulatedFrames(encoding: PixelEncoding, items: readonly Uint8Array[], numberOfFrames: number): Uint8Array[] {
  const nonEmpty = items.filter((b) => b.length > 0);
  if (nonEmpty.length === numberOfFrames) return [...nonEmpty];
  if (numberOfFrames === 1 && nonEmpty.length > 1) return [join(nonEmpty)];
  if (nonEmpty.length > numberOfFrames) {
    // Several fragments per frame and no offset table: frames start at codec start markers.
    const frames: Uint8Array[][] = [];
    for (const item of nonEmpty) {
      if (frames.length === 0 || startsFrame(encoding, item)) frames.push([item]);
      else frames[frames.length - 1]!.push(item);
    }
    if (frames.length === numberOfFrames) return frames.map(join);
  }
  throw new PixelDataError(`PixelData holds ${nonEmpty.length} fragments for ${numberOfFrames} frames`, 'PixelData');
}

function typedArrayFor(format: PixelFormat, bytesPerSample: number, length: number): StoredSamples {
  const signed = format.pixelRepresentation === 1;
  switch (bytesPerSample) {
    case 1:
      return signed ? new Int8Array(length) : new Uint8Array(length);
    case 2:
      return signed ? new Int16Array(length) : new Uint16Array(length);
    default:
      return signed ? new Int32Array(length) : new Uint32Array(length);
  }
}

/**
 * Little-endian (or big-endian) bytes -> typed samples, keeping BitsStored bits: masks bits above
 * BitsStored and sign-extends signed values. When nothing needs changing and the bytes are aligned,
 * the result is a view on them (the caller's file buffer: treat stored samples as read-only).
 */
function samplesFromBytes(bytes: Uint8Array, format: PixelFormat, bytesPerSample: number, bigEndian: boolean, bitsStored: number): StoredSamples {
  const count = Math.floor(bytes.length / bytesPerSample);
  if (!bigEndian && bytes.byteOffset % bytesPerSample === 0) {
    const signed = format.pixelRepresentation === 1;
    const at = bytes.byteOffset;
    const buffer = bytes.buffer as ArrayBuffer;
    const view =
      bytesPerSample === 1 ? (signed ? new Int8Array(buffer, at, count) : new Uint8Array(buffer, at, count))
      : bytesPerSample === 2 ? (signed ? new Int16Array(buffer, at, count) : new Uint16Array(buffer, at, count))
      : signed ? new Int32Array(buffer, at, count) : new Uint32Array(buffer, at, count);
    // Most files keep the bits above BitsStored clear (or sign-extended): then the bytes themselves are
    // the samples, with no copy (a study's pixels are its largest holding).
    if (bitsStored === bytesPerSample * 8 || keepsBitsStored(view, bitsStored, signed)) return view;
  }
  const out = typedArrayFor(format, bytesPerSample, count);
  if (bytesPerSample === 1) {
    new Uint8Array(out.buffer).set(bytes.subarray(0, count));
  } else if (!bigEndian) {
    new Uint8Array(out.buffer).set(bytes.subarray(0, count * bytesPerSample));
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < count; i++) out[i] = bytesPerSample === 2 ? (format.pixelRepresentation ? view.getInt16(2 * i) : view.getUint16(2 * i)) : format.pixelRepresentation ? view.getInt32(4 * i) : view.getUint32(4 * i);
  }
  const bits = bytesPerSample * 8;
  if (bitsStored < bits) {
    const shift = 32 - bitsStored;
    if (format.pixelRepresentation === 1) {
      for (let i = 0; i < count; i++) out[i] = (out[i]! << shift) >> shift;
    } else {
      const mask = bitsStored >= 32 ? 0xffffffff : (1 << bitsStored) - 1;
      for (let i = 0; i < count; i++) out[i] = (out[i]! & mask) >>> 0;
    }
  }
  return out;
}

/** True when every sample already reads as its low `bitsStored` bits (masked, or sign-extended when signed). */
function keepsBitsStored(samples: StoredSamples, bitsStored: number, signed: boolean): boolean {
  if (signed) {
    const low = -(2 ** (bitsStored - 1));
    const high = 2 ** (bitsStored - 1) - 1;
    for (let i = 0; i < samples.length; i++) if (samples[i]! < low || samples[i]! > high) return false;
    return true;
  }
  const high = 2 ** bitsStored - 1;
  for (let i = 0; i < samples.length; i++) if (samples[i]! > high) return false;
  return true;
}

function planarToInterleaved(samples: StoredSamples, pixels: number): StoredSamples {
  const out = samples.slice() as StoredSamples;
  for (let p = 0; p < pixels; p++) for (let s = 0; s < 3; s++) out[p * 3 + s] = samples[s * pixels + p]!;
  return out;
}

function fromCodec(decoded: DecodedFrame, format: PixelFormat): StoredSamples {
  if (decoded.width !== format.columns || decoded.height !== format.rows) {
    throw new PixelDataError(`compressed frame is ${decoded.width}x${decoded.height}, Rows/Columns say ${format.columns}x${format.rows}`, 'Rows');
  }
  const bytesPerSample = decoded.bitsPerSample <= 8 ? 1 : decoded.bitsPerSample <= 16 ? 2 : 4;
  const expected = format.rows * format.columns * decoded.componentCount * bytesPerSample;
  if (decoded.bytes.length < expected) throw new PixelDataError(`compressed frame decodes to ${decoded.bytes.length} of ${expected} bytes`, 'PixelData');
  return samplesFromBytes(decoded.bytes.subarray(0, expected), format, bytesPerSample, false, Math.min(format.bitsStored, bytesPerSample * 8));
}

/**
 * Decodes every frame. `items` is the PixelData as parsed; `bigEndian` only matters for native data.
 * Throws PixelDataError for data that are short, malformed or that a codec rejects.
 */
export function decodeFrames(encoding: PixelEncoding | 'deflate-frame', items: readonly Uint8Array[], format: PixelFormat, bigEndian: boolean): StoredSamples[] {
  const pixels = format.rows * format.columns;
  const frames: StoredSamples[] = [];
  if (encoding === 'native') {
    const data = join(items);
    if (format.bitsAllocated === 1) {
      const need = Math.ceil((pixels * format.numberOfFrames) / 8);
      if (data.length < need) throw new PixelDataError(`PixelData has ${data.length} bytes, ${need} expected`, 'PixelData');
      for (let f = 0; f < format.numberOfFrames; f++) {
        const out = new Uint8Array(pixels);
        for (let p = 0, bit = f * pixels; p < pixels; p++, bit++) out[p] = (data[bit >> 3]! >> (bit & 7)) & 1;
        frames.push(out);
      }
      return frames;
    }
    const bytesPerSample = format.bitsAllocated / 8;
    const frameBytes = pixels * format.samplesPerPixel * bytesPerSample;
    const need = frameBytes * format.numberOfFrames;
    if (data.length < need) throw new PixelDataError(`PixelData has ${data.length} bytes, ${need} expected for ${format.numberOfFrames} frame(s) of ${format.columns}x${format.rows}`, 'PixelData');
    for (let f = 0; f < format.numberOfFrames; f++) {
      let samples = samplesFromBytes(data.subarray(f * frameBytes, (f + 1) * frameBytes), format, bytesPerSample, bigEndian, format.bitsStored);
      if (format.samplesPerPixel === 3 && format.planarConfiguration === 1) samples = planarToInterleaved(samples, pixels);
      frames.push(samples);
    }
    return frames;
  }
  const encoded = encapsulatedFrames(encoding === 'deflate-frame' ? 'rle' : encoding, items, format.numberOfFrames);
  for (const frame of encoded) frames.push(decodeEncapsulated(encoding, frame, format));
  return frames;
}

function decodeEncapsulated(encoding: Exclude<PixelEncoding, 'native'> | 'deflate-frame', frame: Uint8Array, format: PixelFormat): StoredSamples {
  const pixels = format.rows * format.columns;
  try {
    switch (encoding) {
      case 'rle': {
        const bytesPerSample = format.bitsAllocated / 8;
        const bytes = decodeRleFrame(frame, pixels, format.samplesPerPixel, bytesPerSample);
        return samplesFromBytes(bytes, format, bytesPerSample, false, format.bitsStored);
      }
      case 'deflate-frame': {
        // Deflated Image Frame Compression: each frame is the native frame, deflated.
        const inflated = new Uint8Array(inflateRawSync(frame));
        return decodeFrames('native', [inflated], { ...format, numberOfFrames: 1 }, false)[0]!;
      }
      case 'jpeg-2000':
        return fromCodec(decodeJpeg2000(frame), format);
      case 'jpeg-ls':
        return fromCodec(decodeJpegLs(frame), format);
      case 'jpeg-baseline':
        return fromCodec(decodeJpegBaseline(frame), format);
      case 'jpeg-lossless': {
        const bytesPerSample = format.bitsAllocated <= 8 ? 1 : 2;
        return fromCodec(decodeJpegLossless(frame, bytesPerSample, format.columns, format.rows, format.samplesPerPixel), format);
      }
    }
  } catch (error) {
    if (error instanceof PixelDataError) throw error;
    throw new PixelDataError(`compressed frame could not be decoded: ${error instanceof Error ? error.message : String(error)}`, 'PixelData');
  }
}

/**
 * Grey values of one frame: the stored values themselves for monochrome (MONOCHROME1 is not
 * inverted: values keep their meaning), luminance for colour
 * (Y for YBR, Rec. 601 weights for RGB, which is also what the JPEG codecs give for YBR input).
 */
export function greyValues(samples: StoredSamples, format: PixelFormat, decodedAsRgb: boolean): Float32Array {
  const pixels = format.rows * format.columns;
  const out = new Float32Array(pixels);
  if (format.samplesPerPixel === 1) {
    for (let p = 0; p < pixels; p++) out[p] = samples[p]!;
    return out;
  }
  const ybr = format.photometricInterpretation.startsWith('YBR') && !decodedAsRgb;
  for (let p = 0; p < pixels; p++) {
    const r = samples[3 * p]!;
    out[p] = ybr ? r : 0.299 * r + 0.587 * samples[3 * p + 1]! + 0.114 * samples[3 * p + 2]!;
  }
  return out;
}
