// Error kinds of the protocol-neutral core: defined in vfs/errors.ts because drivers (a lower
// layer than session/) raise them too; this module is the name protocols and the session use.
export { ERROR_KINDS, FerryError, isFerryError } from '../vfs/errors.ts';
export type { ErrorKind } from '../vfs/errors.ts';
