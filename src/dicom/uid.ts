import { createHash, randomBytes } from 'node:crypto';
import type { Brand } from '../util/brand.js';

export type StudyInstanceUID = Brand<string, 'StudyInstanceUID'>;
export type SeriesInstanceUID = Brand<string, 'SeriesInstanceUID'>;
export type SOPInstanceUID = Brand<string, 'SOPInstanceUID'>;
export type FrameOfReferenceUID = Brand<string, 'FrameOfReferenceUID'>;
export type SOPClassUID = Brand<string, 'SOPClassUID'>;

const UID_PATTERN = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

/** True when `value` is a well-formed UID (PS3.5 9.1): digits and dots, no leading zeros, at most 64 characters. */
export function isValidUid(value: string): boolean {
  return value.length > 0 && value.length <= 64 && UID_PATTERN.test(value);
}

/**
 * Brands a UID read from a data set. Real scanners write odd UIDs (leading zeros, trailing
 * spaces or NULs); we trim padding and accept them as identifiers, but never write such a UID ourselves.
 */
export function readUid<B extends string>(value: unknown, attribute: string): Brand<string, B> {
  if (typeof value !== 'string') throw new TypeError(`${attribute} is missing or not a string`);
  const trimmed = value.replace(/[\s\0]+$/u, '').trim();
  if (trimmed.length === 0 || trimmed.length > 64) throw new TypeError(`${attribute} is empty or longer than 64 characters`);
  return trimmed as Brand<string, B>;
}

/** A 2.25 UID (PS3.5 B.2) from 128 bits taken as an unsigned decimal integer. */
function uidFromBytes(bytes: Uint8Array): string {
  let n = 0n;
  for (const b of bytes.subarray(0, 16)) n = (n << 8n) | BigInt(b);
  return `2.25.${n.toString()}`;
}

/** A fresh random UID. */
export function newUid<B extends string>(): Brand<string, B> {
  return uidFromBytes(randomBytes(16)) as Brand<string, B>;
}

/**
 * A UID that depends only on `parts`: the same inputs always give the same UID. Used for idempotent
 * writes (the same study, model and calibration give the same SEG/SR SOP Instance UIDs) and for
 * deterministic synthetic studies.
 */
export function deterministicUid<B extends string>(...parts: Array<string | number>): Brand<string, B> {
  const hash = createHash('sha256').update(parts.map(String).join('\u001f')).digest();
  return uidFromBytes(hash) as Brand<string, B>;
}
