import type { Config, PermissionLevel } from "./types.js";

/**
 * What a Matrix user may do with the bridge. The most specific entry of
 * bridge.permissions wins: the user ID, then their server name, then "*"; no entry → "none".
 */
export function permissionLevel(config: Pick<Config, "bridge">, mxid: string): PermissionLevel {
  const perms = config.bridge.permissions;
  const lookup = (key: string): PermissionLevel | undefined =>
    Object.hasOwn(perms, key) ? perms[key] : undefined;
  const colon = mxid.indexOf(":");
  const domain = mxid.startsWith("@") && colon > 1 ? mxid.slice(colon + 1) : undefined;
  return (
    lookup(mxid) ?? (domain !== undefined ? lookup(domain) : undefined) ?? lookup("*") ?? "none"
  );
}

const RANK: Record<PermissionLevel, number> = { none: 0, user: 1, admin: 2 };

/** Whether `level` is at least `needed` (admin includes user). */
export function hasPermission(level: PermissionLevel, needed: PermissionLevel): boolean {
  return RANK[level] >= RANK[needed];
}
