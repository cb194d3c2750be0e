// The sealed-secret format, separate from secrets.ts (which does I/O) so that validation can
// recognise a sealed value without importing key handling.

/** Version 1: AES-256-GCM, `fsec1:` + base64(iv[12] | tag[16] | ciphertext). */
export const SEALED_PREFIX = 'fsec1:';

const SEALED = /^fsec1:[A-Za-z0-9+/]{38,}={0,2}$/;

/** Whether `value` has the shape of a sealed secret (not whether it opens). */
export function isSealed(value: string): boolean {
  return SEALED.test(value);
}
