// The `ferry` command line: parses arguments and calls the node (start) or the running node's
// control socket (everything else). No logic lives here.
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { callNode, NodeNotRunningError } from '../node/control-client.ts';

const USAGE = `Usage: ferry <command> [options]

Commands:
  start         Start a node. First start initializes the data directory.
                  --data DIR        data directory (default ./data)
                  --host ADDR       SSH/SFTP/SCP listen address of the default site (default 0.0.0.0)
                  --sftp-port N     SSH/SFTP/SCP port of the default site (default 2222; 0 = any free port)
  importusers   Import users from a CSV file into a virtual site of the running node.
                  --csv FILE        CSV file (username,password,vfs,subsystems,permissions)
                  --vsite ID        virtual site id (e.g. default)
                  --makevfs         3rd field is an absolute directory: create a disk VFS for it
                  --dryrun          check everything, change nothing
                  --data DIR        data directory of the running node (default ./data)
  passwd        Set a user's password on the running node (read from the terminal, or the
                first line of standard input).
                  --vsite ID --username NAME [--data DIR]
  addkey        Add OpenSSH public keys (authorized_keys lines) to a user on the running node.
                  --vsite ID --username NAME --key-file FILE [--data DIR]
  help          Show this text.
`;

function fail(message: string): never {
  process.stderr.write(`ferry: ${message}\n`);
  process.exit(2);
}

async function commandStart(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { data: { type: 'string' }, host: { type: 'string' }, 'sftp-port': { type: 'string' } },
    strict: true,
  });
  const port = values['sftp-port'] === undefined ? undefined : Number(values['sftp-port']);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    fail(`--sftp-port must be a port number 0-65535, got "${values['sftp-port']}"`);
  }
  // Loaded on demand: the other commands only talk to the control socket and start faster.
  const { startNode } = await import('../node/node.ts');
  const node = await startNode({
    dataDir: path.resolve(values.data ?? 'data'),
    host: values.host,
    sftpPort: port,
    out: (line) => process.stdout.write(line + '\n'),
  });
  const stop = (signal: string) => {
    process.stdout.write(`stopping (${signal})\n`);
    node.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`ferry: error while stopping: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

async function commandImportUsers(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      csv: { type: 'string' },
      vsite: { type: 'string' },
      makevfs: { type: 'boolean', default: false },
      dryrun: { type: 'boolean', default: false },
      data: { type: 'string' },
    },
    strict: true,
  });
  if (!values.csv) fail('importusers needs --csv FILE');
  if (!values.vsite) fail('importusers needs --vsite ID (the virtual site id, e.g. default)');
  const csv = await readFile(values.csv, 'utf8').catch((error: NodeJS.ErrnoException) =>
    fail(`cannot read ${values.csv}: ${error.code ?? error.message}`),
  );
  const result = (await callNode(path.resolve(values.data ?? 'data'), 'importUsers', {
    csv,
    siteId: values.vsite,
    makeVfs: values.makevfs,
    dryRun: values.dryrun,
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
  const { values } = parseArgs({
    args,
    options: { vsite: { type: 'string' }, username: { type: 'string' }, data: { type: 'string' } },
    strict: true,
  });
  if (!values.vsite || !values.username) fail('passwd needs --vsite ID and --username NAME');
  const password = await readSecretLine(`New password for ${values.username}: `);
  if (process.stdin.isTTY && (await readSecretLine('Again: ')) !== password) fail('the two passwords differ; nothing changed');
  if (!password) fail('no password given (type it, or pipe it on standard input)');
  await printResult(await callNode(path.resolve(values.data ?? 'data'), 'setPassword', { siteId: values.vsite, username: values.username, password }));
}

async function commandAddKey(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { vsite: { type: 'string' }, username: { type: 'string' }, 'key-file': { type: 'string' }, data: { type: 'string' } },
    strict: true,
  });
  if (!values.vsite || !values.username || !values['key-file']) fail('addkey needs --vsite ID, --username NAME and --key-file FILE');
  const text = await readFile(values['key-file'], 'utf8').catch((error: NodeJS.ErrnoException) =>
    fail(`cannot read ${values['key-file']}: ${error.code ?? error.message}`),
  );
  const lines = text.split('\n');
  await printResult(await callNode(path.resolve(values.data ?? 'data'), 'addAuthorizedKeys', { siteId: values.vsite, username: values.username, lines }));
}

const commands: Record<string, (args: string[]) => Promise<void>> = {
  start: commandStart,
  importusers: commandImportUsers,
  passwd: commandPasswd,
  addkey: commandAddKey,
};

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return;
  }
  const command = commands[name];
  if (!command) fail(`unknown command "${name}"\n\n${USAGE}`);
  try {
    await command(rest);
  } catch (error) {
    if (error instanceof NodeNotRunningError) fail(error.message);
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      fail(`${error.message}\n\n${USAGE}`);
    }
    fail(error instanceof Error ? error.message : String(error));
  }
}

await main(process.argv.slice(2));
