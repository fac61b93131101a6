import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import {
  CONFIG_DEFAULTS,
  CONFIG_SCHEMA,
  ConfigError,
  defaultPermissions,
  loadConfig,
  parseConfigText,
  permissionLevel,
} from "../../../src/config/index.js";

const SAMPLE = fileURLToPath(new URL("../../../config.sample.yaml", import.meta.url));
const text = readFileSync(SAMPLE, "utf8");
const parsed = yaml.load(text) as Record<string, unknown>;

/**
 * Options the sample shows commented out, because they have no default value to show
 * (avatar, the secret) or are the alternative to an active line (database.url).
 */
const COMMENTED_OUT = new Set([
  "appservice.bot.avatar",
  "gatekeeper.partner_secret",
  "gatekeeper.user_agent",
  "database.url",
  // Its default is chosen at start (<hostname>-<pid>).
  "scale.worker_id",
  // Without it, the homeserver's own users are users: an admin who only sets
  // homeserver.domain must not lock them out with the sample's example server.
  "bridge.permissions",
]);

/** Dotted paths of every option the schema knows (a free-form map counts as one option). */
function schemaPaths(node: unknown, prefix = ""): string[] {
  if (typeof node !== "object" || node === null || !("properties" in node)) return [prefix];
  const props = node.properties as Record<string, unknown>;
  return Object.entries(props).flatMap(([k, v]) => schemaPaths(v, prefix ? `${prefix}.${k}` : k));
}

function lookup(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const key of path.split(".")) {
    if (typeof cur !== "object" || cur === null || !(key in cur)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function leaves(obj: object, prefix = ""): [string, unknown][] {
  return Object.entries(obj).flatMap(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    return typeof v === "object" && v !== null ? leaves(v, path) : [[path, v] as [string, unknown]];
  });
}

/** The lines of a top-level section of the sample. */
function sectionLines(section: string): string[] {
  const lines = text.split("\n");
  const start = lines.indexOf(`${section}:`);
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && /^\S/.test(l) && !l.startsWith("#"));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

describe("config.sample.yaml", () => {
  it("is a valid config once the partner secret is supplied", () => {
    const config = loadConfig(SAMPLE, { GKB_PARTNER_SECRET: "a-secret-of-enough-length" });
    expect(config.homeserver.domain).toBe("example.org");
    expect(config.gatekeeper.staticKey).toHaveLength(32);
  });

  it("leaves out nothing but the secret (no default secret is shipped)", () => {
    let error: unknown;
    try {
      loadConfig(SAMPLE, {});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.path)).toEqual([
      "gatekeeper.partner_secret",
    ]);
  });

  it("shows every option of the schema", () => {
    const paths = schemaPaths(CONFIG_SCHEMA);
    expect(paths.length).toBeGreaterThan(30);
    for (const path of paths) {
      if (COMMENTED_OUT.has(path)) {
        const [section] = path.split(".");
        const key = path.split(".").at(-1);
        expect(lookup(parsed, path), `${path} is meant to be commented out`).toBeUndefined();
        expect(
          sectionLines(section!).some((l) => new RegExp(`^\\s+# ${key}:( \\S|$)`).test(l)),
          `${path} appears commented out in its section`,
        ).toBe(true);
      } else {
        expect(lookup(parsed, path), `${path} is in the sample`).not.toBeUndefined();
      }
    }
  });

  it("shows the default value wherever there is one", () => {
    for (const [path, value] of leaves(CONFIG_DEFAULTS)) {
      expect(lookup(parsed, path), path).toEqual(value);
    }
  });

  it("lets the users of the admin's own homeserver in when only homeserver.domain is changed", () => {
    const edited = text.replace(/^(\s+domain:) example\.org$/m, "$1 chat.my-company.test");
    expect(edited).not.toBe(text);
    const config = parseConfigText(edited, "config.yaml", { GKB_PARTNER_SECRET: "x".repeat(16) });
    expect(config.bridge.permissions).toEqual(defaultPermissions("chat.my-company.test"));
    expect(permissionLevel(config, "@alice:chat.my-company.test")).toBe("user");
    expect(permissionLevel(config, "@eve:example.org")).toBe("none");
  });

  it("has a comment above every option (or above the group it belongs to)", () => {
    const lines = text.split("\n");
    const indent = (l: string) => l.length - l.trimStart().length;
    const isComment = (l: string) => /^\s*#/.test(l);
    const isOption = (l: string) => /^\s*[^\s#][^:]*:/.test(l);
    // A line is documented if a comment is right above it, or the line above is an option
    // of the same group or its parent key that is documented itself.
    const documented = (i: number): boolean => {
      const line = lines[i]!;
      if (indent(line) === 0) return true; // a section header
      const above = lines[i - 1];
      if (above === undefined || above.trim() === "") return false;
      if (isComment(above)) return true;
      return isOption(above) && indent(above) <= indent(line) && documented(i - 1);
    };
    const undocumented = lines
      .map((l, i) => ({ l, i }))
      .filter(({ l, i }) => isOption(l) && !isComment(l) && !documented(i))
      .map(({ l }) => l.trim());
    expect(undocumented).toEqual([]);
  });
});
