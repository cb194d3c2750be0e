// The disk driver behind the fault injector of test/helpers/faulty-backend.ts: without a fault it
// must pass the whole contract (so tests that use it see a faithful driver), and with one the
// outage case shows a stale NFS handle as `unavailable`.
import { FaultInjector } from '../helpers/faulty-backend.ts';
import { diskFixture } from './disk-fixture.ts';
import { runVfsDriverContract } from './vfs-driver.contract.ts';

runVfsDriverContract('disk behind a fault injector (ESTALE)', async () => {
  const faults = new FaultInjector();
  return {
    ...(await diskFixture((driver) => faults.wrap(driver))),
    outage: { begin: () => void (faults.fault = 'ESTALE'), end: () => void (faults.fault = undefined) },
  };
});
