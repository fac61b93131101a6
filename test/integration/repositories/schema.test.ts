import { describe, expect, it } from "vitest";
import { appliedMigrations, migrate } from "../../../src/db/index.js";
import { repositories } from "../../../src/db/repositories/index.js";
import { testDatabases, useTestDatabase } from "../db/databases.js";
import { contactJid, phone } from "./fixtures.js";

const BRIDGE_TABLES = [
  "bridge_users",
  "bridge_logins",
  "bridge_puppets",
  "bridge_portals",
  "bridge_message_map",
  "as_transactions",
  "matrix_event_queue",
  "bridge_outbox",
];

describe.each(testDatabases())("bridge schema on %s", (kind) => {
  const dbs = useTestDatabase(kind);

  it("is created by the migrations, once", async () => {
    const db = await dbs.fresh();
    await migrate(db);
    await migrate(db);
    for (const t of BRIDGE_TABLES) expect(await db.schema.hasTable(t), t).toBe(true);
    expect(await appliedMigrations(db)).toContain("003_bridge");
  });

  it("removes a deleted login's portals, message map and outbox with it", async () => {
    const db = await dbs.fresh({ migrate: true });
    const r = repositories(db);
    const login = await r.logins.create({ mxid: "@gone:example.org", phone: phone() });
    const keep = await r.logins.create({ mxid: "@stays:example.org", phone: phone() });
    const { portal } = await r.portals.ensure(login.id, contactJid(), "active");
    const { portal: kept } = await r.portals.ensure(keep.id, contactJid(), "active");
    for (const p of [portal, kept]) {
      await r.messageMap.add({
        portalId: p.id,
        mxEventId: `$m${p.id}`,
        remoteId: "3EB01",
        remoteSender: "x@lid.gk",
        timestamp: 1,
      });
      await r.outbox.enqueue({
        portalId: p.id,
        eventId: `$o${p.id}`,
        remoteId: "3EB02",
        payload: new Uint8Array([1]),
      });
    }

    await r.logins.delete(login.id);

    expect(await r.portals.listByLogin(login.id)).toEqual([]);
    expect(await r.messageMap.getByEvent(`$m${portal.id}`)).toBeUndefined();
    expect(await r.outbox.getByEvent(`$o${portal.id}`)).toBeUndefined();
    expect(await r.messageMap.getByEvent(`$m${kept.id}`)).toBeDefined();
    expect(await r.outbox.getByEvent(`$o${kept.id}`)).toBeDefined();
  });

  it("commits several repositories' writes together or not at all", async () => {
    const db = await dbs.fresh({ migrate: true });
    const login = await repositories(db).logins.create({ mxid: "@t:example.org", phone: phone() });
    const { portal } = await repositories(db).portals.ensure(login.id, contactJid(), "active");
    await repositories(db).intake.storeTransaction("t", [
      { event_id: "$e", room_id: "!r:example.org" },
    ]);
    const queued = (await repositories(db).intake.get("$e"))!;

    // The relay's step "queued event → outbox row" fails after the outbox insert.
    await expect(
      db.transaction(async (trx) => {
        const r = repositories(trx);
        await r.outbox.enqueue({
          portalId: portal.id,
          eventId: "$e",
          remoteId: "3EB0",
          payload: new Uint8Array([1]),
        });
        await r.intake.markDone(queued.seq);
        throw new Error("crash before commit");
      }),
    ).rejects.toThrow("crash before commit");

    expect(await repositories(db).outbox.getByEvent("$e")).toBeUndefined();
    expect((await repositories(db).intake.get("$e"))?.state).toBe("queued");
  });
});
