/**
 * Kind -> what a profile of that kind carries beyond the common fields: `options` (plain,
 * replicated as they are) and `secrets` (the names of fields sealed with config/secrets.ts, never
 * in clear in the log). A storage kind (s3, azure, gcs, sftp, encrypted disk) is added here, in
 * config/shapes.ts `VFS_KIND_SHAPES` and in vfs/drivers/index.ts; the compiler then points at
 * every place that must learn it.
 */
export interface VfsKinds {
  readonly disk: { readonly options: DiskVfsOptions; readonly secrets: never };
}
export type VfsKind = keyof VfsKinds;
export const VFS_KINDS: readonly VfsKind[] = Object.freeze(['disk']);

/** No options yet: the directory is the whole of a disk VFS. */
export type DiskVfsOptions = Readonly<Record<string, never>>;

/**
 * A storage location a user's home or virtual folder points at. `target` may be parametric:
 * `{{username}}`, `{{user_home}}`, `{{user_desc}}`, `{{today}}`, `{{today_utc}}`,
 * `{{sess_custdata}}` and the legacy `[%USERNAME%]` forms (config/template.ts) are expanded per session, so one profile
 * (one back end, pooled: vfs/pool.ts) serves a root per user.
 */
export interface VfsProfileOf<K extends VfsKind> {
  readonly id: string;
  readonly name: string;
  readonly kind: K;
  /** `disk`: an absolute directory path on the node (shared storage in a cluster). */
  readonly target: string;
  readonly options?: VfsKinds[K]['options'];
  /** Sealed values (`fsec1:...`) by field name, opened with the context `vfsSecretContext`. */
  readonly secrets?: { readonly [field in VfsKinds[K]['secrets']]?: string };
}

export type VfsProfile = { [K in VfsKind]: VfsProfileOf<K> }[VfsKind];
export type DiskVfsProfile = VfsProfileOf<'disk'>;

/** Binds a sealed secret to its profile and field: moved elsewhere, it will not open. */
export function vfsSecretContext(vfsId: string, field: string): string {
  return `vfs/${vfsId}/${field}`;
}

/** Variables whose value is a whole absolute path ({{user_home}}); every other is one segment. */
export const PATH_VARIABLES: ReadonlySet<string> = new Set(['user_home']);
