/**
 * DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header of up to 15 segment offsets, each segment
 * PackBits-coded; segment k holds byte k of every sample, most significant byte first.
 */

/** Decodes one RLE frame into little-endian interleaved samples (bytesPerSample x samplesPerPixel per pixel). */
export function decodeRleFrame(frame: Uint8Array, pixels: number, samplesPerPixel: number, bytesPerSample: number): Uint8Array {
  if (frame.length < 64) throw new Error(`RLE frame shorter than its 64-byte header (${frame.length} bytes)`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segments = view.getUint32(0, true);
  const expected = samplesPerPixel * bytesPerSample;
  if (segments !== expected) throw new Error(`RLE frame has ${segments} segments, expected ${expected}`);
  const out = new Uint8Array(pixels * expected);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : frame.length;
    if (start < 64 || start > frame.length || end < start || end > frame.length) throw new Error(`RLE segment ${s + 1} offset out of range`);
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample); // segment 0 is the most significant byte
    const stride = expected;
    let o = sample * bytesPerSample + byteInSample;
    let written = 0;
    let i = start;
    while (i < end && written < pixels) {
      const n = frame[i++]!;
      if (n < 128) {
        // literal run of n + 1 bytes
        const count = Math.min(n + 1, end - i, pixels - written);
        for (let k = 0; k < count; k++) {
          out[o] = frame[i + k]!;
          o += stride;
        }
        i += n + 1;
        written += count;
      } else if (n > 128) {
        // replicate the next byte 257 - n times
        const value = frame[i++]!;
        const count = Math.min(257 - n, pixels - written);
        for (let k = 0; k < count; k++) {
          out[o] = value;
          o += stride;
        }
        written += count;
      }
      // n === 128 is a no-op
    }
    if (written < pixels) throw new Error(`RLE segment ${s + 1} decodes to ${written} of ${pixels} bytes`);
  }
  return out;
}
