/**
 * A storage location a user's home or virtual folder points at. `target` may be parametric:
 * `{{username}}`, `{{user_home}}`, `{{user_desc}}`, `{{today}}`, `{{today_utc}}`,
 * `{{sess_custdata}}` and the legacy `[%USERNAME%]` forms are expanded per session.
 */
export interface VfsProfile {
  readonly id: string;
  readonly name: string;
  readonly kind: 'disk';
  /** For `disk`: an absolute directory path on the node (shared storage in a cluster). */
  readonly target: string;
}

/**
 * A variable of a parametric target: `{{name}}` (group 1, exact) or `[%NAME%]` (group 2, any
 * case). Bounded names keep the scan linear. Global: use with replace/matchAll, or reset
 * lastIndex before test. Expanded by vfs/params.ts; judged before expansion by
 * config/disk-target.ts.
 */
export const TARGET_VARIABLE = /\{\{([A-Za-z_]{1,32})\}\}|\[%([A-Za-z_]{1,32})%\]/g;

/** Variables whose value is a whole absolute path ({{user_home}}); every other is one segment. */
export const PATH_VARIABLES: ReadonlySet<string> = new Set(['user_home']);
