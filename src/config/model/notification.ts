// Notifications to SuperAdmins (a site restarted, a certificate about to expire, repeated
// blocks, ...): replicated like the rest of the config, so every node lists and acknowledges the
// same ones, and bounded so 100,000 events never slow login or listing.
import { int, obj, str } from '../schema.ts';
import type { Static } from '../schema.ts';

/** The newest this many are kept; older ones drop off as new ones arrive. */
export const NOTIFICATIONS_KEPT = 10_000;

export const NOTIFICATION_KINDS = ['site-restarted', 'certificate-expiring', 'repeated-blocks'] as const;

export const NOTIFICATION_SCHEMA = obj({
  /** The config log index it was added at: unique, increasing, the id in /notifications/{id}. */
  id: int(1, Number.MAX_SAFE_INTEGER),
  at: int(0, 8_640_000_000_000_000),
  kind: str({ min: 1, max: 64, line: true }),
  /** What it is about (`site default`, `node n1 admin certificate`): one open notification per kind and subject. */
  subject: str({ min: 1, max: 256, line: true }),
  message: str({ min: 1, max: 1024, line: true }),
});
export type Notification = Static<typeof NOTIFICATION_SCHEMA>;

/** What a proposer sends; the id is the index it lands at. */
export const NEW_NOTIFICATION_SCHEMA = obj({ kind: NOTIFICATION_SCHEMA.properties.kind, subject: NOTIFICATION_SCHEMA.properties.subject, message: NOTIFICATION_SCHEMA.properties.message });
export type NewNotification = Static<typeof NEW_NOTIFICATION_SCHEMA>;
