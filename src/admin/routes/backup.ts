// Configuration backup and restore (SuperAdmins only). The archive is a zip; the passphrase
// that wraps the master key into it travels in a header, never in the URL (URLs end up in
// proxy and access logs).
import { Type } from 'typebox';
import type { AdminContext } from '../context.ts';
import { actorOf, RESTORE_SUMMARY_SCHEMA } from '../context.ts';
import { ApiError } from '../errors.ts';
import type { AdminApp } from '../server.ts';

export const BACKUP_PASSPHRASE_HEADER = 'x-ferry-backup-passphrase';
/** A restore body may be this large (the rest of the API keeps its 1 MiB limit). */
export const MAX_RESTORE_BYTES = 64 * 1024 * 1024;

export function backupRoutes(app: AdminApp, ctx: AdminContext): void {
  // Only the restore route accepts zip bodies: every other route's schema refuses a Buffer.
  app.addContentTypeParser('application/zip', { parseAs: 'buffer', bodyLimit: MAX_RESTORE_BYTES }, (_request, body, done) => done(null, body));
  app.get(
    '/api/v1/sa/backup',
    {
      config: { access: 'sa' },
      schema: {
        summary: 'The full configuration as a zip archive (manifest.json + config.json; secrets stay sealed)',
        description: `Send a passphrase (at least 10 characters) in the \`X-Ferry-Backup-Passphrase\` header to wrap the master key into the archive, so it can be restored on another machine with that passphrase; without one, restoring elsewhere needs this node's secret.key.`,
        tags: ['sa'],
        headers: Type.Object({ [BACKUP_PASSPHRASE_HEADER]: Type.Optional(Type.String({ minLength: 10, maxLength: 1024 })) }),
      },
    },
    async (request, reply) => {
      const passphrase = request.headers[BACKUP_PASSPHRASE_HEADER];
      const archive = await ctx.backup(typeof passphrase === 'string' ? passphrase : undefined);
      const name = `ferry-backup-${new Date(ctx.now()).toISOString().replace(/[:.]/g, '-')}.zip`;
      ctx.logger.info({ actor: actorOf(request.principal!), bytes: archive.byteLength, passphrase: passphrase !== undefined }, 'configuration backup taken');
      return reply.type('application/zip').header('content-disposition', `attachment; filename="${name}"`).send(archive);
    },
  );
  app.post(
    '/api/v1/sa/restore',
    {
      config: { access: 'sa' },
      bodyLimit: MAX_RESTORE_BYTES,
      schema: {
        summary: 'Replaces the configuration with a backup of this node (or of a node with the same master key)',
        description: 'Body: the archive from GET /api/v1/sa/backup, Content-Type: application/zip. Validated completely before anything is replaced; a backup from another node is restored on a fresh data directory with `ferry restore -f FILE --data DIR`.',
        tags: ['sa'],
        response: { 200: RESTORE_SUMMARY_SCHEMA },
      },
    },
    async (request) => {
      if (!Buffer.isBuffer(request.body)) throw new ApiError('unsupported_media_type', 'send the backup archive with Content-Type: application/zip');
      return ctx.restore(request.body, actorOf(request.principal!));
    },
  );
}
