// A VFS back end that fails on demand, for tests of what clients and the Session see when
// storage goes away. It wraps the real back ends (drivers/index.ts): while `fault` is set, every
// call of an attached driver fails with the error the disk driver's own table gives that errno
// (drivers/fs-errors.ts), as an NFS mount that stopped answering would. Attaching (login) is
// left alone unless `faultAttach` is set.
//
//   const faults = new FaultInjector();
//   const h = await startHarness({ drivers: new DriverPool({ factory: faults.factory }) });
//   faults.fault = 'ENOTCONN';
import { createBackend } from '../../src/vfs/drivers/index.ts';
import type { BackendFactory } from '../../src/vfs/drivers/index.ts';
import { mapFsError } from '../../src/vfs/drivers/fs-errors.ts';
import type { FerryError } from '../../src/vfs/errors.ts';
import type { VfsBackend, VfsDriver } from '../../src/vfs/vfs.ts';

/** Properties that are data or that must keep working during an outage (close releases the pool). */
const PASSED_THROUGH: ReadonlySet<PropertyKey> = new Set(['kind', 'capabilities', 'close']);

export class FaultInjector {
  /** An errno code (`ENOTCONN`, `ESTALE`, `EIO`, `EAGAIN`...) every driver call fails with; undefined: none. */
  fault: string | undefined;
  faultAttach = false;
  /** Calls that failed because of the fault. */
  failures = 0;

  readonly factory: BackendFactory = (context) => this.#wrapBackend(createBackend(context));

  #error(path: unknown): FerryError {
    this.failures++;
    const cause = Object.assign(new Error(`${this.fault}: injected fault`), { code: this.fault });
    return mapFsError(cause, `/mnt/faulty${typeof path === 'string' ? path : ''}`);
  }

  #wrapBackend(backend: VfsBackend): VfsBackend {
    return {
      attach: async (root, options) => {
        if (this.fault !== undefined && this.faultAttach) throw this.#error(root);
        return this.wrap(await backend.attach(root, options));
      },
      close: () => backend.close(),
    };
  }

  /** The driver, failing while a fault is set. */
  wrap(driver: VfsDriver): VfsDriver {
    return new Proxy(driver, {
      get: (target, property) => {
        const value: unknown = Reflect.get(target, property);
        if (typeof value !== 'function' || PASSED_THROUGH.has(property)) return typeof value === 'function' ? value.bind(target) : value;
        const method = value as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          if (this.fault === undefined) return method.apply(target, args);
          const error = this.#error(args[0]);
          if (property === 'list') {
            return {
              [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }),
            };
          }
          return Promise.reject(error);
        };
      },
    });
  }
}
