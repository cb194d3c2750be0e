// What each `ferry` command accepts and says about itself. Argument parsing and every help text
// are built from this one table, so an option cannot be accepted without being documented.

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** Placeholder for the value in help texts (string options). */
  readonly arg?: string;
  readonly help: string;
  readonly required?: boolean;
  /** One-letter alias (`-s` for `--superadmin`), as the reference's commands spell them. */
  readonly short?: string;
}

export interface CommandSpec {
  /** One line, for the command list of `ferry --help`. */
  readonly summary: string;
  /** More lines for the command's own help, when one line does not say enough. */
  readonly details?: readonly string[];
  readonly options: Readonly<Record<string, OptionSpec>>;
}

const DATA_OF_RUNNING_NODE: OptionSpec = { type: 'string', arg: 'DIR', help: 'data directory of the running node (default ./data)' };
const VSITE: OptionSpec = { type: 'string', arg: 'ID', help: 'virtual site id (e.g. default)', required: true };
const USERNAME: OptionSpec = { type: 'string', arg: 'NAME', help: 'user name in that site', required: true };

export const COMMANDS = {
  start: {
    summary: 'Start a node; the first start initializes the data directory',
    details: [
      'Runs until SIGTERM or SIGINT (Ctrl-C). A new node stores the binding 0.0.0.0:2222 for its default',
      'site; --host and --sftp-port override it for one run without changing what is stored.',
      'On the first start, --ftp-port and --ftps-port store FTP/FTPES and implicit-FTPS bindings for the',
      'default site (plain FTP logins stay off: TLS is required); later they override them for one run.',
    ],
    options: {
      data: { type: 'string', arg: 'DIR', help: 'data directory (default ./data)' },
      host: { type: 'string', arg: 'ADDR', help: 'SSH/SFTP/SCP listen address of the default site, this run only (default: stored, 0.0.0.0)' },
      'sftp-port': { type: 'string', arg: 'N', help: 'SSH/SFTP/SCP port of the default site, this run only (default: stored, 2222; 0 = any free port)' },
      'ftp-port': { type: 'string', arg: 'N', help: 'FTP/FTPES (AUTH TLS) port of the default site (0 = any free port); prints `listening ftp HOST:PORT`' },
      'ftps-port': { type: 'string', arg: 'N', help: 'implicit FTPS port of the default site (0 = any free port); prints `listening ftps HOST:PORT`' },
      'pasv-ports': { type: 'string', arg: 'A-B', help: 'passive data port range of the default site\'s FTP listeners (default: any free port)' },
      'cluster-port': { type: 'string', arg: 'N', help: 'open the node-to-node port on --host (0 = any free port); founds a cluster on a standalone node' },
      join: { type: 'string', arg: 'HOST:PORT', help: "first start only: join the cluster of the member listening there (its 'listening cluster' address)" },
      token: { type: 'string', arg: 'T', help: 'with --join: a one-time token from `ferry cluster token` on that member' },
      'node-id': { type: 'string', arg: 'ID', help: 'with --join: this node\'s id in the cluster (default: generated)' },
      'admin-port': { type: 'string', arg: 'N', help: 'admin REST API (HTTPS) port, this run only (default: admin-http.json, else 6443; 0 = any free port)' },
      'admin-host': { type: 'string', arg: 'ADDR', help: 'admin REST API listen address, this run only (default: admin-http.json, else --host, else 0.0.0.0)' },
    },
  },
  setup: {
    summary: 'Create the first SuperAdmin of the running node (unattended setup)',
    details: ['Refused once a SuperAdmin exists. The password is the first line of FILE (mode 0600 advised).'],
    options: {
      superadmin: { type: 'string', arg: 'NAME', help: 'SuperAdmin name', required: true },
      'password-file': { type: 'string', arg: 'FILE', help: 'file whose first line is the password', required: true },
      data: DATA_OF_RUNNING_NODE,
    },
  },
  genssc: {
    summary: 'Print a new one-time setup code (valid 5 minutes) for POST /api/v1/setup',
    options: { data: DATA_OF_RUNNING_NODE },
  },
  sapassreset: {
    summary: "Reset a SuperAdmin's password (their existing tokens stop working)",
    options: {
      superadmin: { type: 'string', arg: 'NAME', help: 'SuperAdmin name', required: true, short: 's' },
      password: { type: 'string', arg: 'PASS', help: 'the new password (at least 10 characters)', required: true, short: 'p' },
      data: DATA_OF_RUNNING_NODE,
    },
  },
  disable2fa: {
    summary: "Turn off a SuperAdmin's 2FA (a lost authenticator device)",
    options: { superadmin: { type: 'string', arg: 'NAME', help: 'SuperAdmin name', required: true, short: 's' }, data: DATA_OF_RUNNING_NODE },
  },
  repairhttp: {
    summary: 'Reset the admin API binding to 0.0.0.0:6443 and make sure a valid certificate exists',
    details: [
      'Edits files in the data directory, so it works with the node stopped; a running node uses the',
      'changes after a restart. A broken or expired certificate is replaced by a self-signed one (old files kept as .bak).',
    ],
    options: { data: { type: 'string', arg: 'DIR', help: 'the node\'s data directory (default ./data)' } },
  },
  dbcmd: {
    summary: 'Maintenance of the running node\'s configuration database',
    options: {
      clearallnotifications: { type: 'boolean', help: 'acknowledge (delete) every notification to SuperAdmins, on every node' },
      data: DATA_OF_RUNNING_NODE,
    },
  },
  backup: {
    summary: 'Write a configuration backup (zip) of the running node into a directory',
    details: [
      'Secrets stay sealed with the master key (secret.key), which the archive never holds in clear.',
      'With --passphrase-file the key is wrapped with that passphrase into the archive, so it can be',
      'restored on another machine with the passphrase alone; without it, keep secret.key beside it.',
    ],
    options: {
      dir: { type: 'string', arg: 'DIR', help: 'directory to write ferry-backup-<time>.zip into', required: true, short: 'd' },
      'passphrase-file': { type: 'string', arg: 'FILE', help: 'file whose first line is the passphrase (at least 10 characters)' },
      data: DATA_OF_RUNNING_NODE,
    },
  },
  restore: {
    summary: 'Replace the configuration with a backup (running node, or a fresh data directory)',
    details: [
      'With a node running on --data: validates the archive completely, then replaces its configuration',
      '(every cluster node follows); the backup must come from this node or one with its master key.',
      'With no node running and a data directory never started: prepares it from the backup (its master key',
      'from --key-file or --passphrase-file); the next `ferry start --data DIR` serves the restored sites.',
    ],
    options: {
      file: { type: 'string', arg: 'FILE', help: 'the backup archive (.zip)', required: true, short: 'f' },
      'key-file': { type: 'string', arg: 'FILE', help: 'fresh directory: the old node\'s secret.key' },
      'passphrase-file': { type: 'string', arg: 'FILE', help: 'fresh directory: file whose first line is the backup passphrase' },
      data: { type: 'string', arg: 'DIR', help: 'data directory of the running node, or the fresh one to prepare (default ./data)' },
    },
  },
  status: {
    summary: 'Version, uptime, sites and their listeners, config index of the running node',
    options: { data: DATA_OF_RUNNING_NODE, json: { type: 'boolean', help: 'print JSON (what GET /api/v1/sa/status answers)' } },
  },
  cluster: {
    summary: 'Cluster membership of the running node: join tokens, status, removal',
    details: [
      '  ferry cluster token [--data DIR]            print a one-time join token (valid 1 hour)',
      '  ferry cluster status [--data DIR] [--json]  members, roles, commit index, clock skew, health',
      '  ferry cluster remove NODE-ID [--data DIR]   remove a member (run on any member)',
    ],
    options: {
      data: DATA_OF_RUNNING_NODE,
      json: { type: 'boolean', help: 'status: print JSON instead of a table' },
    },
  },
  importusers: {
    summary: 'Import users from a CSV file into a virtual site of the running node',
    details: [
      'One user per line: username,password,vfs,subsystems,permissions. A bad line is reported',
      'with its number and nothing is imported.',
    ],
    options: {
      csv: { type: 'string', arg: 'FILE', help: 'CSV file (username,password,vfs,subsystems,permissions)', required: true },
      vsite: VSITE,
      makevfs: { type: 'boolean', help: '3rd field is an absolute directory: create a disk VFS for it' },
      dryrun: { type: 'boolean', help: 'check everything, change nothing' },
      data: DATA_OF_RUNNING_NODE,
    },
  },
  passwd: {
    summary: "Set a user's password on the running node",
    details: ['The password is read from the terminal without echo, or from the first line of standard input.'],
    options: { vsite: VSITE, username: USERNAME, data: DATA_OF_RUNNING_NODE },
  },
  addkey: {
    summary: 'Add OpenSSH public keys (authorized_keys lines) to a user on the running node',
    options: {
      vsite: VSITE,
      username: USERNAME,
      'key-file': { type: 'string', arg: 'FILE', help: 'public key file, one key per line (e.g. ~/.ssh/id_ed25519.pub)', required: true },
      data: DATA_OF_RUNNING_NODE,
    },
  },
  site: {
    summary: 'List, show, restart, add, move or remove virtual sites of the running node',
    details: [
      '  ferry site list [--json]                                    sites, enabled or not, and their listeners',
      '  ferry site show ID [--json]                                 one site: bindings, algorithms, public host keys',
      '  ferry site restart ID                                       close and reopen its listeners on this node',
      '  ferry site add --id ID --host ADDR --port N [--name NAME]   new site, fresh host keys, listening at once',
      '  ferry site bind --id ID --host ADDR --port N                move its SSH/SFTP/SCP binding (no restart)',
      '  ferry site remove --id ID                                   stop and remove it (refused while it has users)',
      'Every node of a cluster follows the change.',
    ],
    options: {
      id: { type: 'string', arg: 'ID', help: 'site id (show and restart also take it as ID)' },
      host: { type: 'string', arg: 'ADDR', help: 'add, bind: listen address' },
      json: { type: 'boolean', help: 'list, show: print JSON' },
      port: { type: 'string', arg: 'N', help: 'add, bind: port' },
      name: { type: 'string', arg: 'NAME', help: 'add: display name (default: the id)' },
      data: DATA_OF_RUNNING_NODE,
    },
  },
  help: {
    summary: 'Show the list of commands, or the help of one command',
    details: ['`ferry help COMMAND` is the same as `ferry COMMAND --help`.'],
    options: {},
  },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;

export function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(COMMANDS, name);
}

