/**
 * multipart/related (RFC 2387) as DICOMweb uses it: WADO-RS answers are split here, STOW-RS
 * requests are built here. Each part of a STOW-RS request is exactly `application/dicom` with its
 * Content-Length, which Orthanc's DICOMweb plugin requires.
 */
import { randomUUID } from 'node:crypto';

/** Splits a multipart/related body into its parts' bodies; throws when `contentType` names no boundary. */
export function parseMultipart(body: Uint8Array, contentType: string): Uint8Array[] {
  return readMultipart(body, contentType).parts;
}

/**
 * The parts of a multipart/related body, and whether it ended with the closing delimiter: an answer
 * cut short (Orthanc stopped mid-answer, a connection dropped) still parses as a shorter,
 * valid-looking set of parts; only the missing closing delimiter tells.
 */
export function readMultipart(body: Uint8Array, contentType: string): { parts: Uint8Array[]; complete: boolean } {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) throw new Error(`multipart answer without a boundary (Content-Type ${contentType})`);
  const buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Uint8Array[] = [];
  let start = buffer.indexOf(delimiter);
  let complete = false;
  while (start !== -1) {
    const afterDelimiter = start + delimiter.length;
    if (buffer.subarray(afterDelimiter, afterDelimiter + 2).toString() === '--') {
      complete = true; // closing delimiter "--boundary--"
      break;
    }
    const headerEnd = buffer.indexOf('\r\n\r\n', afterDelimiter);
    if (headerEnd === -1) break;
    const next = buffer.indexOf(delimiter, headerEnd + 4);
    if (next === -1) break;
    // The part body ends with the CRLF that precedes the next delimiter.
    const end = buffer[next - 2] === 0x0d && buffer[next - 1] === 0x0a ? next - 2 : next;
    parts.push(new Uint8Array(buffer.subarray(headerEnd + 4, end)));
    start = next;
  }
  return { parts, complete };
}

/**
 * Why a retrieval is not what Orthanc's index says the series holds (instance count, then each
 * file's size), or undefined when it matches. Sizes are compared sorted: the answer need not follow
 * the index's order.
 */
export function retrievalMismatch(received: readonly number[], expected: readonly number[]): string | undefined {
  if (received.length !== expected.length) return `${received.length} of ${expected.length} instances received`;
  const a = [...received].sort((x, y) => x - y);
  const b = [...expected].sort((x, y) => x - y);
  const differing = a.filter((size, k) => size !== b[k]).length;
  return differing === 0 ? undefined : `${differing} of ${expected.length} instances differ in size from Orthanc's index`;
}

/** A STOW-RS body of DICOM Part 10 files and its Content-Type. */
export function buildDicomMultipart(instances: readonly Uint8Array[], boundary = `pulse-${randomUUID()}`): { body: Uint8Array; contentType: string } {
  const chunks: Buffer[] = [];
  for (const bytes of instances) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\nContent-Length: ${bytes.byteLength}\r\n\r\n`));
    chunks.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: new Uint8Array(Buffer.concat(chunks)), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}
