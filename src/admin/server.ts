// The admin REST API: fastify over HTTPS (TLS 1.2+), JSON in and out, every body checked by
// the config's own schemas, every route closed unless it says otherwise. Routes live in
// routes/; this file owns what they all share: TLS, parsing limits, the error shape, the
// OpenAPI document and the authentication gate.
import { Ajv } from 'ajv';
import type { ErrorObject } from 'ajv';
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import fastifyJwt from '@fastify/jwt';
import fastifySwagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AJV_OPTIONS, explain } from '../config/schema.ts';
import type { Logger } from '../logging/app-log.ts';
import { authenticate, authRoutes } from './auth.ts';
import type { AdminContext } from './context.ts';
import { ApiError } from './errors.ts';
import { backupRoutes } from './routes/backup.ts';
import { globalRoutes } from './routes/global.ts';
import { adminRoutes } from './routes/admins.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { notificationRoutes } from './routes/notifications.ts';
import { setupRoutes } from './routes/setup.ts';
import { siteRoutes } from './routes/sites.ts';

export type AdminApp = FastifyInstance<HttpsServer, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

/** Who may call a route: nobody but the listed role (a SuperAdmin may call every `adm` route). */
export type RouteAccess = 'public' | 'sa' | 'adm';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Required on every route; a route without it is refused to everyone (fail closed). */
    access?: RouteAccess;
  }
}

/** Bodies above this are refused before parsing (a backup restore has its own, larger limit). */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface AdminServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: { readonly cert: string; readonly key: string };
  /** Signs the API tokens; the same on every node of a cluster (derived from the master key). */
  readonly jwtKey: Buffer;
  readonly logger: Logger;
  /** Extra routes (later issues: Protector lists, shares ...), registered like the built-in ones. */
  readonly routes?: readonly ((app: AdminApp, ctx: AdminContext) => void)[];
}

export interface AdminServer {
  readonly app: AdminApp;
  readonly address: { readonly host: string; readonly port: number };
  close(): Promise<void>;
}

// Path parameters and query strings arrive as text: they get their own Ajv that coerces
// `?limit=10` to a number; bodies are validated strictly, exactly like config commands.
const bodyAjv = new Ajv({ ...AJV_OPTIONS, keywords: ['x-hint', 'x-kinds'] });
const textAjv = new Ajv({ ...AJV_OPTIONS, coerceTypes: true, keywords: ['x-hint', 'x-kinds'] });

function validationError(errors: readonly ErrorObject[], part: string): ApiError {
  const explained = explain(errors, part);
  const first = explained[0];
  return new ApiError('invalid_request', first ? `${first.path || part}: ${first.message}` : `the ${part} is not valid`, explained);
}

function errorCodeOf(error: FastifyError): ApiError {
  if (error instanceof ApiError) return error;
  if (error.validation) return validationError(error.validation as ErrorObject[], error.validationContext ?? 'body');
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('payload_too_large', `the body is larger than ${MAX_BODY_BYTES} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('unsupported_media_type', 'send JSON with Content-Type: application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('invalid_request', 'the body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_TYPE':
      return new ApiError('invalid_request', `the body is not valid JSON: ${error.message}`);
    default:
      break;
  }
  if (error instanceof SyntaxError || error.statusCode === 400) return new ApiError('invalid_request', `the body is not valid JSON: ${error.message}`);
  if (error.statusCode === 413) return new ApiError('payload_too_large', error.message);
  if (error.statusCode === 415) return new ApiError('unsupported_media_type', 'send JSON with Content-Type: application/json');
  return new ApiError('internal', 'the node failed to answer; the node log has the details');
}

export async function startAdminServer(ctx: AdminContext, options: AdminServerOptions): Promise<AdminServer> {
  const app = Fastify({
    https: { cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' },
    bodyLimit: MAX_BODY_BYTES,
    // The app log records what matters (logins, changes); fastify's per-request lines would
    // bury it. Errors are logged by the handler below.
    logger: false,
    // Abusive clients cannot hold sockets open forever or send endless headers.
    connectionTimeout: 60_000,
    requestTimeout: 120_000,
    keepAliveTimeout: 10_000,
    routerOptions: { maxParamLength: 256 },
    return503OnClosing: true,
    // `__proto__` and `constructor.prototype` in JSON are refused, not merged.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    ajv: { customOptions: AJV_OPTIONS },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as AdminApp;

  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema));
  app.setSchemaErrorFormatter((errors, dataVar) => validationError(errors as ErrorObject[], dataVar));

  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const api = errorCodeOf(error);
    if (api.code === 'internal') options.logger.error({ err: error, method: request.method, url: request.url }, 'admin API request failed');
    void reply.code(api.status).type('application/json').send(api.body());
  });
  app.setNotFoundHandler((request, reply) => {
    const api = new ApiError('not_found', `no route ${request.method} ${request.url.split('?')[0]}; GET /api/v1/openapi.json lists them`);
    void reply.code(api.status).send(api.body());
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Ferry admin API', version: '1', description: 'SuperAdmin (/api/v1/sa) and Admin (/api/v1/adm) REST API of a Ferry node. Log in with HTTP Basic at GET /api/v1/sa/login or /api/v1/adm/login and send the token as `Authorization: Bearer <token>`.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, basic: { type: 'http', scheme: 'basic' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(fastifyJwt, { secret: options.jwtKey, sign: { algorithm: 'HS256' }, verify: { algorithms: ['HS256'] } });

  // The gate: every request passes here before its handler. A route without `access` is
  // refused to everyone, so forgetting to declare one fails closed.
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.url === undefined) return; // 404: nothing to protect
    const access = request.routeOptions.config.access;
    if (access === 'public') return;
    if (access === undefined) throw new ApiError('forbidden', 'this route declares no access rule and is closed');
    request.principal = await authenticate(app, ctx, request, access);
  });

  app.get('/api/v1/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, async () => app.swagger());
  authRoutes(app, ctx);
  setupRoutes(app, ctx);
  globalRoutes(app, ctx);
  backupRoutes(app, ctx);
  siteRoutes(app, ctx);
  adminRoutes(app, ctx);
  metricsRoutes(app, ctx);
  notificationRoutes(app, ctx);
  for (const routes of options.routes ?? []) routes(app, ctx);

  await app.listen({ host: options.host, port: options.port });
  const bound = app.server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : options.port;
  return {
    app,
    address: { host: options.host, port },
    close: () => app.close(),
  };
}
