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
