export interface GlobalSettings {
  /** Shown in logs and greetings as `{{server_name}}`. */
  readonly serverName: string;
}
