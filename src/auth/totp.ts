// TOTP second factor (RFC 6238): 30-second steps, six digits, SHA-1 (what every authenticator
// app implements), one step of clock drift either way, and every code accepted once: a code seen
// by a shoulder-surfer or a proxy log cannot be replayed within its window.
import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';

export const TOTP_PERIOD_SECONDS = 30;
const WINDOW_STEPS = 1;

export interface TotpEnrolment {
  /** Base32 secret (sealed by the caller before it enters a command). */
  readonly secret: string;
  readonly uri: string;
  /** PNG of the URI as a QR code, base64. */
  readonly qrPng: string;
}

function totp(secret: string, issuer: string, label: string): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: 6, period: TOTP_PERIOD_SECONDS, secret: Secret.fromBase32(secret) });
}

export async function enrolTotp(issuer: string, label: string): Promise<TotpEnrolment> {
  const secret = new Secret({ buffer: randomBytes(20).buffer }).base32;
  const uri = totp(secret, issuer, label).toString();
  const qrPng = (await QRCode.toBuffer(uri, { type: 'png', errorCorrectionLevel: 'M', margin: 2 })).toString('base64');
  return { secret, uri, qrPng };
}

/**
 * The time step a code belongs to when it is valid now and newer than `lastStep` (the step of
 * the last code accepted), or undefined. The caller stores the returned step so the code is spent.
 */
export function verifyTotp(secret: string, code: string, lastStep: number, now = Date.now()): number | undefined {
  if (!/^[0-9]{6}$/.test(code)) return undefined;
  const delta = totp(secret, 'ferry', 'x').validate({ token: code, timestamp: now, window: WINDOW_STEPS });
  if (delta === null) return undefined;
  const step = Math.floor(now / 1000 / TOTP_PERIOD_SECONDS) + delta;
  return step > lastStep ? step : undefined;
}

/** The current code (tests and the enrolment check of an authenticator app's clock). */
export function totpCode(secret: string, now = Date.now()): string {
  return totp(secret, 'ferry', 'x').generate({ timestamp: now });
}
