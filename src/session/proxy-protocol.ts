// The PROXY protocol header a load balancer sends before the client's bytes, so that Ferry (and
// its Protector) sees the client's address rather than the balancer's. Both versions of the
// HAProxy specification (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt):
//  - v1, text: "PROXY TCP4|TCP6|UNKNOWN <src> <dst> <sport> <dport>\r\n", at most 107 bytes;
//  - v2, binary: the 12-byte signature, version/command, family/transport, a 16-bit length, the
//    addresses, then TLVs (read past, not interpreted).
// A bounded, incremental parser: it answers `incomplete` until a whole header is there, never
// buffers more than MAX_HEADER bytes, and refuses anything malformed. Who may send a header at
// all is the listener's decision (only trusted sources).
import net from 'node:net';

export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V1_MAX = 107;
/** v2 allows 64 KiB of TLVs; balancers send a few dozen bytes (AWS: the VPC endpoint id). */
export const MAX_HEADER = 16 + 1024;

export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

export type ProxyHeader =
  /** The balancer relays a client: these are the client's and the original destination's. */
  | { readonly command: 'proxy'; readonly source: ProxyEndpoint; readonly destination: ProxyEndpoint }
  /**
   * The balancer speaks for itself (v2 LOCAL: its health checks) or does not know the client
   * (v1 UNKNOWN, v2 UNSPEC or a non-IP family): the connection's own address stands.
   */
  | { readonly command: 'local' };

export type ProxyParse =
  | { readonly status: 'incomplete' }
  | { readonly status: 'invalid'; readonly reason: string }
  | { readonly status: 'ok'; readonly header: ProxyHeader; readonly length: number };

const INCOMPLETE: ProxyParse = { status: 'incomplete' };

function invalid(reason: string): ProxyParse {
  return { status: 'invalid', reason };
}

/** Whether `data` can still become `prefix` (or starts with it). */
function couldBe(data: Buffer, prefix: Buffer): boolean {
  const n = Math.min(data.length, prefix.length);
  return data.subarray(0, n).equals(prefix.subarray(0, n));
}

const PORT = /^(0|[1-9]\d{0,4})$/;

function parseV1(data: Buffer): ProxyParse {
  const end = data.indexOf('\r\n', 0, 'latin1');
  if (end < 0) return data.length >= V1_MAX ? invalid('v1 header longer than 107 bytes') : INCOMPLETE;
  if (end + 2 > V1_MAX) return invalid('v1 header longer than 107 bytes');
  const fields = data.subarray(0, end).toString('latin1').split(' ');
  const length = end + 2;
  if (fields[1] === 'UNKNOWN') return { status: 'ok', header: { command: 'local' }, length };
  if (fields.length !== 6) return invalid('v1 header must be PROXY TCP4|TCP6 <src> <dst> <sport> <dport>');
  const [, family, src, dst, sport, dport] = fields as [string, string, string, string, string, string];
  const version = family === 'TCP4' ? 4 : family === 'TCP6' ? 6 : 0;
  if (version === 0) return invalid(`v1 header with unknown protocol ${JSON.stringify(family.slice(0, 16))}`);
  if (net.isIP(src) !== version || net.isIP(dst) !== version) return invalid(`v1 header addresses are not ${family}`);
  if (!PORT.test(sport) || !PORT.test(dport) || Number(sport) > 65535 || Number(dport) > 65535) return invalid('v1 header ports must be 0-65535');
  return { status: 'ok', header: { command: 'proxy', source: { address: src, port: Number(sport) }, destination: { address: dst, port: Number(dport) } }, length };
}

function v6Text(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Node's own formatting gives the canonical short form.
  return new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

function parseV2(data: Buffer): ProxyParse {
  if (data.length < 16) return INCOMPLETE;
  const versionCommand = data[12] as number;
  if (versionCommand >> 4 !== 2) return invalid(`v2 header with version ${versionCommand >> 4}`);
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid(`v2 header with unknown command ${command}`);
  const familyTransport = data[13] as number;
  const bodyLength = data.readUInt16BE(14);
  const length = 16 + bodyLength;
  if (length > MAX_HEADER) return invalid(`v2 header of ${length} bytes is longer than ${MAX_HEADER}`);
  if (data.length < length) return INCOMPLETE;
  const body = data.subarray(16, length);
  if (command === 0) return { status: 'ok', header: { command: 'local' }, length };
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  // UNSPEC, UNIX sockets and datagrams say nothing Ferry could check an address against.
  if ((family !== 1 && family !== 2) || transport !== 1) return { status: 'ok', header: { command: 'local' }, length };
  if (family === 1) {
    if (body.length < 12) return invalid('v2 TCP over IPv4 header shorter than its addresses');
    const ip = (offset: number) => [...body.subarray(offset, offset + 4)].join('.');
    return { status: 'ok', header: { command: 'proxy', source: { address: ip(0), port: body.readUInt16BE(8) }, destination: { address: ip(4), port: body.readUInt16BE(10) } }, length };
  }
  if (body.length < 36) return invalid('v2 TCP over IPv6 header shorter than its addresses');
  return {
    status: 'ok',
    header: { command: 'proxy', source: { address: v6Text(body.subarray(0, 16)), port: body.readUInt16BE(32) }, destination: { address: v6Text(body.subarray(16, 32)), port: body.readUInt16BE(34) } },
    length,
  };
}

/** Parses the header at the start of `data` (everything received so far). */
export function parseProxyHeader(data: Buffer): ProxyParse {
  if (data.length === 0) return INCOMPLETE;
  if (couldBe(data, V2_SIGNATURE) && data[0] === 0x0d) return data.length < V2_SIGNATURE.length ? INCOMPLETE : parseV2(data);
  if (couldBe(data, V1_PREFIX)) return data.length < V1_PREFIX.length ? INCOMPLETE : parseV1(data);
  return invalid('no PROXY protocol header (v1 or v2) where one is required');
}

export type ProxyRead = ProxyParse | { readonly status: 'timeout' } | { readonly status: 'closed' };

/**
 * Reads the header off `socket` and leaves the socket paused with every byte after it unread
 * (unshifted), for the protocol to take. Bounded by MAX_HEADER bytes and `timeoutMs`.
 */
export function readProxyHeader(socket: net.Socket, timeoutMs: number): Promise<Exclude<ProxyRead, { status: 'incomplete' }>> {
  return new Promise((resolve) => {
    let received: Buffer = Buffer.alloc(0);
    const finish = (result: Exclude<ProxyRead, { status: 'incomplete' }>, rest?: Buffer) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (rest !== undefined && rest.length > 0) socket.unshift(rest);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const parsed = parseProxyHeader(received.subarray(0, MAX_HEADER));
      if (parsed.status === 'incomplete') {
        if (received.length >= MAX_HEADER) finish({ status: 'invalid', reason: `no complete header within ${MAX_HEADER} bytes` });
        return;
      }
      if (parsed.status === 'invalid') return finish(parsed);
      finish(parsed, received.subarray(parsed.length));
    };
    const onClose = () => finish({ status: 'closed' });
    const timer = setTimeout(() => finish({ status: 'timeout' }), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}
