import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AckTracker, IqTracker } from "../../../src/gatekeeper/client/iq-tracker.js";
import { isValidId } from "../../../src/gatekeeper/stanza/index.js";

class Timeout extends Error {}

describe("IqTracker", () => {
  let tracker: IqTracker<string>;
  beforeEach(() => {
    vi.useFakeTimers();
    tracker = new IqTracker<string>((id, ms) => new Timeout(`${id} after ${ms}`));
  });
  afterEach(() => vi.useRealTimers());

  it("hands out distinct ids that are valid stanza ids", () => {
    const ids = Array.from({ length: 100 }, () => tracker.nextId());
    expect(new Set(ids).size).toBe(100);
    expect(ids.every(isValidId)).toBe(true);
  });

  it("resolves the waiter of an answered id; a late or unknown answer is reported", async () => {
    const p = tracker.wait("a", 1000);
    expect(tracker.settle("zzz", "stray")).toBe(false);
    expect(tracker.settle("a", "result")).toBe(true);
    await expect(p).resolves.toBe("result");
    expect(tracker.settle("a", "again")).toBe(false);
    expect(tracker.size).toBe(0);
  });

  it("rejects with the timeout error when no answer comes in time", async () => {
    const p = tracker.wait("a", 20_000);
    const settled = vi.fn();
    p.catch(settled);
    vi.advanceTimersByTime(19_999);
    await Promise.resolve();
    expect(settled).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    await expect(p).rejects.toThrow(new Timeout("a after 20000"));
    expect(tracker.has("a")).toBe(false);
    expect(tracker.settle("a", "late")).toBe(false);
  });

  it("fails one waiter or all of them", async () => {
    const a = tracker.wait("a", 1000);
    const b = tracker.wait("b", 1000);
    const c = tracker.wait("c", 1000);
    tracker.fail("a", new Error("refused"));
    tracker.failAll(new Error("connection closed"));
    await expect(a).rejects.toThrow("refused");
    await expect(b).rejects.toThrow("connection closed");
    await expect(c).rejects.toThrow("connection closed");
    expect(tracker.size).toBe(0);
  });

  it("refuses a second waiter for an outstanding id", async () => {
    void tracker.wait("a", 1000).catch(() => undefined);
    await expect(tracker.wait("a", 1000)).rejects.toThrow(/duplicate/);
  });
});

describe("AckTracker", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("matches acks by key, oldest waiter first", async () => {
    const acks = new AckTracker<string>();
    const first = acks.wait("receipt:1", 1000, () => new Error("timeout"));
    const second = acks.wait("receipt:1", 1000, () => new Error("timeout"));
    expect(acks.settle("message:1", "wrong class")).toBe(false);
    expect(acks.settle("receipt:1", "ack A")).toBe(true);
    expect(acks.settle("receipt:1", "ack B")).toBe(true);
    await expect(first.promise).resolves.toBe("ack A");
    await expect(second.promise).resolves.toBe("ack B");
  });

  it("times out, fails one waiter, or fails them all", async () => {
    const acks = new AckTracker<string>();
    let timedOut = 0;
    const late = acks.wait("message:1", 500, () => {
      timedOut += 1;
      return new Error("no ack");
    });
    const failed = acks.wait("message:2", 500, () => new Error("no ack"));
    const rest = acks.wait("message:3", 500, () => new Error("no ack"));
    failed.fail(new Error("send failed"));
    await expect(failed.promise).rejects.toThrow("send failed");
    vi.advanceTimersByTime(500);
    await expect(late.promise).rejects.toThrow("no ack");
    expect(timedOut).toBe(1);
    acks.failAll(new Error("closed"));
    await expect(rest.promise).rejects.toThrow("no ack"); // it had timed out as well
    expect(acks.settle("message:1", "too late")).toBe(false);
  });
});
