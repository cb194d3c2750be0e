// Virtual sites (SuperAdmins only). A site's bindings, algorithms and greeting are written with
// site.put; the reconciler then rebinds what changed on every node, and sessions on an unchanged
// binding keep running. Host keys are made by the node when a site is created and never leave
// it: answers carry only their public halves.
import { Type } from 'typebox';
import type { Static } from 'typebox';
import { defaultSite } from '../../config/initial.ts';
import type { Site } from '../../config/model/site.ts';
import { FTP_BINDING_SHAPE, ID, LIMITS, SITE_SHAPE, SSH_BINDING_SHAPE } from '../../config/shapes.ts';
import type { AdminContext } from '../context.ts';
import { actorOf } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { proposeOrThrow } from '../propose.ts';
import type { AdminApp } from '../server.ts';
import { page, PAGE_QUERY, pageOf } from './paging.ts';

const FIELDS = SITE_SHAPE.properties;

const PUBLIC_HOST_KEY = Type.Object({ algorithm: FIELDS.hostKeys.items.properties.algorithm, publicKey: FIELDS.hostKeys.items.properties.publicKey });

/** A site as answered: everything but the sealed private host keys. */
export const SITE_OUT = Type.Object({
  ...FIELDS,
  // The serializer cannot merge the per-protocol if/then shapes: answers name the common
  // fields and pass a protocol's own ones through (bodies are still checked by the full shape).
  bindings: Type.Array(Type.Object({ protocol: Type.String(), host: Type.String(), port: Type.Integer() }, { additionalProperties: true, description: 'ssh, ftp or ftps binding (see the site.put shape)' })),
  hostKeys: Type.Array(PUBLIC_HOST_KEY, { description: 'public host keys (the private halves never leave the node)' }),
});

/**
 * Bindings in a body: OpenAPI 3.0 has no if/then, so the document gets anyOf of the protocols'
 * shapes (each strict); the command's own check then names the field of a wrong one.
 */
const BINDINGS_BODY = Type.Array(Type.Union([SSH_BINDING_SHAPE, FTP_BINDING_SHAPE]), { maxItems: LIMITS.bindings });

/** What a write may set: everything but the host keys, which the node makes. */
const WRITABLE = {
  name: FIELDS.name,
  enabled: FIELDS.enabled,
  bindings: BINDINGS_BODY,
  sshAlgorithms: FIELDS.sshAlgorithms,
  greeting: FIELDS.greeting,
  banner: FIELDS.banner,
  uploadMode: FIELDS.uploadMode,
  admission: FIELDS.admission,
};
const optional = Object.fromEntries(Object.entries(WRITABLE).map(([key, schema]) => [key, Type.Optional(schema)])) as { [K in keyof typeof WRITABLE]: ReturnType<typeof Type.Optional<(typeof WRITABLE)[K]>> };

const CREATE_BODY = Type.Object({ id: ID, ...optional }, { additionalProperties: false, description: 'a new site: omitted fields take the secure defaults, bindings default to none; host keys are generated' });
const PUT_BODY = Type.Object(
  {
    id: Type.Optional(ID),
    name: WRITABLE.name,
    enabled: WRITABLE.enabled,
    bindings: WRITABLE.bindings,
    sshAlgorithms: WRITABLE.sshAlgorithms,
    greeting: WRITABLE.greeting,
    banner: WRITABLE.banner,
    uploadMode: optional.uploadMode,
    admission: optional.admission,
  },
  { additionalProperties: false, description: 'the whole site but its host keys (kept); `id`, if given, must be the path\'s' },
);
const PATCH_BODY = Type.Object(optional, { additionalProperties: false, description: 'the fields to change' });
const VSITE = Type.Object({ vsite: ID }, { additionalProperties: false });
const RESTARTED = Type.Object({ id: Type.String(), listeners: Type.Array(Type.String({ description: 'protocol host:port' })) });
const DELETED = Type.Object({ deleted: Type.String() });

export function presentSite(site: Site): Static<typeof SITE_OUT> {
  // The model's types are readonly, the schema's mutable; the shape is the same.
  return { ...site, hostKeys: site.hostKeys.map((key) => ({ algorithm: key.algorithm, publicKey: key.publicKey })) } as unknown as Static<typeof SITE_OUT>;
}

function siteOf(ctx: AdminContext, id: string): Site {
  const site = ctx.config().site(id);
  if (site === undefined) throw notFound(`site '${id}'`);
  return site;
}

