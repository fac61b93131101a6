/** §10 Keepalive and reconnect: ping, idle timeout, replaced connections. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginNative, newNative } from "./fixtures.js";
import { type Target, need, openTarget } from "./target.js";
import { is } from "./wire.js";

let t: Target;
beforeAll(async () => {
  t = await openTarget({ idleTimeoutMs: 800 });
});
afterAll(() => t.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("§10 Keepalive and reconnect", () => {
  it('§10 a ping is answered <iq id type="result" from="gk"/>', async (ctx) => {
    need(ctx, "admin");
    const wire = await loginNative(t, await newNative(t));
    wire.send('<iq id="k1" type="get" xmlns="w:p" to="gk"><ping/></iq>');
    expect((await wire.next(is("iq", { id: "k1" }))).attrs).toMatchObject({
      type: "result",
      from: "gk",
    });
    wire.close();
  });

  it('§10 a connection silent for the idle timeout (60 s) is closed with 1000, reason "idle-timeout"', async (ctx) => {
    need(ctx, "admin");
    const wire = await loginNative(t, await newNative(t));
    const closed = await wire.closedWithin(t.limits.idleTimeoutMs + 5_000);
    expect(closed).toEqual({ code: 1000, reason: "idle-timeout" });
  }, 80_000);

  it("§10 a connection that pings is not closed as idle", async (ctx) => {
    need(ctx, "admin", "tunable");
    const wire = await loginNative(t, await newNative(t));
    for (let i = 0; i < 6; i++) {
      await sleep(t.limits.idleTimeoutMs / 3);
      await wire.ping();
    }
    expect(wire.closeInfo).toBeUndefined();
    wire.close();
  });

  it('§10 a second login to the same account ends the first with <stream:error code="409" text="replaced"/> and close 1000', async (ctx) => {
    need(ctx, "admin");
    const user = await newNative(t);
    const first = await loginNative(t, user);
    const second = await loginNative(t, user);
    expect((await first.next(is("stream:error"))).attrs).toMatchObject({
      code: "409",
      text: "replaced",
    });
    expect((await first.closedWithin()).code).toBe(1000);
    await second.ping();
    second.close();
  });
});
