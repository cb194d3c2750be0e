// The bar an administrator's password must clear (the Protector issue adds users' rules).
export const MIN_ADMIN_PASSWORD_LENGTH = 10;

export function passwordProblem(password: string): string | undefined {
  if ([...password].length < MIN_ADMIN_PASSWORD_LENGTH) return `must have at least ${MIN_ADMIN_PASSWORD_LENGTH} characters`;
  if (Buffer.byteLength(password) > 1024) return 'must be at most 1024 bytes';
  return undefined;
}
