import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
import { afterAll, describe, expect, it } from "vitest";
import {
  checkRegistration,
  ConfigError,
  isPuppetUserId,
  loadRegistrationConfig,
  parseConfigText,
  puppetUserIdRegex,
  registrationFor,
} from "../../../src/config/index.js";
import type { RegistrationView } from "../../../src/config/index.js";
import { withConfig } from "./helpers.js";

const config = parseConfigText(withConfig({}), "c", {});

/** A registration as the homeserver would read it, for checkRegistration. */
function view(doc: ReturnType<typeof registrationFor>): RegistrationView {
  const users = doc.namespaces.users.map((n) => ({ re: new RegExp(`^${n.regex}$`), ...n }));
  return {
    getId: () => doc.id,
    getSenderLocalpart: () => doc.sender_localpart,
    getAppServiceToken: () => doc.as_token,
    getHomeserverToken: () => doc.hs_token,
    isUserMatch: (id, onlyExclusive) =>
      users.some((u) => u.re.test(id) && (u.exclusive || !onlyExclusive)),
  };
}

describe("puppet namespace", () => {
  it("derives an escaped regex from the template and the domain", () => {
    expect(puppetUserIdRegex("gk_{{id}}", "example.org")).toBe("@gk_.+:example\\.org");
    expect(puppetUserIdRegex("gk.{{id}}.x", "chat.example.org:8448")).toBe(
      "@gk\\..+\\.x:chat\\.example\\.org:8448",
    );
  });

  it("matches puppets and nothing else", () => {
    expect(isPuppetUserId("@gk_4829103:example.org", "gk_{{id}}", "example.org")).toBe(true);
    expect(isPuppetUserId("@gk_:example.org", "gk_{{id}}", "example.org")).toBe(false);
    expect(isPuppetUserId("@gk_1:exampleXorg", "gk_{{id}}", "example.org")).toBe(false);
    expect(isPuppetUserId("@alice:example.org", "gk_{{id}}", "example.org")).toBe(false);
    expect(isPuppetUserId("@gk_1:example.org.evil", "gk_{{id}}", "example.org")).toBe(false);
  });
});

describe("registrationFor", () => {
  const doc = registrationFor(config, {
    url: "http://localhost:29400",
    asToken: "a",
    hsToken: "h",
  });

  it("fills the registration from the config", () => {
    expect(doc).toEqual({
      id: "gatekeeper",
      url: "http://localhost:29400",
      as_token: "a",
      hs_token: "h",
      sender_localpart: "gatekeeperbot",
      namespaces: {
        users: [{ exclusive: true, regex: "@gk_.+:example\\.org" }],
        aliases: [],
        rooms: [],
      },
      rate_limited: false,
      receive_ephemeral: true,
      "de.sorunome.msc2409.push_ephemeral": true,
      protocols: ["gatekeeper"],
    });
    // The regex survives YAML both ways.
    expect(yaml.load(yaml.dump(doc))).toEqual(doc);
  });

  it("passes the start-up check against the same config", () => {
    expect(() => checkRegistration(config, view(doc), "registration.yaml")).not.toThrow();
  });

  it("fails the start-up check after the config moved on", () => {
    const changed = parseConfigText(
      withConfig({
        appservice: { bot: { localpart: "otherbot" } },
        bridge: { username_template: "gatekeeper_{{id}}" },
      }),
      "c",
      {},
    );
    let error: unknown;
    try {
      checkRegistration(changed, view({ ...doc, as_token: "" }), "registration.yaml");
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const err = error as ConfigError;
    expect(err.problems.map((p) => p.path)).toEqual([
      "sender_localpart",
      "as_token",
      "namespaces.users",
    ]);
    expect(err.message).toContain(
      'registration.yaml: sender_localpart: is "gatekeeperbot" but appservice.bot.localpart is "otherbot"',
    );
    expect(err.message).toContain(
      "registration.yaml: as_token: is missing (set it in the file or in GKB_AS_TOKEN)",
    );
  });
});

describe("loadRegistrationConfig (what -r reads)", () => {
  const dir = mkdtempSync(join(tmpdir(), "gkb-regconfig-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, doc: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, typeof doc === "string" ? doc : yaml.dump(doc));
    return path;
  };
  const problems = (path: string): string[] => {
    try {
      loadRegistrationConfig(path);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
      throw err;
    }
    return [];
  };

  it("needs only the homeserver section: no gatekeeper section, no partner secret", () => {
    const path = file("homeserver-only.yaml", {
      homeserver: { url: "http://localhost:8008/", domain: "example.org" },
    });
    const reg = loadRegistrationConfig(path);
    expect(reg).toEqual({
      homeserver: { url: "http://localhost:8008", domain: "example.org" },
      appservice: {
        port: 29400,
        bindAddress: "127.0.0.1",
        id: "gatekeeper",
        bot: { localpart: "gatekeeperbot", displayName: "Gatekeeper bridge bot", avatar: null },
      },
      bridge: { usernameTemplate: "gk_{{id}}" },
    });
    expect(registrationFor(reg, { url: "u", asToken: "a", hsToken: "h" })).toEqual(
      registrationFor(config, { url: "u", asToken: "a", hsToken: "h" }),
    );
  });

  it("leaves half-written other sections alone", () => {
    const path = file("unfinished.yaml", {
      homeserver: { url: "http://localhost:8008", domain: "example.org" },
      gatekeeper: { url: "wss://to-do", partner_id: "matrix" },
      database: { type: "postgres" },
      bridge: { username_template: "wa_{{id}}", permissions: { "example.org": "user" } },
    });
    expect(loadRegistrationConfig(path).bridge.usernameTemplate).toBe("wa_{{id}}");
  });

  it("still checks what the registration is made of, and unknown sections", () => {
    expect(problems(file("no-homeserver.yaml", { appservice: {} }))).toEqual([
      "homeserver: is required",
    ]);
    expect(
      problems(
        file("bad.yaml", {
          homeserver: { url: "localhost", domain: "example.org" },
          appservice: { id: "not valid", bot: { localpart: "Bot" } },
          bridge: { username_template: "gk_" },
          appservise: {},
        }),
      ),
    ).toEqual([
      expect.stringMatching(/^appservise: unknown key/),
      'homeserver.url: must be an http:// or https:// URL (got "localhost")',
      expect.stringMatching(/^appservice\.id: must be a registration id/),
      expect.stringMatching(/^appservice\.bot\.localpart: must be a user ID localpart/),
      expect.stringMatching(/^bridge\.username_template: must be a localpart template/),
    ]);
    expect(
      problems(
        file("bot-is-puppet.yaml", {
          homeserver: { url: "http://localhost:8008", domain: "example.org" },
          appservice: { bot: { localpart: "gk_bot" } },
        }),
      ),
    ).toEqual([
      "appservice.bot.localpart: must not match bridge.username_template (@gk_bot:example.org would be taken for a puppet)",
    ]);
    expect(problems(file("empty.yaml", "\n"))).toEqual([
      ": must be a YAML mapping of sections (got an empty file)",
    ]);
  });
});
