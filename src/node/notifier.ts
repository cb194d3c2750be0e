// Raises notifications to SuperAdmins as replicated config commands (so every node lists and
// acknowledges the same ones): one open notification per kind and subject, so a condition that
// persists (a certificate about to expire) is not repeated until a SuperAdmin acknowledges it.
import type { Logger } from '../logging/app-log.ts';
import { proposer } from './admin-http.ts';
import type { ConfigStore } from './config-store.ts';

export const CERTIFICATE_WARNING_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

export class Notifier {
  readonly #store: ConfigStore;
  readonly #logger: Logger;

  constructor(store: ConfigStore, logger: Logger) {
    this.#store = store;
    this.#logger = logger;
  }

  async notify(kind: string, subject: string, message: string): Promise<void> {
    if (this.#store.current().notifications().some((n) => n.kind === kind && n.subject === subject)) return;
    try {
      const outcome = await proposer(this.#store)({ type: 'notification.add', notification: { kind, subject, message } }, 'system');
      if (!outcome.ok) this.#logger.warn({ kind, subject, outcome }, 'a notification could not be recorded');
    } catch (error) {
      this.#logger.warn({ err: error, kind, subject }, 'a notification could not be recorded');
    }
  }

  /** A certificate that expires in under CERTIFICATE_WARNING_DAYS (or has). */
  async certificate(subject: string, validTo: number, now = Date.now()): Promise<void> {
    const days = Math.floor((validTo - now) / DAY_MS);
    if (days >= CERTIFICATE_WARNING_DAYS) return;
    const when = new Date(validTo).toISOString();
    await this.notify('certificate-expiring', subject, days < 0 ? `${subject} expired on ${when}; replace it or run \`ferry repairhttp\`` : `${subject} expires on ${when} (in ${days} days); replace it or run \`ferry repairhttp\``);
  }
}
