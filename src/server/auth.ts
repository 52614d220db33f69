/**
 * Who is asking: bearer tokens with two roles (viewer reads, admin also changes), from the
 * `Authorization: Bearer` header or the dashboard's session cookie. Tokens are compared in constant
 * time (digests of equal length, every token checked) and never logged or echoed.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

export type Role = 'viewer' | 'admin';

/** Who may call a route: anyone (probes, the OpenAPI document), the Lua webhook (its own secret), or a role. */
export type Access = 'public' | 'webhook' | Role;

/** Name of the dashboard's session cookie (HttpOnly, SameSite=Strict; holds the token itself). */
export const SESSION_COOKIE = 'pulse_session';
/** Header the dashboard's script sends with every state-changing request made on the cookie. */
export const CSRF_HEADER = 'X-CSRF-Token';

export interface Credentials {
  readonly role: Role;
  /** How the token came: a header cannot be forged cross-site, a cookie can ride along. */
  readonly via: 'header' | 'cookie' | 'open';
  /** The token (absent when authentication is off); used only to derive the CSRF token. */
  readonly token?: string;
}

export interface Authenticator {
  /** False when no token is configured (loopback-only deployments): everyone is admin. */
  readonly enabled: boolean;
  /** The role a token grants, or undefined. */
  roleOf(token: string): Role | undefined;
  /** The credentials a request carries, or undefined when it carries no valid token. */
  identify(req: Request): Credentials | undefined;
  /** The CSRF token bound to a session token (HMAC with a per-process key). */
  csrfFor(token: string): string;
  /** Whether a CSRF token matches the session token (constant time). */
  csrfMatches(token: string, given: string | undefined): boolean;
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Constant time in the number of tokens and in their content. */
function anyMatches(given: Buffer, known: readonly Buffer[]): boolean {
  let found = false;
  for (const candidate of known) found = timingSafeEqual(given, candidate) || found;
  return found;
}

/** A cookie's value from the Cookie header (no cookie library for one name). */
export function cookieValue(req: Request, name: string): string | undefined {
  const header = req.get('Cookie');
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export function createAuthenticator(tokens: { viewerTokens: readonly string[]; adminTokens: readonly string[] }): Authenticator {
  const admins = tokens.adminTokens.map(digest);
  const viewers = tokens.viewerTokens.map(digest);
  const enabled = admins.length + viewers.length > 0;
  const csrfKey = randomBytes(32);
  const roleOf = (token: string): Role | undefined => {
    const given = digest(token);
    const admin = anyMatches(given, admins);
    const viewer = anyMatches(given, viewers);
    return admin ? 'admin' : viewer ? 'viewer' : undefined;
  };
  const csrfFor = (token: string): string => createHmac('sha256', csrfKey).update(token, 'utf8').digest('base64url');
  return {
    enabled,
    roleOf,
    csrfFor,
    csrfMatches(token, given) {
      if (given === undefined) return false;
      return timingSafeEqual(digest(csrfFor(token)), digest(given));
    },
    identify(req) {
      if (!enabled) return { role: 'admin', via: 'open' };
      const header = req.get('Authorization');
      if (header !== undefined) {
        const match = /^Bearer\s+(\S+)\s*$/iu.exec(header);
        if (!match) return undefined;
        const role = roleOf(match[1]!);
        return role && { role, via: 'header', token: match[1]! };
      }
      const cookie = cookieValue(req, SESSION_COOKIE);
      if (cookie === undefined || cookie === '') return undefined;
      const role = roleOf(cookie);
      return role && { role, via: 'cookie', token: cookie };
    },
  };
}

/** Whether `role` may call a route open to `access`. */
export function allows(role: Role, access: Role): boolean {
  return access === 'viewer' || role === 'admin';
}
