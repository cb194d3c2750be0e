// The `ferry` command line: parses arguments and calls the node (start) or the running node's
// control socket (everything else). No logic lives here.
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { callNode, NodeNotRunningError } from '../node/control-client.ts';
import { keyFileRefusal } from '../node/user-operations.ts';
import { SOFTWARE } from '../node/version.ts';
import { ferryCommandLine } from './invocation.ts';
import { COMMANDS, commandUsage, isCommandName, overviewUsage } from './usage.ts';
import type { CommandName, CommandSpec } from './usage.ts';

type Values = { readonly [option: string]: string | boolean | undefined };

function fail(message: string): never {
  process.stderr.write(`ferry: ${message}\n`);
  process.exit(2);
}

/** A wrong command line: the message, then the command's usage, on stderr. */
class UsageError extends Error {}

/**
 * Parses a command's options from its spec. `--help` anywhere prints the command's usage and
 * exits 0 before anything else happens (a node is never started by `ferry start --help`).
 */
function parseCommand(name: CommandName, args: string[]): Values {
  const spec: CommandSpec = COMMANDS[name];
  const options = Object.fromEntries(
    Object.entries(spec.options).map(([option, o]) => [option, { type: o.type, ...((o as { short?: string }).short === undefined ? {} : { short: (o as { short: string }).short }) }]),
  );
  let values: Values;
  try {
    ({ values } = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true }));
  } catch (error) {
    if (args.includes('--help') || args.includes('-h')) values = { help: true };
    else throw new UsageError((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(commandUsage(name));
    process.exit(0);
  }
  const missing = Object.entries(spec.options).filter(([option, o]) => o.required && values[option] === undefined);
  if (missing.length > 0) {
    throw new UsageError(`${name} needs ${missing.map(([option, o]) => `--${option} ${o.arg ?? ''}`.trim()).join(', ')}`);
  }
  return values;
}

function stringValue(values: Values, option: string): string {
  return values[option] as string;
}

function dataDir(values: Values): string {
  return path.resolve((values.data as string | undefined) ?? 'data');
}

function portOption(values: Values, option: string): number | undefined {
  if (values[option] === undefined) return undefined;
  const port = Number(values[option]);
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new UsageError(`--${option} must be a port number 0-65535, got "${String(values[option])}"`);
  return port;
}

/** --pasv-ports A-B: the passive data port range, 1024-65535, A <= B. */
function pasvOption(values: Values): { min: number; max: number } | undefined {
  const text = values['pasv-ports'];
  if (text === undefined) return undefined;
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(String(text));
  const [min, max] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!(min >= 1024 && max <= 65535 && min <= max)) throw new UsageError(`--pasv-ports must be a range A-B of ports 1024-65535 with A <= B, e.g. 50000-50100, got "${String(text)}"`);
  return { min, max };
}

