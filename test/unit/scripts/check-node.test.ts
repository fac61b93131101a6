/**
 * scripts/check-node.cjs: on a Node older than package.json's engines, npm ci / test / build /
 * demo / bench stop with one line saying which Node is needed and how to get it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../../..");
const SCRIPT = join(ROOT, "scripts/check-node.cjs");
const check = createRequire(import.meta.url)(SCRIPT) as {
  problem(version: string, where?: string): string | null;
  requiredVersion(): [number, number];
};
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  engines: { node: string };
  scripts: Record<string, string>;
};

function versionOf(node: string): string | undefined {
  try {
    return execFileSync(node, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
}

/** A Node older than 22 on this machine (the system's, say), to run the script as users do. */
function oldNode(): { path: string; version: string } | undefined {
  const which = spawnSync("which", ["-a", "node"], { encoding: "utf8" }).stdout ?? "";
  const candidates = [...which.split("\n"), "/usr/bin/node", "/usr/local/bin/node"];
  for (const path of candidates.map((p) => p.trim()).filter((p) => p && existsSync(p))) {
    const version = versionOf(path);
    if (version && Number(version.split(".")[0]) < 22) return { path, version };
  }
  return undefined;
}

const old = oldNode();

describe("scripts/check-node.cjs", () => {
  it("reads the required version from package.json's engines", () => {
    expect(pkg.engines.node).toBe(">=22.12");
    expect(check.requiredVersion()).toEqual([22, 12]);
  });

  it("accepts 22.12 and later, refuses anything older", () => {
    expect(check.problem("22.12.0")).toBeNull();
    expect(check.problem("22.13.1")).toBeNull();
    expect(check.problem("24.0.0")).toBeNull();
    expect(check.problem("22.11.0")).toContain("needs Node.js >= 22.12 (this is Node 22.11.0)");
    expect(check.problem("20.19.0", "/usr/bin/node")).toContain(
      "(this is Node 20.19.0 at /usr/bin/node)",
    );
    expect(check.problem("v18.0.0")).not.toBeNull();
  });

  it("says nothing and exits 0 on this Node", () => {
    const run = spawnSync(process.execPath, [SCRIPT], { encoding: "utf8" });
    expect(run.status).toBe(0);
    expect(run.stdout + run.stderr).toBe("");
  });

  it.skipIf(old === undefined)(
    `stops an old Node with one line on what to install (${old?.path ?? "none here"})`,
    () => {
      const run = spawnSync(old!.path, [SCRIPT], { encoding: "utf8" });
      expect(run.status).toBe(1);
      expect(run.stdout).toBe("");
      const lines = run.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toBe(
        `matrix-gatekeeper-bridge needs Node.js >= 22.12 (this is Node ${old!.version} at ${old!.path}). ` +
          `Get Node 24 without root: npm install --prefix ~/.cache/node24 node@24 && ` +
          `export PATH="$HOME/.cache/node24/node_modules/.bin:$PATH" (then run the command again).`,
      );
    },
  );

  it("runs before npm ci, npm test, npm run build, demo and bench", () => {
    for (const hook of ["preinstall", "pretest", "prebuild", "predemo", "prebench"]) {
      expect(pkg.scripts[hook], hook).toBe("node scripts/check-node.cjs");
    }
  });
});
