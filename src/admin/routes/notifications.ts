// Notifications to SuperAdmins: listed (paged, oldest first) and acknowledged by deleting them.
import { Type } from 'typebox';
import { NOTIFICATION_SCHEMA } from '../../config/model/notification.ts';
import type { AdminContext } from '../context.ts';
import { actorOf } from '../context.ts';
import { notFound } from '../errors.ts';
import { proposeOrThrow } from '../propose.ts';
import type { AdminApp } from '../server.ts';
import { page, PAGE_QUERY, pageOf } from './paging.ts';

const key = (id: number | string) => String(id).padStart(16, '0');

export function notificationRoutes(app: AdminApp, ctx: AdminContext): void {
  app.get(
    '/api/v1/sa/notifications',
    { config: { access: 'sa' }, schema: { summary: 'Notifications to SuperAdmins (site restarted, certificate expiring, ...), oldest first; the newest 10,000 are kept', tags: ['sa'], querystring: PAGE_QUERY, response: { 200: page(NOTIFICATION_SCHEMA) } } },
    async (request) => pageOf(ctx.config().notifications(), (n) => key(n.id), request.query, key),
  );
  app.delete(
    '/api/v1/sa/notifications',
    { config: { access: 'sa' }, schema: { summary: 'Acknowledges (deletes) every notification', tags: ['sa'], response: { 200: Type.Object({ deleted: Type.Integer() }) } } },
    async (request) => {
      const deleted = ctx.config().notifications().length;
      await proposeOrThrow(ctx, { type: 'notifications.clear' }, actorOf(request.principal!));
      return { deleted };
    },
  );
  app.delete(
    '/api/v1/sa/notifications/:id',
    { config: { access: 'sa' }, schema: { summary: 'Acknowledges (deletes) one notification', tags: ['sa'], params: Type.Object({ id: NOTIFICATION_SCHEMA.properties.id }), response: { 200: Type.Object({ deleted: Type.Integer() }) } } },
    async (request) => {
      const id = request.params.id;
      if (!ctx.config().notifications().some((n) => n.id === id)) throw notFound(`notification ${id}`);
      await proposeOrThrow(ctx, { type: 'notification.delete', notificationId: id }, actorOf(request.principal!));
      return { deleted: 1 };
    },
  );
}