async function commandStart(args: string[]): Promise<void> {
  const values = parseCommand('start', args);
  const port = values['sftp-port'] === undefined ? undefined : Number(values['sftp-port']);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new UsageError(`--sftp-port must be a port number 0-65535, got "${String(values['sftp-port'])}"`);
  }
  const ftpPort = portOption(values, 'ftp-port');
  const ftpsPort = portOption(values, 'ftps-port');
  const pasvPorts = pasvOption(values);
  // Loaded on demand: the other commands only talk to the control socket and start faster.
  const { startNode } = await import('../node/node.ts');
  // Handlers go in before the node starts: a signal that arrives while it starts (right after
  // its first "listening" line, say) is acted on once it has started, never by the default
  // action, which would kill it without closing anything.
  const run: { node?: Awaited<ReturnType<typeof startNode>>; signalled?: string } = {};
  const stop = () => {
    process.stdout.write(`stopping (${run.signalled})\n`);
    run.node!.stop(run.signalled).then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`ferry: error while stopping: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (run.signalled) return;
      run.signalled = signal;
      if (run.node) stop();
    });
  }
  const clusterPort = portOption(values, 'cluster-port');
  const adminPort = portOption(values, 'admin-port');
  if ((values.join === undefined) !== (values.token === undefined)) throw new UsageError('--join and --token go together: --join HOST:PORT --token T');
  if (values['node-id'] !== undefined && values.join === undefined) throw new UsageError('--node-id names a joining node: use it with --join');
  run.node = await startNode({
    dataDir: dataDir(values),
    clusterPort,
    join: values.join === undefined ? undefined : { member: values.join as string, token: values.token as string },
    nodeId: values['node-id'] as string | undefined,
    commandLine: (command, commandArgs) => ferryCommandLine(command, commandArgs, dataDir(values)),
    host: values.host as string | undefined,
    sftpPort: port,
    adminPort,
    adminHost: values['admin-host'] as string | undefined,
    ftpPort,
    ftpsPort,
    pasvPorts,
    out: (line) => process.stdout.write(line + '\n'),
  });
  if (run.signalled) stop();
}

async function commandImportUsers(args: string[]): Promise<void> {
  const values = parseCommand('importusers', args);
  const file = stringValue(values, 'csv');
  const csv = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => fail(`cannot read ${file}: ${error.code ?? error.message}`));
  const result = (await callNode(dataDir(values), 'importUsers', {
    csv,
    siteId: stringValue(values, 'vsite'),
    makeVfs: values.makevfs === true,
    dryRun: values.dryrun === true,
  })) as { lines: string[]; ok: boolean };
  for (const line of result.lines) process.stdout.write(line + '\n');
  if (!result.ok) process.exit(1);
}

async function readSecretLine(prompt: string): Promise<string> {
  const { createInterface } = await import('node:readline');
  const hidden = process.stdin.isTTY === true;
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: hidden });
  if (hidden) {
    process.stdout.write(prompt);
    // Echo nothing while the password is typed.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  }
  const line = await new Promise<string>((resolve) => {
    rl.once('line', resolve);
    rl.once('close', () => resolve(''));
  });
  rl.close();
  if (hidden) process.stdout.write('\n');
  return line;
}

async function printResult(result: unknown): Promise<void> {
  const { ok, lines } = result as { ok: boolean; lines: string[] };
  for (const line of lines) process.stdout.write(line + '\n');
  if (!ok) process.exit(1);
}

async function commandPasswd(args: string[]): Promise<void> {
  const values = parseCommand('passwd', args);
  const username = stringValue(values, 'username');
  const password = await readSecretLine(`New password for ${username}: `);
  if (process.stdin.isTTY && (await readSecretLine('Again: ')) !== password) fail('the two passwords differ; nothing changed');
  if (!password) fail('no password given (type it, or pipe it on standard input)');
  await printResult(await callNode(dataDir(values), 'setPassword', { siteId: stringValue(values, 'vsite'), username, password }));
}

async function commandAddKey(args: string[]): Promise<void> {
  const values = parseCommand('addkey', args);
  const file = stringValue(values, 'key-file');
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => fail(`cannot read ${file}: ${error.code ?? error.message}`));
  const refusal = keyFileRefusal(text);
  if (refusal) {
    const pub = `${file}.pub`;
    process.stdout.write(`${file}: ${refusal}${existsSync(pub) ? ` (${pub})` : ''}\n`);
    process.exit(1);
  }
  const lines = text.split('\n');
  await printResult(
    await callNode(dataDir(values), 'addAuthorizedKeys', { siteId: stringValue(values, 'vsite'), username: stringValue(values, 'username'), lines }),
  );
}

interface StatusView {
  clusterId: string;
  nodeId: string;
  address: string;
  role: string;
  term: number;
  leader: string;
  commit: number;
  applied: number;
  members: { id: string; role: string; address?: string; leader: boolean; self: boolean; match?: number; health: string; clockSkewMs?: number }[];
}

function statusTable(st: StatusView): string[] {
  const lines = [`cluster ${st.clusterId}: this node ${st.nodeId} (${st.role}, term ${st.term}), leader ${st.leader || 'none known'}, commit ${st.commit}, applied ${st.applied}`];
  const rows = st.members.map((m) => [
    m.id + (m.self ? ' (this node)' : ''),
    m.role + (m.leader ? ', leader' : ''),
    m.address ?? '?',
    m.match === undefined ? '-' : String(m.match),
    m.health,
    m.clockSkewMs === undefined ? '-' : `${Math.round(m.clockSkewMs)} ms`,
  ]);
  const header = ['NODE', 'ROLE', 'ADDRESS', 'MATCH', 'HEALTH', 'CLOCK SKEW'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  for (const row of [header, ...rows]) lines.push(row.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ').trimEnd());
  return lines;
}

async function commandCluster(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(commandUsage('cluster'));
    if (sub === undefined) process.exit(2);
    return;
  }
  const positional = rest[0] !== undefined && !rest[0].startsWith('-') ? rest.shift() : undefined;
  const values = parseCommand('cluster', rest);
  const dir = dataDir(values);
  if (sub === 'token') {
    const { token } = (await callNode(dir, 'clusterToken', {})) as { token: string };
    process.stdout.write(`${token}
`);
  } else if (sub === 'status') {
    const st = (await callNode(dir, 'clusterStatus', {})) as StatusView;
    process.stdout.write(values.json === true ? `${JSON.stringify(st, null, 2)}\n` : `${statusTable(st).join('\n')}\n`);
  } else if (sub === 'remove') {
    if (positional === undefined) throw new UsageError('cluster remove needs the NODE-ID to remove');
    await callNode(dir, 'clusterRemove', { nodeId: positional });
    process.stdout.write(`removing ${positional}: the change is proposed; \`ferry cluster status\` shows when it is done\n`);
  } else {
    throw new UsageError(`no cluster command "${sub}"; use token, status or remove`);
  }
}

