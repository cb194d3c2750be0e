export interface GlobalSettings {
  /** Shown in logs and greetings as `{{server_name}}`. */
  readonly serverName: string;
  /** Lifetime of an admin API token, minutes. Absent: DEFAULT_JWT_LIFESPAN_MINUTES. */
  readonly jwtLifeSpan?: number;
  /**
   * Addresses and networks (CIDR) allowed to read `/metrics` on the admin listener. Absent:
   * DEFAULT_METRICS_ALLOW_LIST (loopback only).
   */
  readonly metricsAllowList?: readonly string[];
}

/** Short-lived tokens: an admin who walks away is logged out soon (the reference's example uses 30). */
export const DEFAULT_JWT_LIFESPAN_MINUTES = 30;
export const DEFAULT_METRICS_ALLOW_LIST: readonly string[] = Object.freeze(['127.0.0.1/32', '::1/128']);
