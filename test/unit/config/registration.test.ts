import yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import {
  checkRegistration,
  ConfigError,
  isPuppetUserId,
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
