import { diskFixture } from './disk-fixture.ts';
import { runVfsDriverContract } from './vfs-driver.contract.ts';

runVfsDriverContract('disk', () => diskFixture());
