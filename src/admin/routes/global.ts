// Global settings, node status and the audit trail (SuperAdmins only).
import { AUDIT_ENTRY_SCHEMA } from '../../config/model/admin.ts';
import { DEFAULT_JWT_LIFESPAN_MINUTES, DEFAULT_METRICS_ALLOW_LIST } from '../../config/model/settings.ts';
import { SETTINGS_PATCH_SHAPE, SETTINGS_SHAPE } from '../../config/shapes.ts';
import type { AdminContext } from '../context.ts';
import { actorOf, NODE_STATUS_SCHEMA } from '../context.ts';
import { proposeOrThrow } from '../propose.ts';
import type { AdminApp } from '../server.ts';
import { page, PAGE_QUERY, pageOf } from './paging.ts';

function settings(ctx: AdminContext) {
  const current = ctx.config().settings;
  return { ...current, jwtLifeSpan: current.jwtLifeSpan ?? DEFAULT_JWT_LIFESPAN_MINUTES, metricsAllowList: [...(current.metricsAllowList ?? DEFAULT_METRICS_ALLOW_LIST)] };
}


export function globalRoutes(app: AdminApp, ctx: AdminContext): void {
  app.get('/api/v1/sa/globalconfig', { config: { access: 'sa' }, schema: { summary: 'Global settings', tags: ['sa'], response: { 200: SETTINGS_SHAPE } } }, async () => settings(ctx));
  app.patch(
    '/api/v1/sa/globalconfig',
    { config: { access: 'sa' }, schema: { summary: 'Changes the given global settings', tags: ['sa'], body: SETTINGS_PATCH_SHAPE, response: { 200: SETTINGS_SHAPE } } },
    async (request) => {
      await proposeOrThrow(ctx, { type: 'settings.update', settings: request.body }, actorOf(request.principal!));
      return settings(ctx);
    },
  );
  app.get('/api/v1/sa/status', { config: { access: 'sa' }, schema: { summary: 'Version, uptime, sites and their listeners, config log index', tags: ['sa'], response: { 200: NODE_STATUS_SCHEMA } } }, async () => ctx.status());
  app.get(
    '/api/v1/sa/audit',
    { config: { access: 'sa' }, schema: { summary: 'Config writes: who, when, what (secrets never appear), oldest first', tags: ['sa'], querystring: PAGE_QUERY, response: { 200: page(AUDIT_ENTRY_SCHEMA) } } },
    async (request) => pageOf(ctx.config().audit(), (entry) => String(entry.index).padStart(16, '0'), request.query, (key) => key.padStart(16, '0')),
  );
}
