// Every write of the API is one config command, answered only once applied on this node.
import type { CommandBody } from '../config/commands.ts';
import type { AdminContext } from './context.ts';
import { ApiError } from './errors.ts';

/** Proposes `body` as `actor`; the log index it applied at, or the ApiError that says why not. */
export async function proposeOrThrow(ctx: AdminContext, body: CommandBody, actor: string): Promise<number> {
  const outcome = await ctx.propose(body, actor);
  if (outcome.ok) return outcome.index;
  if (outcome.kind === 'unavailable') throw new ApiError('no_quorum', outcome.message);
  const first = outcome.errors[0];
  const message = first ? `${first.path || '(change)'}: ${first.message}` : 'the change was refused';
  throw new ApiError(outcome.kind === 'invalid' ? 'invalid_request' : 'conflict', message, outcome.errors);
}
