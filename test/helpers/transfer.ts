// A Transfer outside a Session, for tests of what carries one (OpenFile, the stream meters): its
// log lines are collected instead of written, and `onEnd` sees how it ended.
import type { TransferLine } from '../../src/session/recorder.ts';
import { Transfer } from '../../src/session/transfer.ts';
import type { TransferDecision, TransferLimiter } from '../../src/session/transfer.ts';

export interface TestTransferOptions {
  readonly path?: string;
  readonly readable?: boolean;
  readonly writable?: boolean;
  readonly decision?: TransferDecision;
  readonly size?: number;
  readonly limiter?: TransferLimiter | null;
  /** The lines the transfer wrote when it ended. */
  readonly onEnd?: (lines: readonly TransferLine[], transfer: Transfer) => void;
}

let ids = 0;

export function testTransfer(options: TestTransferOptions = {}): Transfer {
  const writable = options.writable ?? false;
  let lines: readonly TransferLine[] = [];
  return new Transfer({
    id: `test-transfer-${++ids}`,
    path: options.path ?? '/f',
    decision: options.decision ?? (writable ? 'create' : 'read'),
    readable: options.readable ?? !writable,
    writable,
    size: options.size ?? 0,
    journal: { started: 0, end: (written) => (lines = written) },
    limiter: options.limiter ?? null,
    onEnd: (transfer) => options.onEnd?.(lines, transfer),
  });
}