async function commandSite(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(commandUsage('site'));
    if (sub === undefined) process.exit(2);
    return;
  }
  const positional = rest[0] !== undefined && !rest[0].startsWith('-') ? rest.shift() : undefined;
  const values = parseCommand('site', rest);
  const dir = dataDir(values);
  if (sub === 'list') {
    const sites = (await callNode(dir, 'siteList', {})) as { id: string; name: string; enabled: boolean; listeners: string[] }[];
    if (values.json === true) process.stdout.write(`${JSON.stringify(sites, null, 2)}\n`);
    else {
      const width = Math.max(2, ...sites.map((s) => s.id.length));
      for (const s of sites) process.stdout.write(`${s.id.padEnd(width)}  ${s.enabled ? 'enabled ' : 'disabled'}  ${s.listeners.join(', ') || '(not listening)'}\n`);
    }
    return;
  }
  const id = positional ?? (values.id as string | undefined);
  if (id === undefined) throw new UsageError(`site ${sub} needs the site ID (or --id ID)`);
  if (sub === 'show') {
    const site = (await callNode(dir, 'siteShow', { id })) as { id: string; name: string; enabled: boolean; bindings: { protocol: string; host: string; port: number }[]; listeners: string[]; hostKeys: { algorithm: string; publicKey: string }[] };
    if (values.json === true) process.stdout.write(`${JSON.stringify(site, null, 2)}\n`);
    else {
      const lines = [
        `site ${site.id} (${site.name}): ${site.enabled ? 'enabled' : 'disabled'}`,
        `  bindings: ${site.bindings.map((b) => `${b.protocol} ${b.host}:${b.port}`).join(', ') || 'none'}`,
        `  listening: ${site.listeners.join(', ') || 'no'}`,
        ...site.hostKeys.map((k) => `  host key: ${k.publicKey}`),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return;
  }
  if (sub === 'restart') {
    const { listeners } = (await callNode(dir, 'siteRestart', { id })) as { listeners: string[] };
    process.stdout.write(`site "${id}" restarted: ${listeners.join(', ') || 'not listening (disabled or no bindings)'}\n`);
    return;
  }
  const binding = (): { host: string; port: number } => {
    const port = Number(values.port);
    if (values.host === undefined || values.port === undefined) throw new UsageError(`site ${sub} needs --host ADDR and --port N`);
    if (!(Number.isInteger(port) && port > 0 && port <= 65535)) throw new UsageError(`--port must be a port number 1-65535, got "${String(values.port)}"`);
    return { host: values.host as string, port };
  };
  if (sub === 'add') await printResult(await callNode(dir, 'siteAdd', { id, ...binding(), ...(values.name === undefined ? {} : { name: values.name }) }));
  else if (sub === 'bind') await printResult(await callNode(dir, 'siteBind', { id, ...binding() }));
  else if (sub === 'remove') await printResult(await callNode(dir, 'siteRemove', { id }));
  else throw new UsageError(`no site command "${sub}"; use list, show, restart, add, bind or remove`);
}

/** What the node's `status` handler answers (GET /api/v1/sa/status's body). */
interface NodeStatus {
  version: string;
  nodeId: string;
  uptimeSeconds: number;
  configIndex: number;
  sites: { id: string; enabled: boolean; listeners: string[] }[];
}

async function commandStatus(args: string[]): Promise<void> {
  const values = parseCommand('status', args);
  const st = (await callNode(dataDir(values), 'status', {})) as NodeStatus;
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(st, null, 2)}\n`);
    return;
  }
  const lines = [st.version, `node ${st.nodeId}, up ${st.uptimeSeconds} s`, `config index ${st.configIndex}`];
  for (const s of st.sites) lines.push(`site ${s.id}: ${s.enabled ? 'enabled' : 'disabled'}, ${s.listeners.join(', ') || 'not listening'}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function commandSetup(args: string[]): Promise<void> {
  const values = parseCommand('setup', args);
  const file = stringValue(values, 'password-file');
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => fail(`cannot read ${file}: ${error.code ?? error.message}`));
  const password = text.split(/\r?\n/)[0] ?? '';
  if (!password) fail(`${file} is empty: its first line must be the password`);
  const { name } = (await callNode(dataDir(values), 'setup', { name: stringValue(values, 'superadmin'), password })) as { name: string };
  process.stdout.write(`SuperAdmin "${name}" created; log in at GET /api/v1/sa/login\n`);
}

