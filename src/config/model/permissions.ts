// The vocabulary of what a user may do, shared by every protocol. Names match the CSV import
// format and the admin API, so they are part of the operator interface: never rename one.

export const PERMISSIONS = [
  'dirList',
  'dirMake',
  'dirRename',
  'dirDelete',
  'dirEditMetadata',
  'fileGet',
  'filePut',
  'fileModify',
  'symlink',
  'fileRename',
  'fileDelete',
  'fileEditMetadata',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const SUBSYSTEMS = [
  'ssh2_shell',
  'ssh2_command',
  'ssh2_scp',
  'ssh2_sftp',
  'ftp',
  'ftps',
  'ftpes',
  'https',
  'https_sharing',
] as const;
export type Subsystem = (typeof SUBSYSTEMS)[number];

export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}

export function isSubsystem(value: string): value is Subsystem {
  return (SUBSYSTEMS as readonly string[]).includes(value);
}
