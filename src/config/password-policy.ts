// Password complexity for users, checked wherever a password is set (ferry passwd, CSV import;
// the admin API will call the same function): long enough, not one character class only, not
// the username itself, and not one of the passwords attackers try first (the reference product's
// "enforcing password complexity rules", against SSHPsycho-style dictionary runs). The common
// list is small and kept here on purpose: it is what brute-force tools try in their first
// seconds, which the Protector's thresholds do not leave them time to go beyond.
// Pure: no I/O.

export const MIN_PASSWORD_LENGTH = 8;
/** From this length a passphrase of one character class (lowercase words) is long enough. */
export const PASSPHRASE_LENGTH = 16;

const COMMON = new Set([
  '123456', '1234567', '12345678', '123456789', '1234567890', '12345678910', '111111', '000000',
  'password', 'password1', 'password123', 'passw0rd', 'p@ssw0rd', 'p@ssword', 'qwerty', 'qwerty123',
  'qwertyuiop', 'abc123', 'abcd1234', '1q2w3e4r', '1qaz2wsx', 'zaq12wsx', 'iloveyou', 'admin',
  'admin123', 'administrator', 'root', 'toor', 'letmein', 'welcome', 'welcome1', 'monkey',
  'dragon', 'football', 'baseball', 'sunshine', 'princess', 'master', 'shadow', 'superman',
  'trustno1', 'changeme', 'default', 'test', 'test123', 'testtest', 'guest', 'oracle', 'ubuntu',
  'raspberry', 'secret', 'qazwsx', 'asdfghjkl', 'asdf1234', '987654321', 'michael', 'charlie',
  'login', 'starwars', 'whatever', 'freedom', 'hello123', 'summer2024', 'winter2024', 'spring2025',
]);

function classes(password: string): number {
  return [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
}

/** Why `password` is refused for `username`, or undefined when it is acceptable. */
export function passwordProblem(password: string, username: string): string | undefined {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) return `the password must have at least ${MIN_PASSWORD_LENGTH} characters`;
  const lower = password.toLowerCase();
  if (COMMON.has(lower) || COMMON.has(lower.replace(/[0-9!.]+$/, ''))) return 'the password is one of the most common passwords, which attackers try first; choose another';
  if (username !== '' && lower === username.toLowerCase()) return 'the password must not be the username';
  if (length < PASSPHRASE_LENGTH && classes(password) < 2) {
    return `the password must mix at least two kinds of characters (lowercase, uppercase, digits, others), or be at least ${PASSPHRASE_LENGTH} characters long`;
  }
  return undefined;
}
