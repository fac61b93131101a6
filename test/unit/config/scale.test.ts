import yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "../../../src/config/index.js";
import { errorFor, minimal, withConfig } from "./helpers.js";

const POSTGRES = { type: "postgres", url: "postgres://bridge@db/bridge" };

describe("the scale section", () => {
  it("defaults to one process doing everything", () => {
    const c = parseConfigText(yaml.dump(minimal()), "config.yaml", {});
    expect(c.scale).toEqual({
      role: "all",
      workerId: undefined,
      leaseSeconds: 20,
      renewSeconds: 5,
    });
  });

  it("takes a worker on postgres with its own name and timings", () => {
    const c = parseConfigText(
      withConfig({
        database: POSTGRES,
        scale: { role: "worker", worker_id: "node-2.eu:b_1", lease_seconds: 30, renew_seconds: 14 },
      }),
      "config.yaml",
      {},
    );
    expect(c.scale).toEqual({
      role: "worker",
      workerId: "node-2.eu:b_1",
      leaseSeconds: 30,
      renewSeconds: 14,
    });
    const intake = parseConfigText(
      withConfig({ database: POSTGRES, scale: { role: "intake" } }),
      "config.yaml",
      {},
    );
    expect(intake.scale.role).toBe("intake");
  });

  it("refuses roles other than all on SQLite, the default database", () => {
    for (const role of ["worker", "intake"]) {
      expect(errorFor(withConfig({ scale: { role } })).problems).toEqual([
        {
          path: "scale.role",
          message:
            `can only be "all" with database.type sqlite (got "${role}"): SQLite serves one ` +
            "process, several processes need database.type postgres",
        },
      ]);
    }
    const explicit = withConfig({ database: { type: "sqlite" }, scale: { role: "worker" } });
    expect(errorFor(explicit).problems.map((p) => p.path)).toEqual(["scale.role"]);
    // role all stays fine on SQLite.
    expect(parseConfigText(withConfig({ scale: { role: "all" } }), "c", {}).scale.role).toBe("all");
  });

  it("refuses a renewal interval the lease cannot outlast twice (plus 2 s)", () => {
    // Against the default lease of 20 s: at most 9.
    expect(errorFor(withConfig({ scale: { renew_seconds: 10 } })).message).toBe(
      "config.yaml: scale.renew_seconds: must be at most 9 with scale.lease_seconds 20 (got 10): " +
        "a lease must outlast two renewal rounds plus 2 s",
    );
    expect(
      parseConfigText(withConfig({ scale: { renew_seconds: 9 } }), "c", {}).scale.renewSeconds,
    ).toBe(9);
    // A shorter lease than the default renewal allows.
    expect(errorFor(withConfig({ scale: { lease_seconds: 11 } })).problems).toEqual([
      {
        path: "scale.renew_seconds",
        message: expect.stringContaining("must be at most 4 with scale.lease_seconds 11 (got 5)"),
      },
    ]);
    expect(
      parseConfigText(withConfig({ scale: { lease_seconds: 5, renew_seconds: 1 } }), "c", {}).scale,
    ).toMatchObject({ leaseSeconds: 5, renewSeconds: 1 });
  });

  it("refuses worker ids that would garble status lines and logs", () => {
    for (const bad of ["", "has space", "a/b", "x".repeat(65), "näme"]) {
      expect(errorFor(withConfig({ scale: { worker_id: bad } })).message).toContain(
        "config.yaml: scale.worker_id: must be a name of letters, digits and . _ : - (at most 64 characters)",
      );
    }
    expect(errorFor(withConfig({ scale: { worker_id: 7 } })).problems[0]?.path).toBe(
      "scale.worker_id",
    );
    const longest = "x".repeat(64);
    expect(
      parseConfigText(withConfig({ scale: { worker_id: longest } }), "c", {}).scale.workerId,
    ).toBe(longest);
  });

  it("checks the ranges and the role's spelling", () => {
    const err = errorFor(
      withConfig({ scale: { role: "leader", lease_seconds: 4, renew_seconds: 61 } }),
    );
    expect(err.message.split("\n").sort()).toEqual([
      "config.yaml: scale.lease_seconds: must be a number of seconds from 5 to 300 (got 4)",
      "config.yaml: scale.renew_seconds: must be a number of seconds from 1 to 60 (got 61)",
      'config.yaml: scale.role: must be one of "all", "intake" or "worker" (got "leader")',
    ]);
    expect(errorFor(withConfig({ scale: { lease_seconds: 20.5 } })).problems[0]?.path).toBe(
      "scale.lease_seconds",
    );
    expect(errorFor(withConfig({ scale: { shards: 2 } })).message).toBe(
      "config.yaml: scale.shards: unknown key (known keys here: role, worker_id, lease_seconds, renew_seconds)",
    );
  });

  describe("from the environment", () => {
    it("takes the role and worker id, over the file's", () => {
      const text = withConfig({
        database: POSTGRES,
        scale: { role: "intake", worker_id: "from-file", lease_seconds: 30 },
      });
      const c = parseConfigText(text, "c", {
        GKB_SCALE_ROLE: "worker",
        GKB_SCALE_WORKER_ID: "bridge-2",
      });
      expect(c.scale).toEqual({
        role: "worker",
        workerId: "bridge-2",
        leaseSeconds: 30,
        renewSeconds: 5,
      });
      // Without a scale section in the file, too.
      const bare = parseConfigText(withConfig({ database: POSTGRES }), "c", {
        GKB_SCALE_ROLE: "intake",
      });
      expect(bare.scale.role).toBe("intake");
    });

    it("treats an empty variable as unset", () => {
      const c = parseConfigText(withConfig({ scale: { worker_id: "from-file" } }), "c", {
        GKB_SCALE_ROLE: "",
        GKB_SCALE_WORKER_ID: "",
      });
      expect(c.scale).toMatchObject({ role: "all", workerId: "from-file" });
    });

    it("names the variable when its value is wrong", () => {
      const err = errorFor(withConfig({ database: POSTGRES }), {
        GKB_SCALE_ROLE: "boss",
        GKB_SCALE_WORKER_ID: "worker 1",
      });
      expect(err.message.split("\n").sort()).toEqual([
        'config.yaml: scale.role (from GKB_SCALE_ROLE): must be one of "all", "intake" or "worker" (got "boss")',
        'config.yaml: scale.worker_id (from GKB_SCALE_WORKER_ID): must be a name of letters, digits and . _ : - (at most 64 characters) (got "worker 1")',
      ]);
    });

    it("names the variable when its role does not fit the database", () => {
      const err = errorFor(yaml.dump(minimal()), { GKB_SCALE_ROLE: "worker" });
      expect(err.problems.map((p) => p.path)).toEqual(["scale.role (from GKB_SCALE_ROLE)"]);
      expect(err.message).toContain("SQLite serves one process");
    });
  });
});
