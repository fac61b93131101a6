import yaml from "js-yaml";
import { ConfigError, parseConfigText } from "../../../src/config/index.js";

/** 32 bytes of base64, as the gatekeeper's static key. */
export const KEY_B64 = Buffer.alloc(32, 7).toString("base64");
export const SECRET = "s3cret-shared-with-the-gatekeeper";

/** The smallest valid config file: every required key, nothing else. */
export function minimal(): Record<string, Record<string, unknown>> {
  return {
    homeserver: { url: "https://matrix.example.org", domain: "example.org" },
    gatekeeper: {
      url: "wss://interop.gatekeeper.example/gki/1/chat",
      static_key: KEY_B64,
      partner_id: "matrix",
      partner_secret: SECRET,
      public_base_url: "https://bridge.example.org",
    },
  };
}

/** minimal() with sections merged in (a section given replaces keys, not the whole section). */
export function withConfig(extra: Record<string, Record<string, unknown>>): string {
  const base = minimal();
  for (const [section, values] of Object.entries(extra)) {
    base[section] = { ...(base[section] ?? {}), ...values };
  }
  return yaml.dump(base);
}

/** The ConfigError parseConfigText throws for `text` (named config.yaml in messages). */
export function errorFor(text: string, env: Record<string, string> = {}): ConfigError {
  try {
    parseConfigText(text, "config.yaml", env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("the config was accepted");
}