function optionLabel(name: string, option: OptionSpec): string {
  const long = option.type === 'string' ? `--${name} ${option.arg ?? 'VALUE'}` : `--${name}`;
  return option.short === undefined ? long : `-${option.short}, ${long}`;
}

function synopsis(name: CommandName): string {
  const spec: CommandSpec = COMMANDS[name];
  const parts = Object.entries(spec.options).map(([option, o]) => (o.required ? optionLabel(option, o) : `[${optionLabel(option, o)}]`));
  if (name === 'help') parts.push('[COMMAND]');
  if (name === 'cluster') parts.splice(0, 0, 'token|status|remove NODE-ID');
  if (name === 'site') parts.splice(0, 0, 'add|bind|remove');
  return ['ferry', name, ...parts].join(' ');
}

function table(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`);
}

export function commandUsage(name: CommandName): string {
  const spec: CommandSpec = COMMANDS[name];
  const options: [string, string][] = Object.entries(spec.options).map(([option, o]) => [optionLabel(option, o), o.help]);
  options.push(['-h, --help', 'show this help']);
  return [`Usage: ${synopsis(name)}`, '', `${spec.summary}.`, ...(spec.details ?? []), '', 'Options:', ...table(options), ''].join('\n');
}

export function overviewUsage(): string {
  const commands = (Object.keys(COMMANDS) as CommandName[]).map((name) => [name, COMMANDS[name].summary] as const);
  return [
    'Usage: ferry <command> [options]',
    '',
    'Commands:',
    ...table(commands),
    '',
    'Run `ferry <command> --help` (or `ferry help <command>`) for the options of a command.',
    '',
  ].join('\n');
}
