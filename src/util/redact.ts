/**
 * Keeps secrets out of text that leaves the process (log lines, error messages, answers):
 * credentials written into URLs (`http://user:pw@host`) and known secret values (tokens, passwords).
 */

/** `scheme://user:password@` or `scheme://user@` in any text. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+(?::[^/\s@]*)?@/giu;

export const REDACTED = '***';

/** The text with the credentials of every URL in it replaced by `***`. */
export function redactUrlCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, `$1${REDACTED}@`);
}

/**
 * A function that redacts URL credentials and each of `secrets` (exact occurrences) from a text.
 * Secrets shorter than 4 characters are ignored: masking them would mangle ordinary words.
 */
export function createRedactor(secrets: readonly (string | undefined)[] = []): (text: string) => string {
  const known = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= 4))]
    // Longest first, so a secret that contains another is masked whole.
    .sort((a, b) => b.length - a.length);
  return (text) => {
    let out = redactUrlCredentials(text);
    for (const secret of known) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  };
}

/** Deep copy of a JSON-like value with every string passed through `redact`. */
export function redactDeep(value: unknown, redact: (text: string) => string, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, redact, depth + 1));
  if (value instanceof Error) return redact(value.message);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = redactDeep(v, redact, depth + 1);
  return out;
}

/** An URL with its credentials removed, and the credentials it held. */
export function splitUrlCredentials(url: string): { url: string; username?: string; password?: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url };
  }
  if (parsed.username === '' && parsed.password === '') return { url };
  const username = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  parsed.username = '';
  parsed.password = '';
  // URL.toString() adds a trailing slash to a bare origin; keep the caller's form.
  const clean = url.endsWith('/') || parsed.pathname !== '/' ? parsed.toString() : parsed.toString().replace(/\/$/u, '');
  return { url: clean, username, password };
}
