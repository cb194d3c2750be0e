// Where a disk VFS may point. Every user of a VFS can read (and maybe write) its directory as
// their own, so it must not reach Ferry's own data directory (master key secret.key, the config
// log, logs, initial-credentials.txt) or an operating-system directory. The data directory's
// files area (<data>/files, where first start puts the homes) is the one part of it that may be
// served: it is a sibling of the secrets, never a parent of them.
//
// Three checks use this module, because a VFS target is replicated config while the data
// directory is per node (DESIGN.md "Where the code refines this plan"):
// - `validate` (config/validate.ts) on the proposing node: the target as written, with its
//   variables still in it (`diskTargetPlacementProblem`);
// - every node when it applies config it received (node/target-audit.ts logs what it refuses);
// - every login, on the expanded target and on its realpath, so a symlink or a variable value
//   cannot lead there either (`diskRootRefusal`, called by the disk driver).
// Pure: no I/O; callers pass the node's facts and, at login, the real paths.
import path from 'node:path';
import { PATH_VARIABLES } from './model/vfs-profile.ts';
import { templateVariables } from './template.ts';

/** What only this node knows and a target is judged against. */
export interface NodeFacts {
  /** The node's data directory: absolute, as configured. */
  readonly dataDir: string;
  /** Its realpath, when a symlinked parent makes it differ; judged too. */
  readonly realDataDir?: string | undefined;
}

/** The part of a data directory that may hold user folders. */
export function filesArea(dataDir: string): string {
  return path.posix.join(dataDir, 'files');
}

// Operating-system directories refused together with everything below them: configuration and
// credentials (/etc, /root), kernel and device interfaces (/proc, /sys, /dev), programs and
// libraries (/usr, /bin, /sbin, /lib*, /boot), runtime sockets and pid files (/run).
const SYSTEM_TREES = ['/etc', '/proc', '/sys', '/dev', '/boot', '/root', '/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/run', '/var/run', '/var/lock', '/snap'];
// Directories refused only as themselves: each is the parent of many services' or users' data
// (/var/lib/ferry-files is fine, /var/lib is every service's state).
const SYSTEM_PARENTS = ['/', '/var', '/var/lib', '/var/log', '/var/cache', '/var/spool', '/var/tmp', '/tmp', '/home'];

/** One segment of a target: text, or a pattern when a one-segment variable is part of it. */
type Segment = { readonly text: string } | { readonly pattern: RegExp };

