import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  ConfigError,
  DEFAULT_USER_AGENT,
  loadConfig,
  parseConfigText,
} from "../../../src/config/index.js";
import yaml from "js-yaml";
import { SECRET, errorFor, minimal, withConfig } from "./helpers.js";

describe("loading the config", () => {
  it("fills in every default around the required keys", () => {
    const c = parseConfigText(yaml.dump(minimal()), "config.yaml", {});
    expect(c.appservice).toEqual({
      port: 29400,
      bindAddress: "127.0.0.1",
      id: "gatekeeper",
      bot: { localpart: "gatekeeperbot", displayName: "Gatekeeper bridge bot", avatar: null },
    });
    expect(c.gatekeeper.listen).toEqual({ port: 29401, bindAddress: "127.0.0.1" });
    expect(c.gatekeeper.userAgent).toBe(DEFAULT_USER_AGENT);
    expect(c.gatekeeper.userAgent).toMatch(/^matrix-gatekeeper-bridge\/\d+\.\d+\.\d+/);
    expect(c.gatekeeper.staticKey).toEqual(new Uint8Array(32).fill(7));
    expect(c.gatekeeper.partnerSecret).toBe(SECRET);
    expect(c.database).toEqual({ type: "sqlite", filename: "./data/bridge.sqlite" });
    expect(c.bridge).toEqual({
      usernameTemplate: "gk_{{id}}",
      displaynameTemplate: "{{name}} (Gatekeeper)",
      permissions: { "example.org": "user" },
      commandPrefix: "!gk",
      spaceName: "Gatekeeper chats",
      maxSendAttempts: 10,
      messageRequests: true,
      messageStatusEvents: true,
      identityChange: "keep-sending",
      editWindowSeconds: 900,
      media: {
        maxBytes: { image: 16 << 20, video: 64 << 20, audio: 16 << 20, file: 100 << 20 },
        directory: "./data/media",
        hostedExpirySeconds: 604_800,
      },
    });
    expect(c.logging).toEqual({ level: "info", format: "text" });
    expect(c.metrics).toEqual({ enabled: false, port: 29402, bindAddress: "127.0.0.1" });
  });

  it("keeps the values the file sets and drops trailing slashes from base URLs", () => {
    const c = parseConfigText(
      withConfig({
        homeserver: { url: "https://matrix.example.org/" },
        gatekeeper: { public_base_url: "https://bridge.example.org/gk/", user_agent: "test/1" },
        appservice: { port: 8090, bot: { localpart: "gkbot", avatar: "mxc://example.org/abc" } },
        bridge: { permissions: { "*": "user", "@boss:example.org": "admin" } },
        logging: { level: "debug", format: "json" },
      }),
      "config.yaml",
      {},
    );
    expect(c.homeserver.url).toBe("https://matrix.example.org");
    expect(c.gatekeeper.publicBaseUrl).toBe("https://bridge.example.org/gk");
    expect(c.gatekeeper.userAgent).toBe("test/1");
    expect(c.appservice.port).toBe(8090);
    expect(c.appservice.bot).toEqual({
      localpart: "gkbot",
      displayName: "Gatekeeper bridge bot",
      avatar: "mxc://example.org/abc",
    });
    expect(c.bridge.permissions).toEqual({ "*": "user", "@boss:example.org": "admin" });
    expect(c.logging).toEqual({ level: "debug", format: "json" });
  });

  it("names a static key of the wrong length and how long it was", () => {
    const short = Buffer.alloc(12).toString("base64");
    const err = errorFor(withConfig({ gatekeeper: { static_key: short } }));
    expect(err.code).toBe("invalid");
    expect(err.message).toBe(
      "config.yaml: gatekeeper.static_key: must be 32 bytes of base64 (got 12 bytes)",
    );
  });

  it("refuses a static key that is not base64", () => {
    const err = errorFor(withConfig({ gatekeeper: { static_key: "not base64!" } }));
    expect(err.message).toBe(
      "config.yaml: gatekeeper.static_key: must be 32 bytes of base64 (not valid base64)",
    );
  });

  it("refuses unknown keys by name, at any depth", () => {
    const err = errorFor(
      withConfig({ homeserver: { urll: "x" }, appservice: { bot: { name: "x" } }, extra: {} }),
    );
    expect(err.problems.map((p) => p.path).sort()).toEqual(
      ["appservice.bot.name", "extra", "homeserver.urll"].sort(),
    );
    expect(err.message).toContain(
      "config.yaml: homeserver.urll: unknown key (known keys here: url, domain)",
    );
  });

  it("reports every problem at once, one line each", () => {
    const err = errorFor(
      withConfig({
        gatekeeper: { url: "https://not-a-websocket.example" },
        logging: { level: "loud" },
        appservice: { port: 70000 },
      }),
    );
    expect(err.message.split("\n").sort()).toEqual([
      "config.yaml: appservice.port: must be a port number (1-65535) (got 70000)",
      'config.yaml: gatekeeper.url: must be a ws:// or wss:// URL (got "https://not-a-websocket.example")',
      'config.yaml: logging.level: must be one of "error", "warn", "info", "debug" (got "loud")',
    ]);
  });

  it("says which required key is missing and which variable could set it", () => {
    const cfg = minimal();
    delete cfg.gatekeeper!.partner_secret;
    delete cfg.homeserver!.domain;
    const err = errorFor(yaml.dump(cfg));
    expect(err.message).toContain("config.yaml: homeserver.domain: is required");
    expect(err.message).toContain(
      "config.yaml: gatekeeper.partner_secret: is required (or set GKB_PARTNER_SECRET)",
    );
  });

  it("never repeats a secret's value in a message", () => {
    const err = errorFor(
      withConfig({
        gatekeeper: { partner_secret: "short-secret" },
        database: { type: "postgres", url: "mysql://u:hunter2@db/x" },
      }),
    );
    expect(err.message).toContain(
      "gatekeeper.partner_secret: must be a secret of at least 16 characters",
    );
    expect(err.message).toContain("database.url: must be a postgres:// or postgresql:// URL");
    expect(err.message).not.toContain("short-secret");
    expect(err.message).not.toContain("hunter2");
  });

  it("quotes map keys that are not plain words", () => {
    const err = errorFor(
      withConfig({ bridge: { permissions: { "example.org": "root", "not a key": "user" } } }),
    );
    expect(err.message).toContain(
      'config.yaml: bridge.permissions["example.org"]: must be one of "user", "admin" or "none" (got "root")',
    );
    expect(err.message).toContain(
      'config.yaml: bridge.permissions["not a key"]: is not a valid key here',
    );
  });

  it("insists on {{id}} in the username template", () => {
    const err = errorFor(withConfig({ bridge: { username_template: "gk_{{name}}" } }));
    expect(err.problems[0]?.path).toBe("bridge.username_template");
    expect(err.problems[0]?.message).toMatch(/containing \{\{id\}\}/);
  });

  it("refuses unknown placeholders in the display name template", () => {
    const err = errorFor(withConfig({ bridge: { displayname_template: "{{nick}} (GK)" } }));
    expect(err.problems[0]?.path).toBe("bridge.displayname_template");
    expect(
      parseConfigText(
        withConfig({ bridge: { displayname_template: "{{name}} {{phone}} {{id}}" } }),
        "c",
        {},
      ).bridge.displaynameTemplate,
    ).toBe("{{name}} {{phone}} {{id}}");
  });

  it("keeps the bot out of the puppets' namespace", () => {
    const err = errorFor(withConfig({ appservice: { bot: { localpart: "gk_bot" } } }));
    expect(err.problems).toEqual([
      {
        path: "appservice.bot.localpart",
        message: expect.stringContaining("must not match bridge.username_template"),
      },
    ]);
  });

  it("refuses two listeners on one port", () => {
    const err = errorFor(
      withConfig({
        gatekeeper: { listen: { port: 29400 } },
        metrics: { enabled: true, port: 29400, bind_address: "0.0.0.0" },
      }),
    );
    expect(err.problems.map((p) => p.path)).toEqual(["gatekeeper.listen.port", "metrics.port"]);
    // Different addresses may share a port number.
    const ok = parseConfigText(
      withConfig({ gatekeeper: { listen: { port: 29400, bind_address: "127.0.0.2" } } }),
      "c",
      {},
    );
    expect(ok.gatekeeper.listen.port).toBe(29400);
  });

  describe("database", () => {
    it("takes postgres with a url", () => {
      const c = parseConfigText(
        withConfig({ database: { type: "postgres", url: "postgres://u:p@db/bridge" } }),
        "c",
        {},
      );
      expect(c.database).toEqual({ type: "postgres", url: "postgres://u:p@db/bridge" });
    });

    it("needs a url for postgres and refuses keys of the other type", () => {
      expect(errorFor(withConfig({ database: { type: "postgres" } })).message).toBe(
        "config.yaml: database.url: is required when database.type is postgres (or set GKB_DATABASE_URL)",
      );
      expect(
        errorFor(withConfig({ database: { type: "sqlite", url: "postgres://db/x" } })).problems,
      ).toEqual([{ path: "database.url", message: "is only used when database.type is postgres" }]);
      expect(
        errorFor(
          withConfig({ database: { type: "postgres", url: "postgres://db/x", filename: "a.db" } }),
        ).problems,
      ).toEqual([
        { path: "database.filename", message: "is only used when database.type is sqlite" },
      ]);
    });
  });

  describe("environment", () => {
    it("lets the environment supply and override secrets", () => {
      const cfg = minimal();
      delete cfg.gatekeeper!.partner_secret;
      const otherKey = Buffer.alloc(32, 9).toString("base64");
      const c = parseConfigText(yaml.dump(cfg), "c", {
        GKB_PARTNER_SECRET: "from-the-environment-1234",
        GKB_GATEKEEPER_STATIC_KEY: otherKey,
      });
      expect(c.gatekeeper.partnerSecret).toBe("from-the-environment-1234");
      expect(c.gatekeeper.staticKey).toEqual(new Uint8Array(32).fill(9));
      // The file's own value loses to the environment.
      const c2 = parseConfigText(yaml.dump(minimal()), "c", {
        GKB_PARTNER_SECRET: "from-the-environment-1234",
      });
      expect(c2.gatekeeper.partnerSecret).toBe("from-the-environment-1234");
    });

    it("switches to postgres with GKB_DATABASE_URL", () => {
      const c = parseConfigText(
        withConfig({ database: { type: "sqlite", filename: "./x.sqlite" } }),
        "c",
        { GKB_DATABASE_URL: "postgresql://bridge@db/bridge" },
      );
      expect(c.database).toEqual({ type: "postgres", url: "postgresql://bridge@db/bridge" });
    });

    it("treats an empty variable as unset", () => {
      const c = parseConfigText(yaml.dump(minimal()), "c", {
        GKB_PARTNER_SECRET: "",
        GKB_DATABASE_URL: "",
      });
      expect(c.gatekeeper.partnerSecret).toBe(SECRET);
      expect(c.database.type).toBe("sqlite");
    });

    it("names the variable when its value is wrong", () => {
      const err = errorFor(yaml.dump(minimal()), {
        GKB_GATEKEEPER_STATIC_KEY: Buffer.alloc(16).toString("base64"),
      });
      expect(err.message).toBe(
        "config.yaml: gatekeeper.static_key (from GKB_GATEKEEPER_STATIC_KEY): must be 32 bytes of base64 (got 16 bytes)",
      );
    });

    it("uses process.env when no environment is passed", () => {
      const cfg = minimal();
      delete cfg.gatekeeper!.partner_secret;
      const before = process.env.GKB_PARTNER_SECRET;
      process.env.GKB_PARTNER_SECRET = "set-in-process-env-123";
      try {
        expect(parseConfigText(yaml.dump(cfg), "c").gatekeeper.partnerSecret).toBe(
          "set-in-process-env-123",
        );
      } finally {
        if (before === undefined) delete process.env.GKB_PARTNER_SECRET;
        else process.env.GKB_PARTNER_SECRET = before;
      }
    });
  });

  describe("files", () => {
    const dir = mkdtempSync(join(tmpdir(), "gkb-config-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("reads a file and names it in errors", () => {
      const good = join(dir, "good.yaml");
      writeFileSync(good, yaml.dump(minimal()));
      expect(loadConfig(good, {}).homeserver.domain).toBe("example.org");

      const bad = join(dir, "bad.yaml");
      writeFileSync(bad, withConfig({ gatekeeper: { static_key: "AAAA" } }));
      expect(() => loadConfig(bad, {})).toThrow(`${bad}: gatekeeper.static_key: must be 32 bytes`);
    });

    it("says when the file cannot be read", () => {
      const missing = join(dir, "missing.yaml");
      expect(() => loadConfig(missing, {})).toThrow(
        new ConfigError("unreadable", missing, [
          { path: "", message: "cannot read the file (ENOENT)" },
        ]),
      );
    });

    it("points at a YAML syntax error", () => {
      const err = errorFor("homeserver:\n  url: [unclosed\n");
      expect(err.code).toBe("invalid-yaml");
      expect(err.message).toMatch(/^config\.yaml: is not valid YAML: .*\(line \d+, column \d+\)$/);
    });

    it("refuses an empty file or one that is not a mapping", () => {
      expect(errorFor("").message).toBe(
        "config.yaml: must be a YAML mapping of sections (got an empty file)",
      );
      expect(errorFor("- a\n- b\n").message).toBe(
        "config.yaml: must be a YAML mapping of sections (got a list)",
      );
      expect(errorFor("homeserver: 5\n").message).toContain(
        "config.yaml: homeserver: must be a mapping of settings (key: value lines) (got 5)",
      );
    });
  });
});
