// The one notation for variables in configured text: VFS targets (vfs/params.ts, judged before
// expansion by config/disk-target.ts) and SSH/FTP greetings and banners
// (protocols/ssh/variables.ts). Stored configurations hold both forms the two used to read, so
// both are accepted everywhere: `{{name}}`, with spaces allowed inside the braces (greetings were
// written `{{ server_name }}`), and the legacy `[%NAME%]` of imported configurations, any case.
// Names are bounded so a scan stays linear. What a name means, and what an unknown one does, is
// the caller's: a target refuses it, a greeting keeps it as written.

const VARIABLE = /\{\{\s*([A-Za-z_]{1,32})\s*\}\}|\[%([A-Za-z_]{1,32})%\]/g;

export interface TemplateVariable {
  /** As written, e.g. `{{ username }}` or `[%USERNAME%]`. */
  readonly text: string;
  /** Exact inside braces (`{{USERNAME}}` is no `username`); lowercased from the legacy form. */
  readonly name: string;
  /** Where `text` starts in the template. */
  readonly index: number;
}

function variableOf(match: RegExpExecArray | RegExpMatchArray): TemplateVariable {
  return { text: match[0], name: match[1] ?? (match[2] as string).toLowerCase(), index: match.index as number };
}

/** The variables of `template`, in order. */
export function templateVariables(template: string): TemplateVariable[] {
  return [...template.matchAll(VARIABLE)].map(variableOf);
}

/** `template` with each variable replaced by what `value` answers for it. */
export function expandTemplate(template: string, value: (variable: TemplateVariable) => string): string {
  return template.replace(VARIABLE, (...args: unknown[]) => {
    const [text, curly, legacy, index] = args as [string, string | undefined, string | undefined, number];
    return value({ text, name: curly ?? (legacy as string).toLowerCase(), index });
  });
}
