/**
 * Puppets on a real database with a stand-in homeserver: the rename window with a clock the
 * test moves, names stored before they were cleaned, and a name the homeserver refuses.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { MatrixSide } from "../../../src/core/matrix-side.js";
import { Puppets } from "../../../src/core/puppets.js";
import { RequestFailedError } from "../../../src/core/request-error.js";
import { PuppetRepository } from "../../../src/db/repositories/index.js";
import { openTestDatabase } from "../db/databases.js";
import type { TestDatabase } from "../db/databases.js";

const HOUR = 60 * 60_000;

/** The homeserver as Puppets sees it: display names set, some refused. */
class FakeHomeserver {
  readonly names = new Map<string, string | undefined>();
  refuse: (name: string | undefined) => boolean = () => false;

  readonly side = {
    ensurePuppet: async (contactId: string, displayName: string | undefined) => {
      if (this.refuse(displayName)) {
        throw new RequestFailedError("permanent", "M_TOO_LARGE", "display name refused (test)");
      }
      this.names.set(contactId, displayName);
      return `@gk_${contactId}:test.local`;
    },
  } as unknown as MatrixSide;
}

describe("Puppets: names", () => {
  let t: TestDatabase;
  let repo: PuppetRepository;
  let hs: FakeHomeserver;
  let now: number;
  let puppets: Puppets;

  beforeEach(async () => {
    t = await openTestDatabase("sqlite", { migrate: true });
    repo = new PuppetRepository(t.db);
    hs = new FakeHomeserver();
    now = 1_000_000;
    puppets = new Puppets(repo, hs.side, { now: () => now });
  });
  afterEach(async () => {
    await t.close();
  });

  it("gives a first name without calling it a rename, and cleans it", async () => {
    const update = await puppets.update({ id: "c1", name: "  Bob\n\u202ESmith " });
    expect(update.renamed).toBeUndefined();
    expect(hs.names.get("c1")).toBe("Bob Smith");
    expect((await repo.get("c1"))?.displayName).toBe("Bob Smith");
  });

  it("lets renames through again once the hour has passed", async () => {
    await puppets.update({ id: "c1", name: "n0" });
    for (let i = 1; i <= 3; i++) {
      now += 60_000;
      expect((await puppets.update({ id: "c1", name: `n${i}` })).renamed).toEqual({
        from: `n${i - 1}`,
        to: `n${i}`,
      });
    }
    now += 60_000;
    const held = await puppets.update({ id: "c1", name: "n4" });
    expect(held.renamed).toBeUndefined();
    expect(held.renameHeld).toEqual({
      current: "n3",
      firstInWindow: true,
      retryAt: 1_000_000 + 60_000 + HOUR,
    });
    expect((await puppets.update({ id: "c1", name: "n5" })).renameHeld?.firstInWindow).toBe(false);
    expect(await puppets.nameOf("c1")).toBe("n3");
    expect(hs.names.get("c1")).toBe("n3");

    // The first of the three renames leaves the window: one more is allowed.
    now = 1_000_000 + 60_000 + HOUR + 1;
    expect((await puppets.update({ id: "c1", name: "n6" })).renamed).toEqual({
      from: "n3",
      to: "n6",
    });
    expect(hs.names.get("c1")).toBe("n6");
    // And the next one is held again, told again (a new window).
    expect((await puppets.update({ id: "c1", name: "n7" })).renameHeld?.firstInWindow).toBe(true);
  });

  it("counts renames per contact", async () => {
    await puppets.update({ id: "a", name: "a0" });
    await puppets.update({ id: "b", name: "b0" });
    for (let i = 1; i <= 3; i++) await puppets.update({ id: "a", name: `a${i}` });
    expect((await puppets.update({ id: "b", name: "b1" })).renamed).toEqual({
      from: "b0",
      to: "b1",
    });
  });

  it("cleans a name stored before names were cleaned, without calling it a rename", async () => {
    await repo.ensure("c1", "@gk_c1:test.local", { displayName: "Bob\n\u2066Smith" });
    expect(await puppets.nameOf("c1")).toBe("Bob Smith");
    const update = await puppets.update({ id: "c1", name: "Bob Smith" });
    expect(update.renamed).toBeUndefined();
    expect(hs.names.get("c1")).toBe("Bob Smith");
    expect((await repo.get("c1"))?.displayName).toBe("Bob Smith");
  });

  it("keeps the previous name when the homeserver refuses a new one, and the messages go on", async () => {
    await puppets.update({ id: "c1", name: "Bob" });
    hs.refuse = (name) => name === "Robert";
    const update = await puppets.update({ id: "c1", name: "Robert" });
    expect(update).toEqual({ mxid: "@gk_c1:test.local" });
    expect(hs.names.get("c1")).toBe("Bob");
    expect(await puppets.nameOf("c1")).toBe("Bob");

    // A new contact whose name is refused gets the neutral name.
    hs.refuse = (name) => name !== undefined;
    expect(await puppets.ensure({ id: "c2", name: "Refused" })).toBe("@gk_c2:test.local");
    expect(hs.names.get("c2")).toBeUndefined();
    expect(await puppets.nameOf("c2")).toBeUndefined();
  });

  it("does not hide a homeserver that is away", async () => {
    hs.side.ensurePuppet = async () => {
      throw new RequestFailedError("transient", "network", "the homeserver could not be reached");
    };
    await expect(puppets.update({ id: "c1", name: "Bob" })).rejects.toThrow("could not be reached");
  });
});
