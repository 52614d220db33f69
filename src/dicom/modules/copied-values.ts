/**
 * Values copied from a source study into the objects we write, sanitised to their VR (PS3.5 6.2).
 *
 * Real archives hold values their own VR forbids (PatientBirthDate `00000000`, times like `25:61`,
 * names longer than 64 characters). Copying them verbatim makes our objects invalid; refusing the
 * study for them helps nobody. So: an invalid DA/TM/CS/AS/DS becomes empty for a Type 2 attribute
 * and is left out for a Type 3 one, an over-long string is cut at a character boundary, and every
 * change is reported by keyword and kind (never with the value: it may identify the patient).
 */

import { COPIED_VR, type CopiedVr } from './patient-study-attributes.js';


/** What was done to one copied attribute. The value itself is never recorded. */
export interface SanitisedValue {
  readonly keyword: string;
  /** 'emptied' (Type 2, invalid), 'omitted' (Type 3, invalid), 'truncated' (too long). */
  readonly action: 'emptied' | 'omitted' | 'truncated';
  /** Why, without the value: 'invalid DA', 'longer than 64 characters', ... */
  readonly reason: string;
}

/** Maximum length in characters per value (PS3.5 Table 6.2-1); PN per component group. */
const MAX_LENGTH: Partial<Record<CopiedVr, number>> = { PN: 64, LO: 64, SH: 16, LT: 10240, CS: 16, AS: 4, DS: 16 };

/** Enumerated values of the CS attributes we copy (PS3.3 C.7.1.1). */
const ENUMERATED: Readonly<Record<string, readonly string[]>> = {
  PatientSex: ['M', 'F', 'O'],
  PatientIdentityRemoved: ['YES', 'NO'],
};

const daysInMonth = (year: number, month: number): number => new Date(Date.UTC(year, month, 0)).getUTCDate();

/** DA: YYYYMMDD, a real calendar date from year 1 on. */
export function isValidDa(value: string): boolean {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(value);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/** TM: HH[MM[SS[.F{1,6}]]] (PS3.5 6.2; a leap second 60 allowed). */
export function isValidTm(value: string): boolean {
  return /^([01]\d|2[0-3])([0-5]\d(([0-5]\d|60)(\.\d{1,6})?)?)?$/.test(value);
}

/** AS: nnnD, nnnW, nnnM or nnnY. */
export const isValidAs = (value: string): boolean => /^\d{3}[DWMY]$/.test(value);

/** DS: a decimal string of at most 16 characters (dcmjs hands numbers; their text must fit). */
function isValidDs(value: unknown): boolean {
  const text = typeof value === 'number' ? String(value) : String(value ?? '').trim();
  return text.length > 0 && text.length <= 16 && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) && Number.isFinite(Number(text));
}

/** Cuts at a character (code point) boundary, never inside a surrogate pair. */
export function cutToCharacters(value: string, max: number): string {
  const chars = Array.from(value);
  return chars.length <= max ? value : chars.slice(0, max).join('');
}

const characterCount = (value: string): number => Array.from(value).length;

type Outcome = { ok: true; value: unknown; truncated: boolean } | { ok: false; reason: string };

/** One PN value: a string 'A^B' or dcmjs's {Alphabetic, Ideographic, Phonetic}; each group at most 64. */
function sanitisePn(value: unknown): Outcome {
  const max = MAX_LENGTH.PN!;
  let truncated = false;
  const cut = (text: string): string => {
    if (characterCount(text) <= max) return text;
    truncated = true;
    return cutToCharacters(text, max);
  };
  const one = (v: unknown): unknown => {
    if (typeof v === 'string') return cut(v);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [group, text] of Object.entries(v as Record<string, unknown>)) out[group] = typeof text === 'string' ? cut(text) : text;
      return out;
    }
    return v;
  };
  const result = Array.isArray(value) ? value.map(one) : one(value);
  return { ok: true, value: result, truncated };
}

