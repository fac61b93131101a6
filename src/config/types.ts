/**
 * The bridge's configuration after loading: every default filled in, secrets from the
 * environment applied, values checked. The YAML file uses snake_case (see
 * config.sample.yaml); this typed form uses camelCase.
 */

export type PermissionLevel = "none" | "user" | "admin";
export type LogLevel = "error" | "warn" | "info" | "debug";
export type LogFormat = "text" | "json";

export interface HomeserverConfig {
  /** Client-server API base URL, as the bridge reaches the homeserver. */
  url: string;
  /** Server name: the part after the colon in user IDs. */
  domain: string;
}

export interface BotConfig {
  localpart: string;
  displayName: string;
  /** mxc:// URI, or null to leave the avatar alone. */
  avatar: string | null;
}

export interface AppserviceConfig {
  /** Port for the homeserver's pushes (the CLI's -p overrides it). */
  port: number;
  bindAddress: string;
  /** Registration id; unique on the homeserver, never changed after registering. */
  id: string;
  bot: BotConfig;
}

export interface GatekeeperListenConfig {
  port: number;
  bindAddress: string;
}

export interface GatekeeperConfig {
  /** ws:// or wss:// URL of the interop chat endpoint. */
  url: string;
  /** The gatekeeper's pinned static X25519 public key (32 bytes). */
  staticKey: Uint8Array;
  partnerId: string;
  /** Bearer secret the gatekeeper presents when it calls our partner endpoints. */
  partnerSecret: string;
  /** How the gatekeeper reaches our partner endpoints (no trailing slash). */
  publicBaseUrl: string;
  /** The bridge's own HTTP listener for the partner endpoints. */
  listen: GatekeeperListenConfig;
  userAgent: string;
}

export type DatabaseSettings =
  { type: "sqlite"; filename: string } | { type: "postgres"; url: string };

export interface BridgeSettings {
  /** Puppet localpart template; contains `{{id}}` (the contact's opaque gatekeeper id). */
  usernameTemplate: string;
  /** Puppet display name template; may use `{{name}}`, `{{phone}}` and `{{id}}`. */
  displaynameTemplate: string;
  /** "*", a server name or a full user ID → level. The most specific entry wins. */
  permissions: Readonly<Record<string, PermissionLevel>>;
  commandPrefix: string;
  /** Name of the per-user Matrix space that holds the portals. */
  spaceName: string;
  /** Sends of one Matrix message to the gatekeeper before it is reported as failed. */
  maxSendAttempts: number;
  /** Whether a chat opened by an unknown contact starts as a message request. */
  messageRequests: boolean;
  /**
   * Whether messages that went through get a send status event too (SUCCESS when sent,
   * and naming the contact when delivered). Failures and retries always get one.
   */
  messageStatusEvents: boolean;
  /**
   * When a contact's security code (identity key) changes: keep sending (as the network's
   * own apps do) or hold outgoing messages until the user sends `confirm-identity`.
   */
  identityChange: "keep-sending" | "hold";
  /** How long after sending a message may be edited (the gatekeeper's own limit); 0: never. */
  editWindowSeconds: number;
  media: MediaSettings;
}

export interface MediaSettings {
  /** Largest file relayed, in bytes, per kind (both directions). */
  maxBytes: Readonly<Record<"image" | "video" | "audio" | "file", number>>;
  /** Folder for media in transit: blobs hosted for the gatekeeper, temporary files. */
  directory: string;
  /** How long a blob hosted for the gatekeeper stays fetchable, in seconds. */
  hostedExpirySeconds: number;
}

export interface LoggingConfig {
  level: LogLevel;
  format: LogFormat;
}

export interface MetricsConfig {
  enabled: boolean;
  port: number;
  bindAddress: string;
}

/** What this process does when several share one PostgreSQL (docs/operations.md "Running several processes"). */
export type ScaleRole = "all" | "intake" | "worker";

export interface ScaleSettings {
  /** all: everything (one process, or several alike); intake: the homeserver's pushes and the partner endpoints, no logins; worker: owns logins (and the partner endpoints). */
  role: ScaleRole;
  /** This process's name among the workers; undefined: the host's name (scale/worker-identity.ts). */
  workerId: string | undefined;
  /** How long a worker's hold on a login lasts unless renewed (default 20). */
  leaseSeconds: number;
  /** How often a worker renews its holds and rebalances (default 5). */
  renewSeconds: number;
}

export interface Config {
  homeserver: HomeserverConfig;
  appservice: AppserviceConfig;
  gatekeeper: GatekeeperConfig;
  database: DatabaseSettings;
  bridge: BridgeSettings;
  logging: LoggingConfig;
  metrics: MetricsConfig;
  scale: ScaleSettings;
}

/** What the appservice registration is made from: a Config is one, too. */
export interface RegistrationConfig {
  homeserver: HomeserverConfig;
  appservice: AppserviceConfig;
  bridge: Pick<BridgeSettings, "usernameTemplate">;
}
