// Prometheus metrics on the admin listener: text format, no token (scrapers do not log in), but
// only for the addresses and networks of `metricsAllowList`; everyone else gets 403.
import ipaddr from 'ipaddr.js';
import { DEFAULT_METRICS_ALLOW_LIST } from '../../config/model/settings.ts';
import type { AdminContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import type { AdminApp } from '../server.ts';

function normalized(address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (!ipaddr.isValid(address)) return undefined;
  const parsed = ipaddr.parse(address);
  // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; match them as IPv4.
  return parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress() ? (parsed as ipaddr.IPv6).toIPv4Address() : parsed;
}

export function allowedByList(address: string, list: readonly string[]): boolean {
  const client = normalized(address);
  if (client === undefined) return false;
  return list.some((entry) => {
    try {
      const [network, bits] = entry.includes('/') ? ipaddr.parseCIDR(entry) : [ipaddr.parse(entry), ipaddr.parse(entry).kind() === 'ipv4' ? 32 : 128];
      const net = network.kind() === 'ipv6' && (network as ipaddr.IPv6).isIPv4MappedAddress() ? (network as ipaddr.IPv6).toIPv4Address() : network;
      return net.kind() === client.kind() && client.match(net, net.kind() === network.kind() ? bits : bits - 96);
    } catch {
      return false; // a malformed entry allows nobody
    }
  });
}

export function metricsRoutes(app: AdminApp, ctx: AdminContext): void {
  // Not in the OpenAPI document: a Prometheus scrape target, gated by address rather than token.
  app.get('/metrics', { config: { access: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const list = ctx.config().settings.metricsAllowList ?? DEFAULT_METRICS_ALLOW_LIST;
    const address = request.socket.remoteAddress ?? '';
    if (!allowedByList(address, list)) throw new ApiError('forbidden', `${address} is not in metricsAllowList; a SuperAdmin adds it with PATCH /api/v1/sa/globalconfig`);
    const metrics = await ctx.metrics();
    return reply.type(metrics.contentType).send(metrics.text);
  });
}
