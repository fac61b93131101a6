/**
 * The sandbox's limits as data. Defaults follow docs/protocol.md §15 (and the
 * sections it summarises); every one can be overridden per sandbox, e.g. a
 * test that wants the lookup limit after 3 contacts instead of 60.
 */
export interface SandboxLimits {
  /** Largest frame payload accepted (sealed bytes, GCM tag included). §3.1 */
  maxFramePayload: number;
  /** The Noise handshake must complete within this time. §3.2 */
  handshakeTimeoutMs: number;
  /** A connection silent for this long is closed. §10 */
  idleTimeoutMs: number;
  /** How long the partner authentication callback may take. §4.2 */
  partnerAuthTimeoutMs: number;
  /** Malformed or unknown stanzas tolerated per minute before the stream is closed. §5.1 */
  badFramesPerMinute: number;
  /** One-time prekeys per upload. §7.1 */
  prekeysPerUpload: number;
  /** Below this many one-time prekeys the owner is told to refill. §7.2 */
  lowPrekeyThreshold: number;
  /** Users per bundle fetch. §7.3 */
  bundleUsersPerFetch: number;
  /** Contacts per lookup query, and per account per hour. §12.1 */
  lookupContactsPerQuery: number;
  lookupContactsPerHour: number;
  /** New conversations a partner user may start per 24 h. §12.4 */
  newConversationsPerDay: number;
  /** Messages per account per window. §12.4 */
  messagesPerWindow: number;
  messageWindowMs: number;
  /** Largest media blob (upload and proxy). §11 */
  mediaMaxBytes: number;
  /** Lifetime of a media_conn token. §11.2 */
  mediaTokenTtlSeconds: number;
  /** How long the media proxy waits for a partner's media host. */
  mediaProxyTimeoutMs: number;
  /** Queued stanzas expire after this long. §9 */
  queueTtlMs: number;
  /** Enlistment codes. §6 */
  enlistCodeTtlSeconds: number;
  enlistCodeLength: number;
  enlistMaxAttempts: number;
  enlistRequestIntervalMs: number;
  /** Members per group, the creator included. §19.7 */
  groupMembersMax: number;
  /** Groups an account may create per 24 h. §19.7 */
  groupsCreatedPerDay: number;
  /** Subject length in characters. §19.7 */
  groupSubjectMax: number;
  /** Description length in characters. §19.7 */
  groupDescriptionMax: number;
  /** Group picture (JPEG) size. §19.7 */
  groupPictureMaxBytes: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const DEFAULT_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  maxFramePayload: 1_048_576,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  partnerAuthTimeoutMs: 5_000,
  badFramesPerMinute: 20,
  prekeysPerUpload: 812,
  lowPrekeyThreshold: 10,
  bundleUsersPerFetch: 20,
  lookupContactsPerQuery: 20,
  lookupContactsPerHour: 60,
  newConversationsPerDay: 20,
  messagesPerWindow: 50,
  messageWindowMs: 10_000,
  mediaMaxBytes: 100 * 1024 * 1024,
  mediaTokenTtlSeconds: 300,
  mediaProxyTimeoutMs: 30_000,
  queueTtlMs: 30 * DAY,
  enlistCodeTtlSeconds: 600,
  enlistCodeLength: 6,
  enlistMaxAttempts: 5,
  enlistRequestIntervalMs: MINUTE,
  groupMembersMax: 1024,
  groupsCreatedPerDay: 10,
  groupSubjectMax: 100,
  groupDescriptionMax: 2048,
  groupPictureMaxBytes: 256 * 1024,
});

/** Defaults overridden by `overrides`; rejects values that are not positive integers. */
export function resolveLimits(overrides: Partial<SandboxLimits> = {}): SandboxLimits {
  const limits: SandboxLimits = { ...DEFAULT_LIMITS };
  for (const [name, value] of Object.entries(overrides) as [keyof SandboxLimits, unknown][]) {
    if (!(name in DEFAULT_LIMITS)) throw new RangeError(`unknown sandbox limit "${name}"`);
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw new RangeError(`sandbox limit "${name}" must be a positive integer`);
    }
    limits[name] = value;
  }
  return limits;
}

/** The names `parseLimitOverride` accepts, in declaration order. */
export const LIMIT_NAMES: readonly (keyof SandboxLimits)[] = Object.keys(
  DEFAULT_LIMITS,
) as (keyof SandboxLimits)[];

function isLimitName(name: string): name is keyof SandboxLimits {
  return Object.hasOwn(DEFAULT_LIMITS, name);
}

/**
 * One `NAME=VALUE` override, as the sandbox CLI's `--limit` takes it. Values are decimal
 * positive integers (what resolveLimits accepts); throws RangeError saying what is wrong.
 */
export function parseLimitOverride(text: string): [keyof SandboxLimits, number] {
  const eq = text.indexOf("=");
  if (eq < 0) throw new RangeError(`expected NAME=VALUE, not "${text}"`);
  const name = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1).trim();
  if (!isLimitName(name)) {
    throw new RangeError(`unknown limit "${name}"; the limits are: ${LIMIT_NAMES.join(", ")}`);
  }
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, not "${raw}"`);
  }
  return [name, value];
}
