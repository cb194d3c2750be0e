// Checksums of stored files (SFTP check-file, FTP HASH/XCRC, HTTP): streamed, never buffered whole.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import type { ChecksumAlgorithm } from './types.ts';

export async function computeChecksum(stream: Readable, algorithm: ChecksumAlgorithm): Promise<Buffer> {
  if (algorithm === 'crc32') {
    let value = 0;
    for await (const chunk of stream) value = crc32(chunk as Buffer, value);
    const out = Buffer.alloc(4);
    out.writeUInt32BE(value >>> 0);
    return out;
  }
  const hash = createHash(algorithm);
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest();
}
