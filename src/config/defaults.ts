/**
 * Defaults, in code (not in the schema), so the typed Config never has a missing value.
 * config.sample.yaml shows the same values; a unit test keeps the two in step.
 */
import { createRequire } from "node:module";
import { decodeBase64 } from "./base64.js";
import type { RawConfig, RawRegistrationConfig } from "./raw.js";
import type { AppserviceConfig, Config, PermissionLevel, RegistrationConfig } from "./types.js";

export const CONFIG_DEFAULTS = {
  appservice: {
    port: 29400,
    bind_address: "127.0.0.1",
    id: "gatekeeper",
    bot: { localpart: "gatekeeperbot", display_name: "Gatekeeper bridge bot" },
  },
  gatekeeper: { listen: { port: 29401, bind_address: "127.0.0.1" } },
  database: { type: "sqlite", filename: "./data/bridge.sqlite" },
  bridge: {
    username_template: "gk_{{id}}",
    displayname_template: "{{name}} (Gatekeeper)",
    command_prefix: "!gk",
    space_name: "Gatekeeper chats",
    max_send_attempts: 10,
    message_requests: true,
    message_status_events: true,
    identity_change: "keep-sending",
    edit_window_seconds: 900,
    media: {
      max_size_mb: { image: 16, video: 64, audio: 16, file: 100 },
      directory: "./data/media",
      hosted_expiry_seconds: 604_800,
    },
  },
  logging: { level: "info", format: "text" },
  metrics: { enabled: false, port: 29402, bind_address: "127.0.0.1" },
  scale: { role: "all", lease_seconds: 20, renew_seconds: 5 },
} as const;

function packageVersion(): string {
  // ../../package.json from both src/config and dist/config.
  const pkg: unknown = createRequire(import.meta.url)("../../package.json");
  const version =
    typeof pkg === "object" && pkg !== null && "version" in pkg ? pkg.version : undefined;
  return typeof version === "string" ? version : "0.0.0";
}

/** The version in the bridge's package.json (also when run as `node dist/cli.js`, outside npm). */
export const BRIDGE_VERSION = packageVersion();

/** What the bridge tells the gatekeeper it is, unless gatekeeper.user_agent says otherwise. */
export const DEFAULT_USER_AGENT = `matrix-gatekeeper-bridge/${BRIDGE_VERSION}`;

/** Without a permissions section, users of the bridge's own homeserver may use it. */
export function defaultPermissions(domain: string): Record<string, PermissionLevel> {
  return { [domain]: "user" };
}

/** Fills in the defaults. Expects a RawConfig the schema and the semantic checks accepted. */
export function resolveConfig(raw: RawConfig): Config {
  const d = CONFIG_DEFAULTS;
  const gk = raw.gatekeeper;
  const db = raw.database ?? {};
  const br = raw.bridge ?? {};
  const isPostgres = db.type === "postgres" || (db.type === undefined && db.url !== undefined);
  return {
    homeserver: { url: stripSlash(raw.homeserver.url), domain: raw.homeserver.domain },
    appservice: resolveAppservice(raw.appservice),
    gatekeeper: {
      url: gk.url,
      // The schema checked it is 32 bytes of base64.
      staticKey: decodeBase64(gk.static_key) ?? new Uint8Array(),
      partnerId: gk.partner_id,
      partnerSecret: gk.partner_secret,
      publicBaseUrl: stripSlash(gk.public_base_url),
      listen: {
        port: gk.listen?.port ?? d.gatekeeper.listen.port,
        bindAddress: gk.listen?.bind_address ?? d.gatekeeper.listen.bind_address,
      },
      userAgent: gk.user_agent ?? DEFAULT_USER_AGENT,
    },
    database: isPostgres
      ? { type: "postgres", url: db.url ?? "" }
      : { type: "sqlite", filename: db.filename ?? d.database.filename },
    bridge: {
      usernameTemplate: br.username_template ?? d.bridge.username_template,
      displaynameTemplate: br.displayname_template ?? d.bridge.displayname_template,
      permissions: br.permissions ?? defaultPermissions(raw.homeserver.domain),
      commandPrefix: br.command_prefix ?? d.bridge.command_prefix,
      spaceName: br.space_name ?? d.bridge.space_name,
      maxSendAttempts: br.max_send_attempts ?? d.bridge.max_send_attempts,
      messageRequests: br.message_requests ?? d.bridge.message_requests,
      messageStatusEvents: br.message_status_events ?? d.bridge.message_status_events,
      identityChange: br.identity_change ?? d.bridge.identity_change,
      editWindowSeconds: br.edit_window_seconds ?? d.bridge.edit_window_seconds,
      media: resolveMedia(br.media),
    },
    logging: {
      level: raw.logging?.level ?? d.logging.level,
      format: raw.logging?.format ?? d.logging.format,
    },
    metrics: {
      enabled: raw.metrics?.enabled ?? d.metrics.enabled,
      port: raw.metrics?.port ?? d.metrics.port,
      bindAddress: raw.metrics?.bind_address ?? d.metrics.bind_address,
    },
    scale: {
      role: raw.scale?.role ?? d.scale.role,
      workerId: raw.scale?.worker_id,
      leaseSeconds: raw.scale?.lease_seconds ?? d.scale.lease_seconds,
      renewSeconds: raw.scale?.renew_seconds ?? d.scale.renew_seconds,
    },
  };
}

/** Fills in the defaults of what the registration is made from. */
export function resolveRegistrationConfig(raw: RawRegistrationConfig): RegistrationConfig {
  return {
    homeserver: { url: stripSlash(raw.homeserver.url), domain: raw.homeserver.domain },
    appservice: resolveAppservice(raw.appservice),
    bridge: {
      usernameTemplate: raw.bridge?.username_template ?? CONFIG_DEFAULTS.bridge.username_template,
    },
  };
}

function resolveAppservice(raw: RawConfig["appservice"]): AppserviceConfig {
  const d = CONFIG_DEFAULTS.appservice;
  const as = raw ?? {};
  return {
    port: as.port ?? d.port,
    bindAddress: as.bind_address ?? d.bind_address,
    id: as.id ?? d.id,
    bot: {
      localpart: as.bot?.localpart ?? d.bot.localpart,
      displayName: as.bot?.display_name ?? d.bot.display_name,
      avatar: as.bot?.avatar ?? null,
    },
  };
}

const MB = 1024 * 1024;

function resolveMedia(raw: NonNullable<RawConfig["bridge"]>["media"]): Config["bridge"]["media"] {
  const d = CONFIG_DEFAULTS.bridge.media;
  const mb = raw?.max_size_mb ?? {};
  const bytes = (v: number): number => Math.floor(v * MB);
  return {
    maxBytes: {
      image: bytes(mb.image ?? d.max_size_mb.image),
      video: bytes(mb.video ?? d.max_size_mb.video),
      audio: bytes(mb.audio ?? d.max_size_mb.audio),
      file: bytes(mb.file ?? d.max_size_mb.file),
    },
    directory: raw?.directory ?? d.directory,
    hostedExpirySeconds: raw?.hosted_expiry_seconds ?? d.hosted_expiry_seconds,
  };
}

// Callers append paths ("/_gki/v1/auth", "/_matrix/..."); a trailing slash would double it.
function stripSlash(url: string): string {
  return url.replace(/\/+$/, "");
}
