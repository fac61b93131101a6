/**
 * Checks the schema cannot express well: which database keys belong to which type, the
 * bot outside the puppets' namespace, listeners on distinct ports, the scale settings
 * against the database and each other.
 */
import type { ConfigProblem } from "./errors.js";
import { isPuppetUserId } from "./namespace.js";
import type { RawConfig } from "./raw.js";
import type { Config, RegistrationConfig } from "./types.js";

/** Database keys that go with the other database type; the schema checked the values. */
export function checkRaw(raw: RawConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const db = raw.database ?? {};
  const type = db.type ?? (db.url !== undefined ? "postgres" : "sqlite");
  if (type === "postgres" && db.url === undefined) {
    problems.push({
      path: "database.url",
      message: "is required when database.type is postgres (or set GKB_DATABASE_URL)",
    });
  }
  if (type === "postgres" && db.filename !== undefined) {
    problems.push({
      path: "database.filename",
      message: "is only used when database.type is sqlite",
    });
  }
  if (type === "sqlite" && db.url !== undefined) {
    problems.push({ path: "database.url", message: "is only used when database.type is postgres" });
  }
  return problems;
}

const WILDCARD_ADDRESSES = new Set(["0.0.0.0", "::", "[::]"]);

function sameSocket(
  a: { port: number; bindAddress: string },
  b: { port: number; bindAddress: string },
) {
  if (a.port !== b.port) return false;
  return (
    a.bindAddress === b.bindAddress ||
    WILDCARD_ADDRESSES.has(a.bindAddress) ||
    WILDCARD_ADDRESSES.has(b.bindAddress)
  );
}

/** The checks that concern the registration: the bot outside the puppets' namespace. */
export function checkRegistrationConfig(config: RegistrationConfig): ConfigProblem[] {
  const bot = `@${config.appservice.bot.localpart}:${config.homeserver.domain}`;
  if (!isPuppetUserId(bot, config.bridge.usernameTemplate, config.homeserver.domain)) return [];
  return [
    {
      path: "appservice.bot.localpart",
      message: `must not match bridge.username_template (${bot} would be taken for a puppet)`,
    },
  ];
}

export function checkResolved(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = checkRegistrationConfig(config);

  const listeners: { path: string; port: number; bindAddress: string }[] = [
    { path: "appservice.port", ...config.appservice },
    { path: "gatekeeper.listen.port", ...config.gatekeeper.listen },
  ];
  if (config.metrics.enabled) listeners.push({ path: "metrics.port", ...config.metrics });
  for (let i = 1; i < listeners.length; i++) {
    const clash = listeners.slice(0, i).find((l) => sameSocket(l, listeners[i]!));
    if (clash) {
      problems.push({
        path: listeners[i]!.path,
        message: `must differ from ${clash.path} (both ${listeners[i]!.port})`,
      });
    }
  }
  problems.push(...checkScale(config));
  return problems;
}

/** Margin a lease keeps beyond two renewal rounds, for a slow round or a clock step. */
const LEASE_MARGIN_SECONDS = 2;

function checkScale(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const { role, leaseSeconds, renewSeconds } = config.scale;
  if (config.database.type === "sqlite" && role !== "all") {
    problems.push({
      path: "scale.role",
      message:
        `can only be "all" with database.type sqlite (got "${role}"): SQLite serves one ` +
        "process, several processes need database.type postgres",
    });
  }
  // A worker that misses one renewal must still hold its logins at the next.
  if (renewSeconds * 2 + LEASE_MARGIN_SECONDS > leaseSeconds) {
    const most = Math.floor((leaseSeconds - LEASE_MARGIN_SECONDS) / 2);
    problems.push({
      path: "scale.renew_seconds",
      message:
        `must be at most ${most} with scale.lease_seconds ${leaseSeconds} (got ${renewSeconds}): ` +
        `a lease must outlast two renewal rounds plus ${LEASE_MARGIN_SECONDS} s`,
    });
  }
  return problems;
}
