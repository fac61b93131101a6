import type { RemoteIdentity, StoredSenderKey, StoredSession } from "./sql-records.js";

/**
 * What is known of one peer's Signal rows. A slot that is undefined is not known (read the
 * database); null means known to be absent. Values are never changed in place, only replaced.
 */
export interface PeerRecords {
  /** Session per device id. */
  sessions: Map<number, StoredSession | null>;
  /** `sessions` names every device that has a session: any other has none. */
  allSessions: boolean;
  identity: RemoteIdentity | null | undefined;
  /** The peer's sender keys (groups, §19.5) per senderKeySlot(device id, distribution id). */
  senderKeys: Map<string, StoredSenderKey | null>;
}

export function emptyPeer(): PeerRecords {
  return { sessions: new Map(), allSessions: false, identity: undefined, senderKeys: new Map() };
}

/** Where a sender key is kept in PeerRecords.senderKeys. */
export function senderKeySlot(deviceId: number, distributionId: string): string {
  return `${deviceId}/${distributionId}`;
}

export function knownSession(
  peer: PeerRecords | undefined,
  deviceId: number,
): StoredSession | null | undefined {
  if (!peer) return undefined;
  const session = peer.sessions.get(deviceId);
  if (session !== undefined) return session;
  return peer.allSessions ? null : undefined;
}

/** Copies what `from` knows over `into` (the newer knowledge wins). */
export function mergePeer(into: PeerRecords, from: PeerRecords): void {
  if (from.allSessions) {
    into.sessions = new Map(from.sessions);
    into.allSessions = true;
  } else {
    for (const [deviceId, session] of from.sessions) into.sessions.set(deviceId, session);
  }
  if (from.identity !== undefined) into.identity = from.identity;
  for (const [slot, key] of from.senderKeys) into.senderKeys.set(slot, key);
}

/**
 * Peers whose records the default cache keeps, across every account of the process. An
 * entry costs about 5–7 KB (a session record with its post-quantum ratchet state is 4–6 KB
 * serialized, plus the identity row and the map), so the default stays around 10–15 MB
 * however many logins the process holds. Each of the peer's sender keys (one per group we
 * share, and per rotation) adds about 100 bytes, plus ~40 per message key libsignal keeps for
 * a group message skipped and not yet received (at most 2000).
 */
export const DEFAULT_CACHE_PEERS = 2048;

/**
 * The committed Signal rows (sessions, peer identities) of recently active peers, least
 * recently used evicted first. Only committed state is kept here: a transaction's writes
 * enter once it committed (see AccountScope). Entries are keyed per account scope and peer.
 */
export class SignalRecordCache {
  private readonly entries = new Map<string, PeerRecords>();

  constructor(readonly maxPeers: number = DEFAULT_CACHE_PEERS) {
    if (!Number.isInteger(maxPeers) || maxPeers < 0) {
      throw new RangeError(`the cache size must be a whole number of peers, not ${maxPeers}`);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry of `key`. Reading does not count as use: every operation ends in merge(). */
  get(key: string): PeerRecords | undefined {
    return this.entries.get(key);
  }

  /** Adds what `known` tells about `key` to its entry, now the most recently used. */
  merge(key: string, known: PeerRecords): void {
    if (this.maxPeers === 0) return;
    let entry = this.entries.get(key);
    if (entry) this.entries.delete(key);
    else entry = emptyPeer();
    this.entries.set(key, entry);
    mergePeer(entry, known);
    this.evict();
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  private evict(): void {
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.maxPeers) return;
      this.entries.delete(key);
    }
  }
}

/** The cache every account uses unless given its own. */
export const sharedRecordCache = new SignalRecordCache();
