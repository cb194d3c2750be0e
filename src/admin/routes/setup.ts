// The setup step of a new node: with the one-time code printed on its console (or by `ferry
// genssc`), create the first SuperAdmin and say whether this node starts a new cluster or joins
// another. Refused for good once a SuperAdmin exists.
import { Type } from 'typebox';
import { hashPassword } from '../../auth/passwords.ts';
import { ADMIN_NAME } from '../../config/model/admin.ts';
import { str } from '../../config/schema.ts';
import type { AdminContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { proposeOrThrow } from '../propose.ts';
import type { AdminApp } from '../server.ts';
import { passwordProblem } from './passwords.ts';

const SETUP_BODY = Type.Object(
  {
    code: str({ min: 1, max: 32, line: true, description: 'the one-time setup code the node printed (or `ferry genssc`)' }),
    superadmin: Type.Object({ name: ADMIN_NAME, password: str({ min: 1, max: 1024, line: true }) }, { additionalProperties: false }),
    cluster: Type.Union(
      [
        Type.Object({ mode: Type.Literal('new') }, { additionalProperties: false }),
        Type.Object(
          {
            mode: Type.Literal('join'),
            member: str({ min: 3, max: 300, line: true, pattern: /^[A-Za-z0-9.:[\]-]+:[0-9]{1,5}$/, hint: 'must be HOST:PORT of a member\'s cluster port' }),
            token: str({ min: 1, max: 4096, line: true }),
          },
          { additionalProperties: false },
        ),
      ],
      { description: '"new": this node founds a cluster (of one, for now); "join": it joins the member at HOST:PORT with a join token' },
    ),
  },
  { additionalProperties: false },
);

export function setupRoutes(app: AdminApp, ctx: AdminContext): void {
  app.post(
    '/api/v1/setup',
    {
      config: { access: 'public' },
      schema: {
        summary: 'First start: create the first SuperAdmin with the one-time setup code',
        tags: ['setup'],
        security: [],
        body: SETUP_BODY,
        response: { 201: Type.Object({ superadmin: Type.String(), cluster: Type.String() }) },
      },
    },
    async (request, reply) => {
      if (ctx.config().superAdmins().length > 0) throw new ApiError('gone', 'this node is set up already; log in at GET /api/v1/sa/login');
      const { code, superadmin, cluster } = request.body;
      // A refusable body does not spend the code: the admin fixes the password and tries again.
      const problem = passwordProblem(superadmin.password, superadmin.name);
      if (problem) throw new ApiError('invalid_request', `body.superadmin.password: ${problem}`, [{ path: 'body.superadmin.password', message: problem }]);
      if (cluster.mode === 'join') {
        throw new ApiError('conflict', `joining from the setup step is not available yet: start this node with \`ferry start --join ${cluster.member} --token TOKEN\` instead`);
      }
      const redeemed = ctx.setup.redeem(code);
      if (redeemed !== 'ok') {
        ctx.logger.warn({ ip: request.ip, outcome: redeemed }, 'setup refused');
        const why = redeemed === 'wrong' ? 'the setup code is wrong' : 'there is no valid setup code (it expired or was used)';
        throw new ApiError('unauthorized', `${why}; run \`ferry genssc\` on the node for a new one (valid 5 minutes)`);
      }
      const passwordHash = await hashPassword(superadmin.password);
      await proposeOrThrow(ctx, { type: 'superadmin.put', superAdmin: { name: superadmin.name, passwordHash, enabled: true, description: 'created by the setup step' } }, 'setup');
      ctx.logger.info({ name: superadmin.name, ip: request.ip }, 'setup: first SuperAdmin created');
      void reply.code(201);
      return { superadmin: superadmin.name, cluster: cluster.mode };
    },
  );
}
