/**
 * One table of routes: each route declares its method, path, who may call it and the zod schemas
 * of its parameters, query and body. The same table mounts the routes on express (with
 * authentication, content-type and validation checks) and writes the OpenAPI document, so the two
 * cannot drift. Adding a route is one entry: `adminRoute('post', '/api/x/:id', {...}, handler)`.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Access, Credentials } from './auth.js';

export type Method = 'get' | 'post' | 'delete';

export interface RouteContext<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly req: Request;
  readonly res: Response;
  /** Absent on public and webhook routes. */
  readonly credentials?: Credentials;
}

export interface RouteSpec<P = unknown, Q = unknown, B = unknown> {
  readonly method: Method;
  /** Express path, `:name` for parameters (written `{name}` in the OpenAPI document). */
  readonly path: string;
  readonly access: Access;
  readonly summary: string;
  readonly params?: z.ZodType<P>;
  readonly query?: z.ZodType<Q>;
  /** JSON body; a state-changing route without one still requires `application/json`. */
  readonly body?: z.ZodType<B>;
  /** What a success answers: JSON (the default), HTML, Prometheus text, or a PNG image. */
  readonly produces?: 'json' | 'html' | 'text' | 'png';
  /** Status codes besides the 4xx every route can give (401/403/400/415/429). */
  readonly responses: Readonly<Record<number, string>>;
  /** Skip the rate limit (liveness and readiness probes). */
  readonly unlimited?: boolean;
  handle(context: RouteContext<P, Q, B>): unknown;
}

/** Keeps the schemas' types tied to the handler's arguments. */
export function route<P = Record<string, never>, Q = Record<string, never>, B = undefined>(spec: RouteSpec<P, Q, B>): RouteSpec {
  return spec as unknown as RouteSpec;
}

type Options<P, Q, B> = Omit<RouteSpec<P, Q, B>, 'method' | 'path' | 'access' | 'handle'>;

/** A route only admin tokens may call (reprocess, retry, calibrations). */
export function adminRoute<P = Record<string, never>, Q = Record<string, never>, B = undefined>(
  method: Method,
  path: string,
  options: Options<P, Q, B>,
  handle: RouteSpec<P, Q, B>['handle'],
): RouteSpec {
  return route<P, Q, B>({ ...options, method, path, access: 'admin', handle });
}

/** A read-only route for viewer (and admin) tokens. */
export function viewerRoute<P = Record<string, never>, Q = Record<string, never>>(
  path: string,
  options: Options<P, Q, undefined>,
  handle: RouteSpec<P, Q, undefined>['handle'],
): RouteSpec {
  return route<P, Q, undefined>({ ...options, method: 'get', path, access: 'viewer', handle });
}

/** Whether the route changes state (needs a token, JSON and, on the cookie, a CSRF token). */
export function changesState(spec: RouteSpec): boolean {
  return spec.method !== 'get';
}

/** A zod error as one readable sentence naming each wrong field. */
export function describeIssues(where: string, error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.length > 0 ? `${where} ${issue.path.join('.')}` : where;
      return `${field}: ${issue.message}`;
    })
    .join('; ');
}

const openApiPath = (path: string): string => path.replace(/:([A-Za-z_]+)/gu, '{$1}');

function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

function parametersOf(schema: z.ZodType | undefined, location: 'path' | 'query'): unknown[] {
  if (schema === undefined) return [];
  const object = jsonSchema(schema) as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || (object.required ?? []).includes(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: property,
  }));
}

const CONTENT: Record<NonNullable<RouteSpec['produces']>, string> = {
  json: 'application/json',
  html: 'text/html',
  text: 'text/plain',
  png: 'image/png',
};

/** The OpenAPI 3.1 document of a route table. */
export function openApiDocument(routes: readonly RouteSpec[], info: { title: string; version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of routes) {
    const responses: Record<string, unknown> = {};
    for (const [status, description] of Object.entries(spec.responses)) {
      responses[status] = Number(status) < 300 ? { description, content: { [CONTENT[spec.produces ?? 'json']]: {} } } : { description };
    }
    responses['400'] ??= { description: 'a parameter, query or body is invalid (the answer names it)' };
    responses['429'] ??= { description: 'too many requests from this address' };
    if (spec.access !== 'public') responses['401'] ??= { description: spec.access === 'webhook' ? 'wrong or missing X-Pulse-Secret' : 'no valid token' };
    if (spec.access === 'admin') responses['403'] ??= { description: 'the token is not an admin token' };
    if (changesState(spec)) responses['415'] ??= { description: 'the body is not application/json' };
    const operation: Record<string, unknown> = {
      summary: spec.summary,
      operationId: `${spec.method}${spec.path.replace(/[^A-Za-z0-9]+(.)?/gu, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      parameters: [...parametersOf(spec.params, 'path'), ...parametersOf(spec.query, 'query')],
      responses,
      security:
        spec.access === 'public' ? [] : spec.access === 'webhook' ? [{ webhookSecret: [] }] : [{ bearer: [] }, { session: [] }],
      'x-pulse-role': spec.access,
    };
    if (spec.body !== undefined || changesState(spec)) {
      operation.requestBody = {
        required: spec.body !== undefined,
        content: { 'application/json': { schema: spec.body ? jsonSchema(spec.body) : { type: 'object' } } },
      };
    }
    (paths[openApiPath(spec.path)] ??= {})[spec.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { ...info, description: 'The HTTP face of PULSE for Orthanc. Answers carry job ids, study UIDs and results, never patient data.' },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'viewer or admin token (server.auth)' },
        session: { type: 'apiKey', in: 'cookie', name: 'pulse_session', description: 'the dashboard session; state-changing requests also need X-CSRF-Token' },
        webhookSecret: { type: 'apiKey', in: 'header', name: 'X-Pulse-Secret' },
      },
    },
  };
}
