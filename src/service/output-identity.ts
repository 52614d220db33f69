/** The identity of an output object (SOP class, instance and study UIDs), read from its Part 10 bytes. */
import dcmjs from 'dcmjs';

export interface OutputIdentity {
  readonly sopClassUID: string;
  readonly sopInstanceUID: string;
  readonly studyInstanceUID: string;
}

function firstString(dict: Record<string, { Value?: unknown[] }>, tag: string, keyword: string): string {
  const value = dict[tag]?.Value?.[0];
  if (typeof value !== 'string' || value.trim() === '') throw new Error(`output object has no ${keyword}`);
  return value.replace(/[\s\0]+$/u, '');
}

export function outputIdentity(bytes: Uint8Array): OutputIdentity {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  // Stop before Pixel Data: only the header is needed.
  const message = dcmjs.data.DicomMessage.readFile(buffer, { untilTag: '7FE00010', stopOnGreaterTag: true });
  const dict = message.dict as Record<string, { Value?: unknown[] }>;
  return {
    sopClassUID: firstString(dict, '00080016', 'SOPClassUID'),
    sopInstanceUID: firstString(dict, '00080018', 'SOPInstanceUID'),
    studyInstanceUID: firstString(dict, '0020000D', 'StudyInstanceUID'),
  };
}
