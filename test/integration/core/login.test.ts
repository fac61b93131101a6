import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTH_PATH } from "../../../src/connector/index.js";
import { rowCacheOf } from "../../../src/db/repositories/index.js";
import { CoreFixture, PARTNER_ID, PARTNER_SECRET, newPhone } from "./fixture.js";

describe("logins through the bot (sandbox, real clients, SQLite)", () => {
  let f: CoreFixture;
  beforeAll(async () => {
    f = await CoreFixture.start();
  });
  afterAll(async () => {
    await f.close();
  });

  /**
   * The gatekeeper cannot reach our auth callback (it answers logins with 503) until the
   * returned function is called.
   */
  async function authCallbackAway(): Promise<() => Promise<void>> {
    const authUrl = f.endpoints.url + AUTH_PATH;
    await f.sandbox.admin.addPartner({
      id: PARTNER_ID,
      authUrl: "http://127.0.0.1:9/",
      secret: "x",
    });
    return async () => {
      await f.sandbox.admin.addPartner({ id: PARTNER_ID, authUrl, secret: PARTNER_SECRET });
    };
  }

  /** `login <phone>`, then a bridge restart: the user has a code, the bridge no connection. */
  async function codeThenRestart(mxid: string): Promise<{ room: string; code: string }> {
    const phone = newPhone();
    const room = await f.dm(mxid);
    await f.command(mxid, room, `login ${phone}`);
    await f.stopCore();
    await f.startCore();
    const { code } = await f.sandbox.admin.latestCode(phone);
    return { room, code };
  }

  it("greets a new management room with the commands", async () => {
    const room = await f.dm("@greeted:test.local");
    const [greeting] = f.matrix.notices(room);
    expect(f.matrix.joins).toContainEqual({ roomId: room, mxid: f.matrix.botMxid });
    expect(greeting).toContain("management room");
    expect(greeting).toContain("`login <phone>`");
    expect(greeting).toContain("`start <phone>`");
  });

  it("logs in with the code sent to the phone, then shows the status", async () => {
    const mxid = "@alice:test.local";
    const phone = newPhone();
    const room = await f.dm(mxid);

    const [sent] = await f.command(mxid, room, `login ${phone}`);
    expect(sent).toContain(`6-digit code to ${phone}`);
    // The sandbox asked our partner endpoint and got the number from it.
    const partnerUsers = await f.sandbox.admin.listPartnerUsers();
    expect(partnerUsers).toContainEqual(expect.objectContaining({ phone, enlisted: false }));

    const { code } = await f.sandbox.admin.latestCode(phone);
    const wrong = code === "000000" ? "111111" : "000000";
    const [refused] = await f.command(mxid, room, `verify ${wrong}`);
    expect(refused).toContain("code is wrong");

    const [ok] = await f.command(mxid, room, `verify ${code.slice(0, 3)} ${code.slice(3)}`);
    expect(ok).toContain(`logged in to Gatekeeper as ${phone}`);
    expect(await f.sandbox.admin.listPartnerUsers()).toContainEqual(
      expect.objectContaining({ phone, enlisted: true, online: true }),
    );

    const [status] = await f.command(mxid, room, "status");
    expect(status).toContain(phone);
    expect(status).toContain("Connection: connected");
    const [again] = await f.command(mxid, room, `login ${newPhone()}`);
    expect(again).toContain("already logged in");
  });

  it("refuses a number another Matrix user has linked", async () => {
    const phone = newPhone();
    await f.login("@owner:test.local", phone);
    const room = await f.dm("@intruder:test.local");
    const [reply] = await f.command("@intruder:test.local", room, `login ${phone}`);
    expect(reply).toContain("already linked to another Matrix account");
    expect((await f.core.repos.logins.getByPhone(phone))?.mxid).toBe("@owner:test.local");
  });

  it("lets nobody hold a number by never verifying it", async () => {
    const phone = newPhone();
    const squatter = "@squatter:test.local";
    await f.command(squatter, await f.dm(squatter), `login ${phone}`);
    const owner = "@realowner:test.local";
    const room = await f.dm(owner);
    const [busy] = await f.command(owner, room, `login ${phone}`);
    expect(busy).toContain("Someone else is verifying");
    // A quarter of an hour later the unverified claim no longer counts.
    await f
      .db("bridge_logins")
      .where({ mxid: squatter })
      .update({ updated_at: Date.now() - 16 * 60_000 });
    rowCacheOf(f.db).forget(); // changed around the repositories: the bridge's copy is old
    const [sent] = await f.command(owner, room, `login ${phone}`);
    expect(sent).toContain(`code to ${phone}`);
    expect(await f.core.repos.logins.getByMxid(squatter)).toBeUndefined();
  });

  it("answers bad arguments with what was wrong and how to write it", async () => {
    const mxid = "@careless:test.local";
    const room = await f.dm(mxid);
    const ask = async (text: string): Promise<string> =>
      (await f.command(mxid, room, text)).join("\n");
    expect(await ask("login")).toMatch(/needs your phone number.*`login \+49 151 12345678`/);
    expect(await ask("login 0151 12345678")).toContain("international format");
    expect(await ask("login +49151")).toContain("too short");
    expect(await ask("verify abc")).toContain("`verify 123456`");
    expect(await ask("verify 123456")).toContain("Send `login <phone>` first");
    expect(await ask("start +4915112345678")).toContain("not logged in");
    expect(await ask("status extra")).toContain("`extra` is not a Matrix user ID");
    expect(await ask("contacts extra")).toContain("takes no arguments");
    expect(await ask("frobnicate")).toContain("I do not know the command `frobnicate`");
    expect(await ask("help")).toContain("`block <phone>`");
  });

  it("needs the prefix outside the management room", async () => {
    const mxid = "@prefixed:test.local";
    await f.dm(mxid);
    const other = "!elsewhere:test.local";
    expect(await f.command(mxid, other, "ping")).toEqual([]);
    const [pong] = await f.command(mxid, other, "!gk ping");
    expect(pong).toContain("Pong");
  });

  it("says so when the gatekeeper cannot log the user in, and keeps nothing half-made", async () => {
    const mxid = "@unlucky:test.local";
    const room = await f.dm(mxid);
    const back = await authCallbackAway();
    try {
      const [reply] = await f.command(mxid, room, `login ${newPhone()}`);
      expect(reply).toContain("Could not start the login: Gatekeeper cannot be reached right now");
      expect(await f.core.repos.logins.getByMxid(mxid)).toBeUndefined();
    } finally {
      await back();
    }
    const [ok] = await f.command(mxid, room, `login ${newPhone()}`);
    expect(ok).toContain("code");
  });

  it("politely refuses users the config does not allow", async () => {
    const stranger = "@someone:elsewhere.example";
    const room = await f.dm(stranger);
    expect(f.matrix.notices(room).join()).toContain("not allowed to use this bridge");
    expect(f.matrix.leaves).toContainEqual({ roomId: room, mxid: f.matrix.botMxid });
    const [reply] = await f.command(stranger, "!other:test.local", "!gk login +4915112345678");
    expect(reply).toContain("not allowed");
    expect(await f.core.repos.logins.getByMxid(stranger)).toBeUndefined();
  });

  it("verifies after a bridge restart between login and verify", async () => {
    const mxid = "@restarted:test.local";
    const { room, code } = await codeThenRestart(mxid);
    const [ok] = await f.command(mxid, room, `verify ${code}`);
    expect(ok).toContain("logged in");
  });

  it("verifies once the gatekeeper can be reached again, when its first try could not connect", async () => {
    const mxid = "@patient:test.local";
    const { room, code } = await codeThenRestart(mxid);
    // For half a second the `verify`'s connection fails; it is tried again in the background.
    const away = await authCallbackAway();
    const back = new Promise((r) => setTimeout(r, 500)).then(away);
    try {
      const [ok] = await f.command(mxid, room, `verify ${code}`);
      expect(ok).toContain("logged in");
    } finally {
      await back;
    }
  });

  it("logs out: de-enlists, forgets the keys, leaves the chats", async () => {
    const mxid = "@leaving:test.local";
    const phone = newPhone();
    const room = await f.login(mxid, phone);
    const friend = await f.nativeUser("Friend");
    await f.command(mxid, room, `start ${friend.phone}`);
    const login = (await f.core.repos.logins.getByMxid(mxid))!;
    const [portal] = await f.core.repos.portals.listByLogin(login.id);
    const owner = login.jid!;
    const signalRows = async (): Promise<number> =>
      Number((await f.db("signal_accounts").where({ owner }).count({ n: "*" }))[0]?.n ?? 0);
    expect(await signalRows()).toBe(1);

    const [bye] = await f.command(mxid, room, "logout");
    expect(bye).toContain("Logged out");
    expect(bye).toContain("left your 1 chat");
    expect(await f.core.repos.logins.getByMxid(mxid)).toBeUndefined();
    expect(await f.sandbox.admin.listPartnerUsers()).toContainEqual(
      expect.objectContaining({ phone, enlisted: false }),
    );
    expect(await signalRows()).toBe(0);
    expect(f.matrix.notices(portal!.roomId!).join()).toContain("no longer bridged");
    expect(f.matrix.leaves.some((l) => l.roomId === portal!.roomId)).toBe(true);
    // The number is free again, for this user or another.
    const [again] = await f.command(mxid, room, `login ${phone}`);
    expect(again).toContain("code");
  });
});
