// Medians, rates and a plain-text table: the figures the benches print and store.

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** MB/s with MB = 10^6 bytes, as the peers' scripts report. */
export function mbPerSecond(bytes: number, ms: number): number {
  return bytes / (ms / 1000) / 1e6;
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Columns padded to their widest cell; numbers right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows].map((row) => row.map((c) => (typeof c === 'number' ? (Number.isFinite(c) ? String(c) : 'n/a') : c)));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[], raw: readonly (string | number)[]): string =>
    row.map((c, i) => (typeof raw[i] === 'number' ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ');
  const out = [line(cells[0] as string[], header), widths.map((w) => '-'.repeat(w)).join('  ')];
  rows.forEach((raw, i) => out.push(line(cells[i + 1] as string[], raw)));
  return out.join('\n');
}
