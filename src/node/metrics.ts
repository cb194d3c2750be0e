// The node's Prometheus metrics: one registry, fed where the events already exist (login
// outcomes, transfer-log records) and read from the live books (connections, sessions, config
// index) when scraped. Served as text on the admin listener's /metrics.
import { Counter, Gauge, Registry } from 'prom-client';
import type { AuthOutcomeEvent } from '../auth/login.ts';
import type { TransferRecord } from '../logging/transfer-log.ts';

export interface MetricsSources {
  /** Open connections per site. */
  readonly connections: () => ReadonlyMap<string, number>;
  readonly sessions: () => number;
  readonly configIndex: () => number;
}

export class NodeMetrics {
  readonly registry = new Registry();
  readonly #logins: Counter<'site' | 'protocol' | 'result'>;
  readonly #transfers: Counter<'site' | 'protocol' | 'direction' | 'status'>;
  readonly #bytes: Counter<'site' | 'protocol' | 'direction'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    new Gauge({
      name: 'ferry_connections',
      help: 'Open client connections, by site',
      labelNames: ['site'],
      registers,
      collect() {
        this.reset();
        for (const [site, count] of sources.connections()) this.set({ site }, count);
      },
    });
    new Gauge({ name: 'ferry_sessions', help: 'Logged-in sessions', registers, collect() { this.set(sources.sessions()); } });
    new Gauge({ name: 'ferry_config_log_index', help: 'Index of the last config command applied on this node', registers, collect() { this.set(sources.configIndex()); } });
    this.#logins = new Counter({ name: 'ferry_logins_total', help: 'Login attempts by result (success, partial: one factor of several, failure)', labelNames: ['site', 'protocol', 'result'], registers });
    this.#transfers = new Counter({ name: 'ferry_transfers_total', help: 'File transfers by site, protocol, direction and status', labelNames: ['site', 'protocol', 'direction', 'status'], registers });
    this.#bytes = new Counter({ name: 'ferry_transfer_bytes_total', help: 'Bytes transferred by site, protocol and direction', labelNames: ['site', 'protocol', 'direction'], registers });
  }

  loginOutcome(event: AuthOutcomeEvent): void {
    this.#logins.inc({ site: event.siteId, protocol: event.protocol, result: event.outcome });
  }

  /** Every transfer-log record; only uploads and downloads are transfers. */
  transfer(record: TransferRecord): void {
    if (record.operation !== 'upload' && record.operation !== 'download') return;
    const labels = { site: record.siteId, protocol: record.protocol, direction: record.operation };
    this.#transfers.inc({ ...labels, status: record.status === 'ok' ? 'ok' : 'failed' });
    if (record.bytes !== undefined && record.bytes > 0) this.#bytes.inc(labels, record.bytes);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
