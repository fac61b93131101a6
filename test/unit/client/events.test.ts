import { describe, expect, it } from "vitest";
import { EventHub, HandlerError } from "../../../src/gatekeeper/client/events.js";

interface Events {
  message: { id: string };
  other: number;
}

describe("EventHub", () => {
  it("resolves emit only after every async handler finished, in order", async () => {
    const hub = new EventHub<Events>();
    const log: string[] = [];
    hub.on("message", async (m) => {
      await new Promise((r) => setTimeout(r, 20));
      log.push(`first ${m.id}`);
    });
    hub.on("message", (m) => void log.push(`second ${m.id}`));
    await hub.emit("message", { id: "a" });
    log.push("acked");
    expect(log).toEqual(["first a", "second a", "acked"]);
  });

  it("rejects with every handler's error, after running all handlers", async () => {
    const hub = new EventHub<Events>();
    let ranLast = false;
    hub.on("message", () => {
      throw new Error("disk full");
    });
    hub.on("message", async () => Promise.reject(new Error("no network")));
    hub.on("message", () => void (ranLast = true));
    const err = await hub.emit("message", { id: "x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandlerError);
    expect((err as HandlerError).errors.map((e) => (e as Error).message)).toEqual([
      "disk full",
      "no network",
    ]);
    expect((err as HandlerError).event).toBe("message");
    expect(ranLast).toBe(true);
  });

  it("resolves when nobody listens, and emitQuietly swallows failures", async () => {
    const hub = new EventHub<Events>();
    await expect(hub.emit("other", 1)).resolves.toBeUndefined();
    hub.on("other", () => {
      throw new Error("ignored");
    });
    await expect(hub.emitQuietly("other", 2)).resolves.toBeUndefined();
    await expect(hub.emit("other", 3)).rejects.toBeInstanceOf(HandlerError);
  });

  it("removes handlers with the returned function, once after one event", async () => {
    const hub = new EventHub<Events>();
    const seen: number[] = [];
    const off = hub.on("other", (n) => void seen.push(n));
    hub.once("other", (n) => void seen.push(n * 10));
    await hub.emit("other", 1);
    await hub.emit("other", 2);
    off();
    await hub.emit("other", 3);
    expect(seen).toEqual([1, 10, 2]);
    expect(hub.listenerCount("other")).toBe(0);
  });

  it("next() resolves with the next payload or rejects after its timeout", async () => {
    const hub = new EventHub<Events>();
    const next = hub.next("other", 1000);
    await hub.emit("other", 42);
    await expect(next).resolves.toBe(42);
    await expect(hub.next("other", 10)).rejects.toThrow(/no "other" event/);
  });
});
