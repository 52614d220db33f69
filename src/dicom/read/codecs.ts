/**
 * Compressed-frame decoders from the installed packages, behind one small synchronous interface.
 * The Cornerstone codecs are Emscripten WebAssembly builds: we compile their .wasm synchronously on
 * first use (instantiateWasm hook), so reading a study stays a plain synchronous function.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The part of the WebAssembly JS API we use (lib ES2022 without DOM does not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** What a codec reports about the frame it decoded. */
export interface DecodedFrame {
  /** Samples, interleaved, little endian, bytesPerSample each. */
  readonly bytes: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly componentCount: number;
  readonly bitsPerSample: number;
}

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
}

/** The shared shape of the Cornerstone codec decoders (J2KDecoder, JpegLSDecoder, JPEGDecoder). */
interface EmscriptenDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): FrameInfo;
  delete(): void;
}
type DecoderClass = new () => EmscriptenDecoder;

function loadWasmCodec(pkg: string, className: string): DecoderClass {
  let factory = require(`${pkg}/decodewasmjs`) as unknown;
  if (typeof factory !== 'function' && factory && typeof (factory as { default?: unknown }).default === 'function') {
    factory = (factory as { default: unknown }).default;
  }
  const wasm = readFileSync(require.resolve(`${pkg}/decodewasm`));
  const module: Record<string, unknown> = {
    instantiateWasm(imports: object, receive: (instance: object, module: object) => void) {
      const compiled = new Wasm.Module(wasm);
      const instance = new Wasm.Instance(compiled, imports);
      receive(instance, compiled);
      return instance.exports;
    },
    print: () => undefined,
    printErr: () => undefined,
  };
  const ready = (factory as (m: Record<string, unknown>) => Promise<unknown>)(module);
  // The promise has nothing left to wait for; keep it from surfacing as an unhandled rejection.
  ready?.catch?.(() => undefined);
  const cls = module[className];
  if (typeof cls !== 'function') throw new Error(`${pkg}: ${className} unavailable after synchronous initialisation`);
  return cls as DecoderClass;
}

const loaded = new Map<string, DecoderClass>();
function codec(pkg: string, className: string): DecoderClass {
  let cls = loaded.get(pkg);
  if (!cls) {
    cls = loadWasmCodec(pkg, className);
    loaded.set(pkg, cls);
  }
  return cls;
}

function runEmscripten(cls: DecoderClass, encoded: Uint8Array): DecodedFrame {
  const decoder = new cls();
  try {
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    decoder.decode();
    const info = decoder.getFrameInfo();
    // The decoded buffer is a view into WebAssembly memory: copy it out before the decoder is freed.
    const bytes = decoder.getDecodedBuffer().slice();
    return { bytes, width: info.width, height: info.height, componentCount: info.componentCount, bitsPerSample: info.bitsPerSample };
  } catch (error) {
    // Emscripten throws numbers (pointers) or strings, not Errors.
    throw error instanceof Error ? error : new Error(`codec error ${String(error)}`);
  } finally {
    decoder.delete();
  }
}

export function decodeJpeg2000(encoded: Uint8Array): DecodedFrame {
  return runEmscripten(codec('@cornerstonejs/codec-openjpeg', 'J2KDecoder'), encoded);
}

export function decodeJpegLs(encoded: Uint8Array): DecodedFrame {
  return runEmscripten(codec('@cornerstonejs/codec-charls', 'JpegLSDecoder'), encoded);
}

/** JPEG baseline and extended 8-bit (libjpeg-turbo; colour comes out as RGB). */
export function decodeJpegBaseline(encoded: Uint8Array): DecodedFrame {
  return runEmscripten(codec('@cornerstonejs/codec-libjpeg-turbo-8bit', 'JPEGDecoder'), encoded);
}

interface LosslessDecoder {
  decode(buffer: ArrayBuffer, offset: number, length: number, numBytes: number): Uint8Array | Uint16Array | Int16Array;
}
let losslessClass: (new () => LosslessDecoder) | undefined;

/** JPEG lossless, processes 14 and 14 SV1 (jpeg-lossless-decoder-js, pure JavaScript). */
export function decodeJpegLossless(encoded: Uint8Array, bytesPerSample: number, width: number, height: number, componentCount: number): DecodedFrame {
  losslessClass ??= (require('jpeg-lossless-decoder-js') as { Decoder: new () => LosslessDecoder }).Decoder;
  const decoder = new losslessClass();
  const out = decoder.decode(encoded.buffer as ArrayBuffer, encoded.byteOffset, encoded.byteLength, bytesPerSample);
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength).slice();
  return { bytes, width, height, componentCount, bitsPerSample: bytesPerSample * 8 };
}
