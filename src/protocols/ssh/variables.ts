// SSH's wire slots for greeting text: the identification comment (RFC 4253 section 4.2: no
// line break can be injected by a variable) and the pre-auth banner (no terminal escapes). The
// variables themselves are protocol-neutral (session/greeting.ts), shared with FTP.
export { GREETING_VARIABLES, displayAddress, expandVariables, unknownVariables } from '../../session/greeting.ts';
export type { GreetingContext, GreetingVariable } from '../../session/greeting.ts';

/**
 * The comment part of the SSH identification string `SSH-2.0-softwareversion SP comments`:
 * printable US-ASCII only, one line, so the whole line stays within 255 bytes with CRLF.
 */
export function identComment(text: string, maxLength: number): string {
  const oneLine = text.replace(/[^\x20-\x7e]+/g, ' ').replace(/\s+/g, ' ').trim();
  return oneLine.slice(0, Math.max(0, maxLength)).trim();
}

/** A USERAUTH_BANNER (RFC 4252 section 5.4): UTF-8, CRLF line ends, no control characters. */
export function bannerText(text: string): string {
  const clean = text.replace(/\r\n?/g, '\n').replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '');
  if (clean.trim() === '') return '';
  return clean.replace(/\n/g, '\r\n');
}
