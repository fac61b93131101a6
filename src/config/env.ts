/**
 * Secrets may come from the environment instead of the file (containers, systemd
 * credentials), and so may what differs between processes that share one file (their scale
 * role and worker id, for systemd template units and container replicas). They are applied
 * to the parsed YAML before validation, so the same checks and messages cover both; a
 * message about such a value names the variable.
 */

export type Env = Readonly<Record<string, string | undefined>>;

/** Environment variable → the config key it sets. */
export const CONFIG_ENV_VARS = {
  GKB_PARTNER_SECRET: "gatekeeper.partner_secret",
  GKB_GATEKEEPER_STATIC_KEY: "gatekeeper.static_key",
  /** Implies database.type postgres (and drops database.filename). */
  GKB_DATABASE_URL: "database.url",
  GKB_SCALE_ROLE: "scale.role",
  GKB_SCALE_WORKER_ID: "scale.worker_id",
} as const;

/** Registration tokens, applied to the registration at run time (see ./registration.ts). */
export const REGISTRATION_ENV_VARS = {
  GKB_AS_TOKEN: "as_token",
  GKB_HS_TOKEN: "hs_token",
} as const;

export interface EnvApplied {
  raw: unknown;
  /** Config key path → the variable its value came from. */
  fromEnv: ReadonlyMap<string, string>;
}

type Mapping = Record<string, unknown>;

function isMapping(v: unknown): v is Mapping {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An empty variable counts as unset, as shells make `FOO=` easy to leave behind. */
export function envValue(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === "" ? undefined : v;
}

/** Returns a copy of `raw` with the environment's values in place; `raw` is not changed. */
export function applyEnv(raw: unknown, env: Env): EnvApplied {
  const fromEnv = new Map<string, string>();
  if (!isMapping(raw)) return { raw, fromEnv };
  const out: Mapping = { ...raw };

  // A section that is there but not a mapping is left alone for the schema to report.
  const section = (name: string): Mapping | undefined => {
    const current = out[name];
    if (current === undefined || current === null) return (out[name] = {}) as Mapping;
    if (!isMapping(current)) return undefined;
    return (out[name] = { ...current });
  };

  const plain = [
    "GKB_PARTNER_SECRET",
    "GKB_GATEKEEPER_STATIC_KEY",
    "GKB_SCALE_ROLE",
    "GKB_SCALE_WORKER_ID",
  ] as const;
  for (const name of plain) {
    const value = envValue(env, name);
    const [sectionName, key] = CONFIG_ENV_VARS[name].split(".") as [string, string];
    const target = value === undefined ? undefined : section(sectionName);
    if (value === undefined || !target) continue;
    target[key] = value;
    fromEnv.set(CONFIG_ENV_VARS[name], name);
  }

  const dbUrl = envValue(env, "GKB_DATABASE_URL");
  const database = dbUrl === undefined ? undefined : section("database");
  if (dbUrl !== undefined && database) {
    delete database.filename;
    database.type = "postgres";
    database.url = dbUrl;
    fromEnv.set("database.url", "GKB_DATABASE_URL");
    fromEnv.set("database.type", "GKB_DATABASE_URL");
  }
  return { raw: out, fromEnv };
}