export function siteRoutes(app: AdminApp, ctx: AdminContext): void {
  const tags = ['sa'];
  const one = { config: { access: 'sa' as const } };
  const put = async (site: Site, actor: string) => {
    await proposeOrThrow(ctx, { type: 'site.put', site }, actor);
    return presentSite(siteOf(ctx, site.id));
  };

  app.get(
    '/api/v1/sa/vsites',
    { ...one, schema: { summary: 'Virtual sites, by id', tags, querystring: PAGE_QUERY, response: { 200: page(SITE_OUT) } } },
    async (request) => {
      const sorted = [...ctx.config().sites()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      return pageOf(sorted, (site) => site.id, request.query, undefined, presentSite);
    },
  );
  app.post(
    '/api/v1/sa/vsites',
    { ...one, schema: { summary: 'Creates a site with fresh host keys; every node starts its listeners', tags, body: CREATE_BODY, response: { 201: SITE_OUT } } },
    async (request, reply) => {
      const { id, ...fields } = request.body;
      if (ctx.config().site(id) !== undefined) throw new ApiError('conflict', `site '${id}' exists already; change it with PUT or PATCH /api/v1/sa/vsites/${id}`);
      const hostKeys = await ctx.sites.newHostKeys(id);
      const base = defaultSite({ id, host: '0.0.0.0', port: 0, hostKeys });
      const site = { ...base, bindings: [], ...fields } as Site;
      const created = await put(site, actorOf(request.principal!));
      void reply.code(201);
      return created;
    },
  );
  app.get(
    '/api/v1/sa/vsites/:vsite',
    { ...one, schema: { summary: 'One site', tags, params: VSITE, response: { 200: SITE_OUT } } },
    async (request) => presentSite(siteOf(ctx, request.params.vsite)),
  );
  app.put(
    '/api/v1/sa/vsites/:vsite',
    { ...one, schema: { summary: 'Replaces a site (its host keys are kept); changed listeners are rebound', tags, params: VSITE, body: PUT_BODY, response: { 200: SITE_OUT } } },
    async (request) => {
      const current = siteOf(ctx, request.params.vsite);
      const { id, ...fields } = request.body;
      if (id !== undefined && id !== current.id) throw new ApiError('invalid_request', `body.id: must be '${current.id}' (the path's site); a site cannot be renamed`, [{ path: 'body.id', message: `must be '${current.id}'` }]);
      const { uploadMode: _u, admission: _a, ...kept } = current;
      return put({ ...kept, ...fields, id: current.id, hostKeys: current.hostKeys } as Site, actorOf(request.principal!));
    },
  );
  app.patch(
    '/api/v1/sa/vsites/:vsite',
    { ...one, schema: { summary: 'Changes the given fields of a site; changed listeners are rebound', tags, params: VSITE, body: PATCH_BODY, response: { 200: SITE_OUT } } },
    async (request) => {
      const current = siteOf(ctx, request.params.vsite);
      return put({ ...current, ...request.body } as Site, actorOf(request.principal!));
    },
  );
  app.delete(
    '/api/v1/sa/vsites/:vsite',
    { ...one, schema: { summary: 'Removes a site (refused while users or profiles use it); its listeners stop', tags, params: VSITE, response: { 200: DELETED } } },
    async (request) => {
      const current = siteOf(ctx, request.params.vsite);
      await proposeOrThrow(ctx, { type: 'site.delete', siteId: current.id }, actorOf(request.principal!));
      return { deleted: current.id };
    },
  );
  app.post(
    '/api/v1/sa/vsites/:vsite/restart',
    { ...one, schema: { summary: "Closes and reopens this node's listeners of the site with its current bindings, algorithms and keys; other sites' sessions are not touched", tags, params: VSITE, response: { 200: RESTARTED } } },
    async (request) => {
      const current = siteOf(ctx, request.params.vsite);
      ctx.logger.info({ siteId: current.id, actor: actorOf(request.principal!) }, 'site restart requested');
      return { id: current.id, listeners: await ctx.sites.restart(current.id) };
    },
  );
  // An Admin's view of a site they manage (the gate refuses other sites with 403).
  app.get(
    '/api/v1/adm/vsites/:vsite',
    { config: { access: 'adm' }, schema: { summary: 'A site this Admin manages', tags: ['adm'], params: VSITE, response: { 200: SITE_OUT } } },
    async (request) => presentSite(siteOf(ctx, request.params.vsite)),
  );
  for (const [verb, enabled] of [['stop', false], ['start', true]] as const) {
    app.post(
      `/api/v1/sa/vsites/:vsite/${verb}`,
      {
        ...one,
        schema: {
          summary: enabled ? 'Sets enabled: true; every node opens the site\'s listeners' : 'Sets enabled: false (lasting, on every node); the site\'s listeners close',
          tags,
          params: VSITE,
          response: { 200: SITE_OUT },
        },
      },
      async (request) => {
        const current = siteOf(ctx, request.params.vsite);
        return put({ ...current, enabled }, actorOf(request.principal!));
      },
    );
  }
}
