/**
 * The appservice registration as config.yaml implies it, and the check at start-up that a
 * registration file still fits the config. Pure data: the CLI turns it into
 * matrix-appservice-bridge's AppServiceRegistration.
 */
import { envValue, REGISTRATION_ENV_VARS } from "./env.js";
import type { Env } from "./env.js";
import { ConfigError } from "./errors.js";
import type { ConfigProblem } from "./errors.js";
import { puppetUserIdRegex } from "./namespace.js";
import type { RegistrationConfig } from "./types.js";

/** Third-party protocol id the bridge serves (`protocols` in the registration). */
export const BRIDGE_PROTOCOL = "gatekeeper";

export interface RegistrationDocument {
  id: string;
  url: string;
  as_token: string;
  hs_token: string;
  sender_localpart: string;
  namespaces: {
    users: { exclusive: boolean; regex: string }[];
    aliases: { exclusive: boolean; regex: string }[];
    rooms: { exclusive: boolean; regex: string }[];
  };
  rate_limited: boolean;
  /** MSC2409 stable name, and its unstable one below for older homeservers. */
  receive_ephemeral: boolean;
  "de.sorunome.msc2409.push_ephemeral": boolean;
  protocols: string[];
}

export function registrationFor(
  config: RegistrationConfig,
  options: { url: string; asToken: string; hsToken: string },
): RegistrationDocument {
  return {
    id: config.appservice.id,
    url: options.url,
    as_token: options.asToken,
    hs_token: options.hsToken,
    sender_localpart: config.appservice.bot.localpart,
    namespaces: {
      users: [
        {
          exclusive: true,
          regex: puppetUserIdRegex(config.bridge.usernameTemplate, config.homeserver.domain),
        },
      ],
      aliases: [],
      rooms: [],
    },
    // Puppets relay many users' messages; the homeserver's per-user limits would throttle them.
    rate_limited: false,
    // Typing, receipts and presence reach the bridge only with ephemeral pushes.
    receive_ephemeral: true,
    "de.sorunome.msc2409.push_ephemeral": true,
    protocols: [BRIDGE_PROTOCOL],
  };
}

/** GKB_AS_TOKEN / GKB_HS_TOKEN, where set (empty counts as unset). */
export function registrationTokensFromEnv(env: Env): { asToken?: string; hsToken?: string } {
  const asToken = envValue(env, "GKB_AS_TOKEN");
  const hsToken = envValue(env, "GKB_HS_TOKEN");
  return { ...(asToken ? { asToken } : {}), ...(hsToken ? { hsToken } : {}) };
}

/** What checkRegistration reads; matrix-appservice-bridge's AppServiceRegistration has it. */
export interface RegistrationView {
  getId(): string | null;
  getSenderLocalpart(): string | null;
  getAppServiceToken(): string | null;
  getHomeserverToken(): string | null;
  isUserMatch(userId: string, onlyExclusive: boolean): boolean;
}

/**
 * Throws ConfigError (naming the registration file) when the registration no longer fits
 * the config, e.g. after the bot localpart or the username template was changed without
 * generating the registration again.
 */
export function checkRegistration(
  config: RegistrationConfig,
  reg: RegistrationView,
  source: string,
): void {
  const problems: ConfigProblem[] = [];
  const regen = "generate the registration again with -r and reload it in the homeserver";
  if (reg.getId() !== config.appservice.id) {
    problems.push({
      path: "id",
      message: `is ${JSON.stringify(reg.getId())} but appservice.id is ${JSON.stringify(config.appservice.id)} (${regen})`,
    });
  }
  if (reg.getSenderLocalpart() !== config.appservice.bot.localpart) {
    problems.push({
      path: "sender_localpart",
      message: `is ${JSON.stringify(reg.getSenderLocalpart())} but appservice.bot.localpart is ${JSON.stringify(config.appservice.bot.localpart)} (${regen})`,
    });
  }
  for (const [variable, key] of Object.entries(REGISTRATION_ENV_VARS)) {
    const value = key === "as_token" ? reg.getAppServiceToken() : reg.getHomeserverToken();
    if (!value)
      problems.push({ path: key, message: `is missing (set it in the file or in ${variable})` });
  }
  const probe = config.bridge.usernameTemplate.replace("{{id}}", "probe");
  const puppet = `@${probe}:${config.homeserver.domain}`;
  if (!reg.isUserMatch(puppet, true)) {
    problems.push({
      path: "namespaces.users",
      message: `has no exclusive regex for the puppets (such as ${puppet}) (${regen})`,
    });
  }
  if (problems.length > 0) throw new ConfigError("invalid", source, problems);
}

/** Sets GKB_AS_TOKEN / GKB_HS_TOKEN on a loaded registration. */
export function applyRegistrationEnv(
  reg: { setAppServiceToken(t: string): void; setHomeserverToken(t: string): void },
  env: Env,
): void {
  const t = registrationTokensFromEnv(env);
  if (t.asToken) reg.setAppServiceToken(t.asToken);
  if (t.hsToken) reg.setHomeserverToken(t.hsToken);
}
