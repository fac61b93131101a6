/** Accounts, devices, access tokens, profiles and filters, kept in memory. */
import { createHash, timingSafeEqual } from "node:crypto";
import { newAccessToken, newDeviceId, parseUserId } from "./ids.js";
import type { JsonObject } from "./types.js";

export interface UserRecord {
  userId: string;
  passwordHash?: Buffer;
  /** The application service that registered this user, if any. */
  appServiceId?: string;
  displayname?: string;
  avatar_url?: string;
  filters: Map<string, JsonObject>;
  devices: Map<string, { displayName?: string; lastSeenTs: number }>;
}

export interface TokenRecord {
  userId: string;
  deviceId: string;
}

const hash = (password: string): Buffer => createHash("sha256").update(password).digest();

export class UserStore {
  private users = new Map<string, UserRecord>();
  private tokens = new Map<string, TokenRecord>();
  private nextFilterId = 0;

  constructor(readonly serverName: string) {}

  get(userId: string): UserRecord | undefined {
    return this.users.get(userId);
  }

  exists(userId: string): boolean {
    return this.users.has(userId);
  }

  isLocal(userId: string): boolean {
    return parseUserId(userId)?.server === this.serverName;
  }

  create(localpart: string, opts: { password?: string; appServiceId?: string }): UserRecord {
    const userId = `@${localpart}:${this.serverName}`;
    const record: UserRecord = {
      userId,
      filters: new Map(),
      devices: new Map(),
      // Synapse's default display name is the localpart.
      displayname: localpart,
    };
    if (opts.password !== undefined) record.passwordHash = hash(opts.password);
    if (opts.appServiceId !== undefined) record.appServiceId = opts.appServiceId;
    this.users.set(userId, record);
    return record;
  }

  checkPassword(userId: string, password: string): boolean {
    const stored = this.users.get(userId)?.passwordHash;
    return stored !== undefined && timingSafeEqual(stored, hash(password));
  }

  /** Log in a device: a new access token for it (a new device id unless one is given). */
  issueToken(
    userId: string,
    deviceId?: string,
    displayName?: string,
  ): TokenRecord & { accessToken: string } {
    const user = this.users.get(userId);
    if (!user) throw new Error(`no such user ${userId}`);
    const device = deviceId ?? newDeviceId();
    // Logging in again with the same device id replaces that device's old token.
    for (const [token, rec] of this.tokens) {
      if (rec.userId === userId && rec.deviceId === device) this.tokens.delete(token);
    }
    const existing = user.devices.get(device);
    user.devices.set(device, {
      displayName: displayName ?? existing?.displayName,
      lastSeenTs: Date.now(),
    });
    const accessToken = newAccessToken(parseUserId(userId)?.localpart ?? "user");
    this.tokens.set(accessToken, { userId, deviceId: device });
    return { accessToken, userId, deviceId: device };
  }

  lookupToken(accessToken: string): TokenRecord | undefined {
    return this.tokens.get(accessToken);
  }

  revokeToken(accessToken: string): void {
    const rec = this.tokens.get(accessToken);
    if (!rec) return;
    this.tokens.delete(accessToken);
    this.users.get(rec.userId)?.devices.delete(rec.deviceId);
  }

  revokeAll(userId: string): void {
    for (const [token, rec] of this.tokens) if (rec.userId === userId) this.tokens.delete(token);
    this.users.get(userId)?.devices.clear();
  }

  addFilter(userId: string, filter: JsonObject): string {
    const user = this.users.get(userId);
    if (!user) throw new Error(`no such user ${userId}`);
    const id = String(this.nextFilterId++);
    user.filters.set(id, filter);
    return id;
  }

  allUserIds(): string[] {
    return [...this.users.keys()];
  }
}
