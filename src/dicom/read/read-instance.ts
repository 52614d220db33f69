/**
 * One DICOM instance -> its data set and (on demand) its decoded frames. Errors are the project's
 * typed errors, naming the attribute, the source and the study UID, never patient data.
 */
import { BadInputError, UnsupportedEncodingError } from '../../core/errors.js';
import { NotDicomError, parseDicom, type NaturalDataset } from './dicom-file.js';
import { decodeFrames, greyValues, PixelDataError, pixelFormatOf, type PixelFormat, type StoredSamples } from './pixel-data.js';
import { isBigEndian, pixelEncodingOf, type PixelEncoding } from './transfer-syntax.js';

/** Deflated Image Frame Compression (frames deflated one by one). */
const DEFLATED_IMAGE_FRAME = '1.2.840.10008.1.2.8.1';

/** An instance whose header is read; pixels are decoded when asked for. */
export interface ParsedInstance {
  readonly source: string;
  readonly transferSyntaxUID: string;
  readonly dataset: NaturalDataset;
  readonly studyInstanceUID?: string;
  /** True when the file breaks off before its end (the header may still be usable). */
  readonly truncated: boolean;
  readonly hasPixelData: boolean;
  /** The Image Pixel module; throws BadInputError when it is missing or invalid. */
  pixelFormat(): PixelFormat;
  /** Stored sample values of every frame (interleaved for colour). */
  decodeStoredFrames(): StoredSamples[];
  /** Grey values of every frame as Float32 (luminance for colour), before any modality LUT. */
  decodeGreyFrames(): Float32Array[];
  /**
   * Grey values of every frame, before any modality LUT, held compactly: the stored samples
   * themselves (8 or 16 bits, often a view on the file's bytes: read-only) for one sample per pixel,
   * else as {@link decodeGreyFrames}. The same numbers as decodeGreyFrames, in a half or a quarter of
   * the memory.
   */
  decodeCompactGreyFrames(): CompactGreyFrame[];
}

/** One frame's grey values: the stored 8- or 16-bit samples, or Float32 (colour, 32-bit samples). */
export type CompactGreyFrame = Float32Array | Uint16Array | Int16Array | Uint8Array | Int8Array;

/** A fully decoded instance, as {@link readInstance} returns it. */
export interface DecodedInstance {
  readonly source: string;
  readonly transferSyntaxUID: string;
  readonly dataset: NaturalDataset;
  readonly format: PixelFormat;
  /** Grey values per frame, rows x columns, row-major, before the modality LUT. */
  readonly frames: readonly Float32Array[];
}

function studyOf(dataset: NaturalDataset): string | undefined {
  const uid = dataset['StudyInstanceUID'];
  return typeof uid === 'string' && uid.length > 0 ? uid.replace(/[\0\s]+$/u, '') : undefined;
}

/** Parses the header of one instance; pixel data stay encoded until asked for. */
export function parseInstance(source: string, bytes: Uint8Array): ParsedInstance {
  let parsed;
  try {
    parsed = parseDicom(bytes);
  } catch (error) {
    if (error instanceof NotDicomError) throw new BadInputError(`${source}: not a readable DICOM file (${error.message})`);
    throw error;
  }
  const { dataset, transferSyntaxUID } = parsed;
  const studyInstanceUID = studyOf(dataset);
  const fail = (message: string): BadInputError => new BadInputError(`${source}: ${message}`, studyInstanceUID);
  if (dataset['SOPClassUID'] === undefined && dataset['SOPInstanceUID'] === undefined) {
    // Bytes that dcmjs could walk but that hold no instance (a text file, a stray fragment).
    throw fail('not a DICOM instance (SOPClassUID and SOPInstanceUID are missing)');
  }
  const encoding: PixelEncoding | 'deflate-frame' | undefined = transferSyntaxUID === DEFLATED_IMAGE_FRAME ? 'deflate-frame' : pixelEncodingOf(transferSyntaxUID);
  let format: PixelFormat | undefined;
  const pixelFormat = (): PixelFormat => {
    if (format) return format;
    try {
      format = pixelFormatOf(dataset);
      return format;
    } catch (error) {
      if (error instanceof PixelDataError) throw fail(error.message);
      throw error;
    }
  };
  const decodeStoredFrames = (): StoredSamples[] => {
    if (!parsed.pixelData || parsed.pixelData.length === 0) throw fail('PixelData (7FE0,0010) is missing');
    if (!encoding) {
      throw new UnsupportedEncodingError(`${source}: pixel data in transfer syntax ${transferSyntaxUID} cannot be decoded here`, transferSyntaxUID, studyInstanceUID);
    }
    const f = pixelFormat();
    if (encoding === 'jpeg-baseline' && f.bitsStored > 8) {
      // The installed libjpeg-turbo build reads 8-bit JPEG only; 12-bit extended needs transcoding.
      throw new UnsupportedEncodingError(`${source}: ${f.bitsStored}-bit JPEG in transfer syntax ${transferSyntaxUID} cannot be decoded here`, transferSyntaxUID, studyInstanceUID);
    }
    try {
      return decodeFrames(encoding, parsed.pixelData, f, isBigEndian(transferSyntaxUID));
    } catch (error) {
      if (error instanceof PixelDataError) {
        const cut = parsed.parseError ? ' (file is truncated)' : '';
        throw fail(`${error.attribute}: ${error.message}${cut}`);
      }
      throw error;
    }
  };
  return {
    source,
    transferSyntaxUID,
    dataset,
    ...(studyInstanceUID ? { studyInstanceUID } : {}),
    truncated: parsed.parseError !== undefined,
    hasPixelData: (parsed.pixelData?.length ?? 0) > 0,
    pixelFormat,
    decodeStoredFrames,
    decodeGreyFrames: () => {
      const f = pixelFormat();
      const decodedAsRgb = encoding !== 'native' && encoding !== 'rle' && encoding !== 'deflate-frame';
      return decodeStoredFrames().map((samples) => greyValues(samples, f, decodedAsRgb));
    },
    decodeCompactGreyFrames: () => {
      const f = pixelFormat();
      const decodedAsRgb = encoding !== 'native' && encoding !== 'rle' && encoding !== 'deflate-frame';
      return decodeStoredFrames().map((samples) => (f.samplesPerPixel === 1 && samples.length === f.rows * f.columns && isCompact(samples) ? samples : greyValues(samples, f, decodedAsRgb)));
    },
  };
}

/** Samples that are their own grey values in at most 16 bits (32-bit ones go to Float32 as before). */
function isCompact(samples: StoredSamples): samples is Uint16Array | Int16Array | Uint8Array | Int8Array {
  return samples instanceof Uint16Array || samples instanceof Int16Array || samples instanceof Uint8Array || samples instanceof Int8Array;
}

/**
 * Reads one instance and decodes all its frames. Throws BadInputError (unreadable file, missing or
 * short pixel data, invalid Image Pixel module) or UnsupportedEncodingError (a transfer syntax this
 * reader cannot decode, named in the error).
 */
export function readInstance(source: string, bytes: Uint8Array): DecodedInstance {
  const instance = parseInstance(source, bytes);
  const frames = instance.decodeGreyFrames();
  return { source, transferSyntaxUID: instance.transferSyntaxUID, dataset: instance.dataset, format: instance.pixelFormat(), frames };
}
