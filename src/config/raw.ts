/**
 * config.yaml as the admin writes it (snake_case, every default optional), after the schema
 * has accepted it. Mirrors ./schema.ts; ./defaults.ts turns it into the typed Config.
 */
import type { LogFormat, LogLevel, PermissionLevel, ScaleRole } from "./types.js";

export interface RawConfig {
  homeserver: { url: string; domain: string };
  appservice?: {
    port?: number;
    bind_address?: string;
    id?: string;
    bot?: { localpart?: string; display_name?: string; avatar?: string };
  };
  gatekeeper: {
    url: string;
    static_key: string;
    partner_id: string;
    partner_secret: string;
    public_base_url: string;
    listen?: { port?: number; bind_address?: string };
    user_agent?: string;
  };
  database?: { type?: "sqlite" | "postgres"; filename?: string; url?: string };
  bridge?: {
    username_template?: string;
    displayname_template?: string;
    permissions?: Record<string, PermissionLevel>;
    command_prefix?: string;
    space_name?: string;
    max_send_attempts?: number;
    message_requests?: boolean;
    message_status_events?: boolean;
    identity_change?: "keep-sending" | "hold";
    edit_window_seconds?: number;
    media?: {
      max_size_mb?: { image?: number; video?: number; audio?: number; file?: number };
      directory?: string;
      hosted_expiry_seconds?: number;
    };
  };
  logging?: { level?: LogLevel; format?: LogFormat };
  metrics?: { enabled?: boolean; port?: number; bind_address?: string };
  scale?: {
    role?: ScaleRole;
    worker_id?: string;
    lease_seconds?: number;
    renew_seconds?: number;
  };
}

/** The part of config.yaml that generating the registration reads (see REGISTRATION_CONFIG_SCHEMA). */
export interface RawRegistrationConfig {
  homeserver: RawConfig["homeserver"];
  appservice?: RawConfig["appservice"];
  bridge?: { username_template?: string };
}