interface Shape {
  /** Segments up to the first whole-path variable ({{user_home}}), if any. */
  readonly segments: readonly Segment[];
  /** A whole-path variable follows: the target is somewhere below `segments`, depth unknown. */
  readonly open: boolean;
  readonly parametric: boolean;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function segmentOf(text: string): Segment | 'path' {
  const variables = templateVariables(text);
  if (variables.length === 0) return { text };
  let source = '';
  let last = 0;
  for (const variable of variables) {
    if (PATH_VARIABLES.has(variable.name)) return 'path';
    // A one-segment value is never empty and never holds "/" (vfs/params.ts refuses those).
    source += `${escapeRegExp(text.slice(last, variable.index))}[^/]+`;
    last = variable.index + variable.text.length;
  }
  return { pattern: new RegExp(`^${source}${escapeRegExp(text.slice(last))}$`) };
}

function shapeOf(target: string, withVariables: boolean): Shape {
  const segments: Segment[] = [];
  for (const text of target.split('/').filter((s) => s !== '')) {
    const segment = withVariables ? segmentOf(text) : { text };
    if (segment === 'path') return { segments, open: true, parametric: true };
    segments.push(segment);
  }
  return { segments, open: false, parametric: segments.some((segment) => 'pattern' in segment) };
}

type Relation = 'equal' | 'inside' | 'parent';

/** How a refusal starts: what the target is, or could be for some value of its variables. */
function phrase(shape: Shape, relation: Relation): string {
  const certain = { equal: 'is', inside: 'is inside', parent: 'is a parent of' };
  const could = { equal: 'could be', inside: 'could lie inside', parent: 'could be a parent of' };
  return shape.parametric ? `${could[relation]} (for some value of its variables)` : certain[relation];
}

function split(dir: string): string[] {
  return dir.split('/').filter((s) => s !== '');
}

function matches(segment: Segment, text: string): boolean {
  return 'text' in segment ? segment.text === text : segment.pattern.test(text);
}

function prefixMatches(shape: Shape, dir: readonly string[], count: number): boolean {
  for (let i = 0; i < count; i++) if (!matches(shape.segments[i] as Segment, dir[i] as string)) return false;
  return true;
}

/** Could the target (for some variable values) be `dir` or lie below it? */
function couldBeWithin(shape: Shape, dir: readonly string[]): boolean {
  return shape.segments.length >= dir.length && prefixMatches(shape, dir, dir.length);
}

/** Could the target be `dir` itself? (Open shapes are left to the login check.) */
function couldEqual(shape: Shape, dir: readonly string[]): boolean {
  return !shape.open && shape.segments.length === dir.length && prefixMatches(shape, dir, dir.length);
}

/** Could the target be a proper ancestor of `dir`? */
function couldContain(shape: Shape, dir: readonly string[]): boolean {
  return !shape.open && shape.segments.length < dir.length && prefixMatches(shape, dir, shape.segments.length);
}

/** Is the target below `dir` whatever the variables hold? */
function certainlyWithin(shape: Shape, dir: readonly string[]): boolean {
  if (shape.segments.length < dir.length) return false;
  return dir.every((text, i) => {
    const segment = shape.segments[i] as Segment;
    return 'text' in segment && segment.text === text;
  });
}

function startsWithLib(shape: Shape): boolean {
  const first = shape.segments[0];
  return first !== undefined && 'text' in first && first.text.startsWith('lib');
}

function systemProblem(shape: Shape): string | undefined {
  const tree = SYSTEM_TREES.find((dir) => couldBeWithin(shape, split(dir)));
  if (tree !== undefined || startsWithLib(shape)) {
    const dir = tree ?? `/${(shape.segments[0] as { text: string }).text}`;
    return `${phrase(shape, 'inside')} the system directory ${dir}: operating-system files must never be served; use a directory of its own such as /srv/ferry/...`;
  }
  const parent = SYSTEM_PARENTS.find((dir) => couldEqual(shape, split(dir)));
  if (parent !== undefined) {
    return `${phrase(shape, 'equal')} the system directory ${parent} itself, which holds the data of many services or users; use a directory of its own below it such as ${path.posix.join(parent, 'ferry-files')}`;
  }
  return undefined;
}

function dataDirProblem(shape: Shape, dataDir: string): string | undefined {
  const data = split(dataDir);
  const files = filesArea(dataDir);
  const holds = 'which holds its master key (secret.key), config log and logs';
  if (couldBeWithin(shape, data)) {
    const next = shape.segments[data.length];
    // Below the data directory only the files area may be served.
    if (next !== undefined && 'text' in next && next.text === 'files') return undefined;
    if (couldEqual(shape, data)) return `${phrase(shape, 'equal')} the node's data directory ${dataDir}, ${holds}; point it at a directory below ${files} or outside ${dataDir}`;
    return `${phrase(shape, 'inside')} the node's data directory ${dataDir}, ${holds}; only its files area ${files} may hold user folders`;
  }
  if (couldContain(shape, data)) {
    return `${phrase(shape, 'parent')} the node's data directory ${dataDir}, ${holds}; point it at a directory that does not contain ${dataDir}`;
  }
  return undefined;
}

function dataDirs(facts: NodeFacts): string[] {
  const dirs = [path.posix.resolve(facts.dataDir)];
  if (facts.realDataDir !== undefined && !dirs.includes(facts.realDataDir)) dirs.push(path.posix.resolve(facts.realDataDir));
  return dirs;
}

function placementProblem(shape: Shape, facts: NodeFacts): string | undefined {
  const dirs = dataDirs(facts);
  // The files area is allowed even where it lies inside a system tree (a data directory in /root).
  if (dirs.some((dir) => certainlyWithin(shape, split(filesArea(dir))))) return undefined;
  for (const dir of dirs) {
    const problem = dataDirProblem(shape, dir);
    if (problem) return problem;
  }
  return systemProblem(shape);
}

/**
 * Where a disk VFS target as configured (absolute, normalized, variables unexpanded) must not
 * point, or undefined. A parametric target is refused when any value of its one-segment
 * variables could lead to a refused place; below a {{user_home}} only the login check can tell.
 */
export function diskTargetPlacementProblem(target: string, facts: NodeFacts): string | undefined {
  return placementProblem(shapeOf(onThisNode(target, facts), true), facts);
}

/**
 * A target as this node reads it: a leading {{node_files}} (the serving node's <data>/files,
 * written in any form vfs/params.ts expands) is its own files area.
 */
export function onThisNode(target: string, facts: NodeFacts): string {
  const first = templateVariables(target)[0];
  if (first?.index !== 0 || first.name !== 'node_files') return target;
  const rest = target.slice(first.text.length);
  if (rest !== '' && !rest.startsWith('/')) return target;
  return filesArea(path.posix.resolve(facts.dataDir)) + rest;
}

/**
 * What is wrong with the directory a disk driver is about to serve (an expanded target, or the
 * realpath of one), or undefined. The path is taken literally: no variables.
 */
export function diskRootRefusal(root: string, facts: NodeFacts): string | undefined {
  const normalized = path.posix.resolve(root);
  if (normalized === '/') return 'is the file system root "/"';
  return placementProblem(shapeOf(normalized, false), facts);
}
