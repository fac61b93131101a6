import { execFile } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../../..");
const CLI = join(ROOT, "src/cli.ts");
const KEY = Buffer.alloc(32, 3).toString("base64");
const SECRET = "cli-test-partner-secret";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as the admin would, in a child process. */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("GKB_")),
  );
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", CLI, ...args],
      { cwd: ROOT, env: { ...base, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function configYaml(over: { bot?: string; staticKey?: string; template?: string } = {}): string {
  return yaml.dump({
    homeserver: { url: "http://127.0.0.1:8008", domain: "example.test" },
    appservice: { bot: { localpart: over.bot ?? "gatekeeperbot" } },
    gatekeeper: {
      url: "ws://127.0.0.1:29500/gki/1/chat",
      static_key: over.staticKey ?? KEY,
      partner_id: "matrix",
      partner_secret: SECRET,
      public_base_url: "http://127.0.0.1:29401",
    },
    bridge: { username_template: over.template ?? "gk_{{id}}" },
  });
}

const STACK_LINE = /^\s+at /m;

describe("matrix-gatekeeper-bridge CLI", () => {
  const dir = mkdtempSync(join(tmpdir(), "gkb-cli-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content?: string): string => {
    const path = join(dir, name);
    if (content !== undefined) writeFileSync(path, content);
    return path;
  };

  it("writes a registration with fresh tokens and the puppets' exclusive namespace", async () => {
    const config = file("config.yaml", configYaml());
    const reg = file("registration.yaml");
    const run = await cli(["-r", "-c", config, "-f", reg, "-u", "http://localhost:29400"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);

    const doc = yaml.load(readFileSync(reg, "utf8")) as Record<string, unknown>;
    expect(doc).toMatchObject({
      id: "gatekeeper",
      url: "http://localhost:29400",
      sender_localpart: "gatekeeperbot",
      namespaces: { users: [{ exclusive: true, regex: "@gk_.+:example\\.test" }] },
      rate_limited: false,
      receive_ephemeral: true,
      "de.sorunome.msc2409.push_ephemeral": true,
      protocols: ["gatekeeper"],
    });
    expect(doc.as_token).toMatch(/^[0-9a-f]{64}$/);
    expect(doc.hs_token).toMatch(/^[0-9a-f]{64}$/);
    expect(doc.as_token).not.toBe(doc.hs_token);

    const reg2 = file("registration2.yaml");
    await cli(["-r", "-c", config, "-f", reg2, "-u", "http://localhost:29400"]);
    const doc2 = yaml.load(readFileSync(reg2, "utf8")) as Record<string, unknown>;
    expect(doc2.as_token).not.toBe(doc.as_token);
    expect(doc2.hs_token).not.toBe(doc.hs_token);
  });

  it("puts the environment's tokens in the registration when they are set", async () => {
    const config = file("config-env.yaml", configYaml());
    const reg = file("registration-env.yaml");
    const run = await cli(["-r", "-c", config, "-f", reg, "-u", "http://localhost:29400"], {
      GKB_AS_TOKEN: "as-from-env",
      GKB_HS_TOKEN: "hs-from-env",
    });
    expect(run.code).toBe(0);
    expect(yaml.load(readFileSync(reg, "utf8"))).toMatchObject({
      as_token: "as-from-env",
      hs_token: "hs-from-env",
    });
  });

  it("prints a bad config's problem without a stack trace and exits 1", async () => {
    const config = file("bad.yaml", configYaml({ bot: "Bot" }));
    const reg = file("never-written.yaml");
    const run = await cli(["-r", "-c", config, "-f", reg, "-u", "http://localhost:29400"]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(
      `${config}: appservice.bot.localpart: must be a user ID localpart (lower-case letters, digits and ._=/+-) (got "Bot")`,
    );
    expect(run.stderr).not.toMatch(STACK_LINE);
    expect(existsSync(reg)).toBe(false);
  });

  it("generates the registration before the gatekeeper section is written", async () => {
    // What an admin has before the gatekeeper sent its key and secret: homeserver only.
    const config = file(
      "homeserver-only.yaml",
      yaml.dump({ homeserver: { url: "http://127.0.0.1:8008", domain: "example.test" } }),
    );
    const reg = file("registration-early.yaml");
    const run = await cli(["-r", "-c", config, "-f", reg, "-u", "http://localhost:29400"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(yaml.load(readFileSync(reg, "utf8"))).toMatchObject({
      sender_localpart: "gatekeeperbot",
      namespaces: { users: [{ exclusive: true, regex: "@gk_.+:example\\.test" }] },
    });
  });

  it("writes the registration for its owner only and says what to do next, without the tokens", async () => {
    const config = file("config-next.yaml", configYaml());
    const reg = file("registration-next.yaml", "an older registration\n");
    chmodSync(reg, 0o644);
    const run = await cli(["-r", "-c", config, "-f", reg, "-u", "http://localhost:29400"]);
    expect(run.code).toBe(0);
    // Also an existing, world-readable file ends up 0600.
    expect(statSync(reg).mode & 0o777).toBe(0o600);

    const doc = yaml.load(readFileSync(reg, "utf8")) as Record<string, string>;
    for (const token of [doc.as_token!, doc.hs_token!]) {
      expect(run.stdout).not.toContain(token);
      expect(run.stderr).not.toContain(token);
    }
    const lines = run.stdout.split("\n").map((l) => l.trim());
    expect(lines[0]).toBe(
      `Wrote the appservice registration to ${reg} (mode 0600: it holds the tokens).`,
    );
    // The absolute path, as homeserver.yaml needs it, under app_service_config_files.
    const listed = lines.indexOf("app_service_config_files:");
    expect(listed).toBeGreaterThan(0);
    expect(lines[listed + 1]).toBe(`- ${reg}`);
    expect(run.stdout).toContain("Restart the homeserver");
    // The command that starts the bridge with these files, as this CLI was started.
    expect(run.stdout).toContain(`src/cli.ts -c ${config} -f ${reg}\n`);
    expect(run.stdout).not.toContain("Note:");

    const other = await cli(["-r", "-c", config, "-f", reg, "-u", "http://localhost:8080"]);
    expect(other.stdout).toContain(
      "Note: the URL has port 8080 but the bridge listens on appservice.port (29400).",
    );
  });

  it("answers --help with its usage and exit code 0", async () => {
    for (const flag of ["--help", "-h"]) {
      const run = await cli([flag]);
      expect(run.code).toBe(0);
      expect(run.stderr).toBe("");
      expect(run.stdout).toMatch(/^usage:\n {2}matrix-gatekeeper-bridge -r -c config\.yaml -u URL/);
      expect(run.stdout).toContain("-p, --port PORT");
    }
  });

  it("refuses unknown options with the usage and exit code 2", async () => {
    const run = await cli(["--frobnicate"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("Unknown option '--frobnicate'");
    expect(run.stderr).toContain("usage:");
    const extra = await cli(["-c", "config.yaml", "-u", "http://localhost:29400"]);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain("-u / --url goes with -r");
  });

  it("says so when the config file is missing, not YAML or empty", async () => {
    const missing = join(dir, "missing.yaml");
    const run = await cli(["-r", "-c", missing, "-u", "http://localhost:29400"]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(`${missing}: cannot read the file (ENOENT)`);

    const broken = file("broken.yaml", "homeserver: [unclosed\n");
    const run2 = await cli(["-c", broken, "-f", join(dir, "registration.yaml")]);
    expect(run2.code).toBe(1);
    expect(run2.stderr).toMatch(new RegExp(`^${broken}: is not valid YAML: .*line \\d+`));
    expect(run2.stderr).not.toMatch(STACK_LINE);

    const empty = file("empty.yaml", "\n");
    const run3 = await cli(["-r", "-c", empty, "-u", "http://localhost:29400"]);
    expect(run3.code).toBe(1);
    expect(run3.stderr.trim()).toBe(
      `${empty}: must be a YAML mapping of sections (got an empty file)`,
    );
  });

  it("insists on -c and -u when generating a registration", async () => {
    const run = await cli(["-r", "-f", join(dir, "x.yaml"), "-u", "http://localhost:29400"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("missing -c / --config FILE");
    const noUrl = await cli(["-r", "-c", file("ok-url.yaml", configYaml())]);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain("missing -u / --url");
    expect(existsSync(join(dir, "x.yaml"))).toBe(false);
  });

  it("refuses to run with a registration that no longer fits the config", async () => {
    const reg = file("registration-old.yaml");
    const old = await cli([
      "-r",
      "-c",
      file("old.yaml", configYaml()),
      "-f",
      reg,
      "-u",
      "http://localhost:29400",
    ]);
    expect(old.code).toBe(0);

    const changed = file("changed.yaml", configYaml({ bot: "newbot", template: "gkp_{{id}}" }));
    const run = await cli(["-c", changed, "-f", reg, "-p", "0"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `${reg}: sender_localpart: is "gatekeeperbot" but appservice.bot.localpart is "newbot"`,
    );
    expect(run.stderr).toContain(
      `${reg}: namespaces.users: has no exclusive regex for the puppets`,
    );
    expect(run.stderr).not.toMatch(STACK_LINE);
  });

  it("says which file is missing when the registration is", async () => {
    const missing = join(dir, "no-registration.yaml");
    const run = await cli(["-c", file("ok.yaml", configYaml()), "-f", missing]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(`${missing}: cannot read the file (ENOENT)`);
  });

  it("checks the config before starting the bridge", async () => {
    const reg = file("registration-run.yaml");
    await cli([
      "-r",
      "-c",
      file("good-run.yaml", configYaml()),
      "-f",
      reg,
      "-u",
      "http://localhost:29400",
    ]);
    const bad = file(
      "bad-run.yaml",
      configYaml().replace("partner_id: matrix", "partner_id: Not Valid"),
    );
    const run = await cli(["-c", bad, "-f", reg]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(
      `${bad}: gatekeeper.partner_id: must be the partner id the gatekeeper assigned (1-32 of a-z, 0-9, '-') (got "Not Valid")`,
    );
  });
});