/** Checks each value of a (possibly multi-valued) string attribute with `valid`; cuts long ones. */
function sanitiseStrings(value: unknown, vr: CopiedVr, valid: ((v: string) => boolean) | undefined): Outcome {
  const values = Array.isArray(value) ? value : [value];
  const max = MAX_LENGTH[vr];
  let truncated = false;
  const out: unknown[] = [];
  for (const v of values) {
    if (typeof v !== 'string') return { ok: false, reason: `not a ${vr} string` };
    const text = vr === 'LT' ? v : v.trim();
    if (valid && text !== '' && !valid(text)) return { ok: false, reason: `invalid ${vr}` };
    if (max !== undefined && characterCount(text) > max) {
      // A CS, AS or DA value that is too long is invalid, not merely long: it cannot be cut into meaning.
      if (valid) return { ok: false, reason: `invalid ${vr}` };
      truncated = true;
      out.push(cutToCharacters(text, max));
    } else out.push(text);
  }
  return { ok: true, value: Array.isArray(value) ? out : out[0], truncated };
}

function sanitiseValue(keyword: string, vr: CopiedVr, value: unknown): Outcome {
  switch (vr) {
    case 'SQ':
      return Array.isArray(value) ? { ok: true, value, truncated: false } : { ok: false, reason: 'not a sequence' };
    case 'PN':
      return sanitisePn(value);
    case 'DA':
      return sanitiseStrings(value, vr, isValidDa);
    case 'TM':
      return sanitiseStrings(value, vr, isValidTm);
    case 'AS':
      return sanitiseStrings(value, vr, isValidAs);
    case 'CS': {
      const allowed = ENUMERATED[keyword];
      return sanitiseStrings(value, vr, (v) => (allowed ? allowed.includes(v) : /^[A-Z0-9 _]{1,16}$/.test(v)));
    }
    case 'DS': {
      const values = Array.isArray(value) ? value : [value];
      return values.every(isValidDs) ? { ok: true, value, truncated: false } : { ok: false, reason: 'invalid DS' };
    }
    default:
      return sanitiseStrings(value, vr, undefined);
  }
}

export interface CopiedValues {
  readonly attributes: Record<string, unknown>;
  readonly sanitised: readonly SanitisedValue[];
}

/**
 * Copies `type2` keywords (always present, empty when unknown or invalid) and `type3` keywords
 * (only when present and valid) from `source`, each sanitised to its VR.
 */
export function copyValues(source: Readonly<Record<string, unknown>>, type2: readonly string[], type3: readonly string[]): CopiedValues {
  const attributes: Record<string, unknown> = {};
  const sanitised: SanitisedValue[] = [];
  const copy = (keyword: string, required: boolean): void => {
    const value = source[keyword];
    const empty = value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
    if (empty) {
      if (required) attributes[keyword] = '';
      return;
    }
    const vr = COPIED_VR[keyword];
    if (vr === undefined) throw new TypeError(`copied attribute ${keyword} has no VR in COPIED_VR`);
    const outcome = sanitiseValue(keyword, vr, value);
    if (!outcome.ok) {
      sanitised.push({ keyword, action: required ? 'emptied' : 'omitted', reason: outcome.reason });
      if (required) attributes[keyword] = '';
      return;
    }
    if (outcome.truncated) sanitised.push({ keyword, action: 'truncated', reason: `longer than ${MAX_LENGTH[vr]} characters` });
    attributes[keyword] = outcome.value;
  };
  for (const keyword of type2) copy(keyword, true);
  for (const keyword of type3) copy(keyword, false);
  return { attributes, sanitised };
}

/** One line per change, for logs: 'PatientBirthDate emptied (invalid DA)'. */
export function describeSanitised(sanitised: readonly SanitisedValue[]): string[] {
  return sanitised.map((s) => `${s.keyword} ${s.action} (${s.reason})`);
}
