// The bar an administrator's password must clear: the users' policy (config/password-policy.ts:
// classes, never the name, never a common password) with a longer minimum, because an
// administrator's password opens every account.
import { passwordProblem as userPasswordProblem } from '../../config/password-policy.ts';

export const MIN_ADMIN_PASSWORD_LENGTH = 10;

export function passwordProblem(password: string, name = ''): string | undefined {
  if ([...password].length < MIN_ADMIN_PASSWORD_LENGTH) return `must have at least ${MIN_ADMIN_PASSWORD_LENGTH} characters`;
  // Callers name the field ("the password ...", "body.password: ..."): drop the policy's own subject.
  return userPasswordProblem(password, name)?.replace(/^the password /, '');
}
