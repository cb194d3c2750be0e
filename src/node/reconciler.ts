// Listeners follow the configuration: each applied change (published once per Raft batch) is
// compared with what runs, and only the difference is acted on. A site added starts its
// listeners, a site removed or disabled stops them, a binding that moved is opened at its new
// address before the old one closes (so a refused new port leaves the old one serving), and a
// listener whose site settings changed (host keys, algorithms) is restarted. Listeners whose
// site and binding are unchanged, and the sessions on them, are never touched.
import type { ProtocolBinding, Site } from '../config/model/site.ts';
import type { ConfigView } from '../config/view.ts';
import type { Logger } from '../logging/app-log.ts';

/** A running listener of any protocol (SSH, FTP, FTPS). */
export interface SiteListener {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

export interface ReconcilerDeps {
  /** Starts one listener; throws (with a message for the operator) when it cannot. */
  start(site: Site, binding: ProtocolBinding): Promise<SiteListener>;
  /** The bindings a site listens on in this run (start flags may override the stored ones). */
  bindingsFor(site: Site): readonly ProtocolBinding[];
  /** Operator-facing lines (`listening sftp ...`). */
  out(line: string): void;
  /** A site's listeners were stopped and started again with changed settings or bindings. */
  onRestart?(siteId: string): void;
  logger: Logger;
}

interface Running {
  readonly server: SiteListener;
  readonly siteId: string;
  /** What the operator lines call it: `sftp`, `ftp`, `ftps`. */
  readonly label: string;
  /** The site settings it was started with, minus the bindings. */
  readonly settings: string;
}

function listenerKey(siteId: string, binding: ProtocolBinding): string {
  return `${siteId}|${binding.protocol}|${binding.host}|${binding.port}`;
}

/** The site settings minus the bindings, plus this binding's own settings (an FTP passive range). */
function settingsOf(site: Site, binding: ProtocolBinding): string {
  const { bindings: _bindings, ...rest } = site;
  const { host: _host, port: _port, ...own } = binding;
  return JSON.stringify([rest, own]);
}

/** The word of the `listening ...` line: SSH serves SFTP (and SCP), FTP and FTPS are their own. */
function labelOf(binding: ProtocolBinding): string {
  return binding.protocol === 'ssh' ? 'sftp' : binding.protocol;
}

function hostPort(address: { host: string; port: number }): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

export class SiteReconciler {
  readonly #deps: ReconcilerDeps;
  readonly #running = new Map<string, Running>();
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
  }

  /** The listeners' addresses, for status and tests. */
  listening(): { siteId: string; label: string; host: string; port: number }[] {
    return [...this.#running.values()].map((r) => ({ siteId: r.siteId, label: r.label, ...r.server.address }));
  }

  /**
   * Brings the listeners in line with `view`. `strict`: the first failure to listen throws (at
   * start, where the node must not come up half-bound); otherwise failures are logged and the
   * rest goes on. Runs one at a time, in call order.
   */
  reconcile(view: ConfigView, options: { strict?: boolean } = {}): Promise<void> {
    const run = () => this.#reconcile(view, options.strict === true);
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Closes and reopens `siteId`'s listeners even if nothing changed (an operator's restart):
   * in-flight transfers on them get the listener's close grace, other sites are not touched.
   * Resolves with the site's listeners afterwards.
   */
  restart(view: ConfigView, siteId: string): Promise<{ siteId: string; label: string; host: string; port: number }[]> {
    const run = async () => {
      for (const [key, running] of this.#running) if (running.siteId === siteId) await this.#stop(key, running, 'restarted by an operator');
      await this.#reconcile(view, false);
      return this.listening().filter((l) => l.siteId === siteId);
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.then(() => undefined, () => undefined);
    return result;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue;
    const all = [...this.#running.values()];
    this.#running.clear();
    await Promise.all(all.map((r) => r.server.close()));
  }

  async #reconcile(view: ConfigView, strict: boolean): Promise<void> {
    if (this.#closed) return;
    const desired = new Map<string, { site: Site; binding: ProtocolBinding; settings: string }>();
    for (const site of view.sites()) {
      if (!site.enabled) continue;
      for (const binding of this.#deps.bindingsFor(site)) desired.set(listenerKey(site.id, binding), { site, binding, settings: settingsOf(site, binding) });
    }
    // Listeners whose settings changed are restarted in place: close first, the port is theirs.
    const restarted = new Set<string>();
    for (const [key, running] of this.#running) {
      const want = desired.get(key);
      if (want !== undefined && want.settings !== running.settings) {
        await this.#stop(key, running, 'its site settings changed');
        restarted.add(running.siteId);
      }
    }
    // A binding moved: the site's old listener stops and a new one starts; that is a restart too.
    for (const [key, running] of this.#running) {
      if (!desired.has(key) && view.site(running.siteId)?.enabled === true) restarted.add(running.siteId);
    }
    for (const [key, want] of desired) {
      if (this.#running.has(key)) continue;
      try {
        const server = await this.#deps.start(want.site, want.binding);
        const label = labelOf(want.binding);
        this.#running.set(key, { server, siteId: want.site.id, label, settings: want.settings });
        this.#deps.out(`listening ${label} ${hostPort(server.address)}`);
        this.#deps.logger.info({ siteId: want.site.id, address: server.address }, 'site listening');
      } catch (error) {
        if (strict) throw error;
        this.#deps.logger.error({ siteId: want.site.id, binding: want.binding, err: error }, 'a site could not start listening; the other listeners go on');
      }
    }
    for (const [key, running] of this.#running) {
      if (!desired.has(key)) await this.#stop(key, running, view.site(running.siteId) === undefined ? 'its site was removed' : 'its binding changed or the site was disabled');
    }
    for (const siteId of restarted) this.#deps.onRestart?.(siteId);
  }

  async #stop(key: string, running: Running, why: string): Promise<void> {
    this.#running.delete(key);
    await running.server.close();
    this.#deps.out(`stopped ${running.label} ${hostPort(running.server.address)}`);
    this.#deps.logger.info({ siteId: running.siteId, address: running.server.address, why }, 'site listener stopped');
  }
}