async function commandGenssc(args: string[]): Promise<void> {
  const values = parseCommand('genssc', args);
  const { code, expiresAt } = (await callNode(dataDir(values), 'genssc', {})) as { code: string; expiresAt: number };
  process.stdout.write(`setup code: ${code} (valid until ${new Date(expiresAt).toISOString()}; the previous code no longer works)\n`);
}

async function commandSaPassReset(args: string[]): Promise<void> {
  const values = parseCommand('sapassreset', args);
  const { name } = (await callNode(dataDir(values), 'saPassReset', { name: stringValue(values, 'superadmin'), password: stringValue(values, 'password') })) as { name: string };
  process.stdout.write(`password of SuperAdmin "${name}" reset; the tokens issued before no longer work\n`);
}

async function commandDisable2fa(args: string[]): Promise<void> {
  const values = parseCommand('disable2fa', args);
  const { name, changed } = (await callNode(dataDir(values), 'disable2fa', { name: stringValue(values, 'superadmin') })) as { name: string; changed: boolean };
  process.stdout.write(changed ? `2FA of SuperAdmin "${name}" turned off; they log in with the password alone until they enrol again\n` : `SuperAdmin "${name}" had no 2FA; nothing changed\n`);
}

async function firstLine(file: string, what: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => fail(`cannot read ${file}: ${error.code ?? error.message}`));
  const line = text.split(/\r?\n/)[0] ?? '';
  if (!line) fail(`${file} is empty: its first line must be the ${what}`);
  return line;
}

async function commandRepairHttp(args: string[]): Promise<void> {
  const values = parseCommand('repairhttp', args);
  const dir = dataDir(values);
  const { repairAdminHttp } = await import('../node/repair-http.ts');
  const changes = await repairAdminHttp(dir);
  for (const change of changes) process.stdout.write(`${change}\n`);
  if (changes.length === 0) process.stdout.write('the admin binding and certificate are fine; nothing changed\n');
  let running = true;
  try {
    await callNode(dir, 'status', {}, 5_000);
  } catch (error) {
    if (error instanceof NodeNotRunningError) running = false;
  }
  if (running && changes.length > 0) process.stdout.write(`the node is running: restart it to use the changes (stop it, then \`${ferryCommandLine('start', [], dir)}\`)\n`);
}

async function commandDbcmd(args: string[]): Promise<void> {
  const values = parseCommand('dbcmd', args);
  if (values.clearallnotifications !== true) throw new UsageError('dbcmd needs an action: --clearallnotifications');
  const { deleted } = (await callNode(dataDir(values), 'clearNotifications', {})) as { deleted: number };
  process.stdout.write(`${deleted} notifications cleared\n`);
}

async function commandBackup(args: string[]): Promise<void> {
  const values = parseCommand('backup', args);
  const dir = path.resolve(stringValue(values, 'dir'));
  const passphrase = values['passphrase-file'] === undefined ? undefined : await firstLine(stringValue(values, 'passphrase-file'), 'passphrase');
  const result = (await callNode(dataDir(values), 'backup', passphrase === undefined ? {} : { passphrase })) as { archive: string; name: string; sites: number; users: number };
  const { mkdir, writeFile } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, result.name);
  await writeFile(file, Buffer.from(result.archive, 'base64'), { mode: 0o600, flag: 'wx' });
  process.stdout.write(`backup written to ${file} (${result.sites} sites, ${result.users} users)\n`);
  process.stdout.write(passphrase === undefined ? `restoring it on another machine needs this node's secret.key (${path.join(dataDir(values), 'secret.key')}); keep a copy apart from the archive\n` : 'restoring it on another machine needs the passphrase\n');
}

async function commandRestore(args: string[]): Promise<void> {
  const values = parseCommand('restore', args);
  const file = stringValue(values, 'file');
  const archive = await readFile(file).catch((error: NodeJS.ErrnoException) => fail(`cannot read ${file}: ${error.code ?? error.message}`));
  const dir = dataDir(values);
  type Summary = { sites: number; users: number; superAdmins: number; configIndex: number };
  let summary: Summary;
  try {
    summary = (await callNode(dir, 'restore', { archive: archive.toString('base64') })) as Summary;
  } catch (error) {
    if (!(error instanceof NodeNotRunningError)) throw error;
    const keyFile = values['key-file'] === undefined ? undefined : await readFile(stringValue(values, 'key-file')).catch((e: NodeJS.ErrnoException) => fail(`cannot read ${String(values['key-file'])}: ${e.code ?? e.message}`));
    const passphrase = values['passphrase-file'] === undefined ? undefined : await firstLine(stringValue(values, 'passphrase-file'), 'passphrase');
    const { prepareOfflineRestore } = await import('../node/backup-operations.ts');
    const prepared = await prepareOfflineRestore(dir, archive, { keyFile, passphrase });
    process.stdout.write(`${dir} prepared from the backup (${prepared.sites} sites, ${prepared.users} users, ${prepared.superAdmins} SuperAdmins); start it with \`${ferryCommandLine('start', [], dir)}\`\n`);
    return;
  }
  process.stdout.write(`configuration restored (${summary.sites} sites, ${summary.users} users, ${summary.superAdmins} SuperAdmins) at config index ${summary.configIndex}\n`);
}

async function commandHelp(args: string[]): Promise<void> {
  const [topic, ...more] = args;
  if (topic === undefined || topic === '--help' || topic === '-h') {
    process.stdout.write(topic === undefined ? overviewUsage() : commandUsage('help'));
    return;
  }
  if (!isCommandName(topic) || more.length > 0) throw new UsageError(`no such command "${args.join(' ')}"; the commands are ${Object.keys(COMMANDS).join(', ')}`);
  process.stdout.write(commandUsage(topic));
}

const commands: Record<CommandName, (args: string[]) => Promise<void>> = {
  start: commandStart,
  importusers: commandImportUsers,
  passwd: commandPasswd,
  addkey: commandAddKey,
  cluster: commandCluster,
  site: commandSite,
  status: commandStatus,
  setup: commandSetup,
  genssc: commandGenssc,
  sapassreset: commandSaPassReset,
  disable2fa: commandDisable2fa,
  repairhttp: commandRepairHttp,
  dbcmd: commandDbcmd,
  backup: commandBackup,
  restore: commandRestore,
  help: commandHelp,
};

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(overviewUsage());
    return;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${SOFTWARE}\n`);
    return;
  }
  if (!isCommandName(name)) fail(`unknown command "${name}"\n\n${overviewUsage()}`);
  try {
    await commands[name](rest);
  } catch (error) {
    if (error instanceof UsageError) fail(`${error.message}\n\n${commandUsage(name)}`);
    if (error instanceof NodeNotRunningError) {
      fail(NodeNotRunningError.advice(error.dataDir, error.reason, ferryCommandLine('start', [], error.dataDir)));
    }
    fail(error instanceof Error ? error.message : String(error));
  }
}

await main(process.argv.slice(2));
