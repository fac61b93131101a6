/**
 * The logins scenario: many Matrix users logged in through the bridge's bot and then idle,
 * the bridge's memory per idle login, and how long all of them take to be connected again
 * after the bridge is killed with -9 (connections are paced and jittered, so the gatekeeper
 * is not stormed; the time is read from the gatekeeper's own view of who is online).
 */
import { loggedInUser } from "./people.js";
import { cpuMs, memoryKb, waitUntil } from "./proc.js";
import type { Stack } from "./stack.js";

export interface LoginsResult {
  logins: number;
  /** Bridge RSS with one login, idle. */
  rssMbOneLogin: number;
  /** Bridge RSS with all logins, idle, right after logging them all in. */
  rssMbAll: number;
  /** Bridge RSS with all logins, idle, after the restart that reconnected them. */
  rssMbAllRestarted: number;
  /**
   * (rssMbAllRestarted − rssMbOneLogin) ÷ (logins − 1): what an idle login costs. Measured after
   * the restart, since right after the login burst the RSS also holds what that work left.
   */
  rssKbPerIdleLogin: number;
  /** Logging everyone in through the bot, seconds. */
  loginSeconds: number;
  /** From the restart after kill -9 until the gatekeeper shows every login online. */
  reconnectSeconds: number;
  /**
   * CPU time per login spent on that reconnection, by the bridge (from its start) and by the
   * sandbox gatekeeper: on a small machine they share the cores, so this says who limits it.
   */
  reconnectCpuMsPerLogin: { bridge: number; gatekeeper: number };
}

/** Logs `count` Matrix users in through the bot, `concurrency` at a time. */
async function logIn(
  stack: Stack,
  from: number,
  count: number,
  concurrency: number,
  phoneBase: number,
) {
  let next = from;
  const one = async (i: number): Promise<void> => {
    const phone = `+49153${String(phoneBase + i).padStart(8, "0")}`;
    const { user } = await loggedInUser(stack, `idle${phoneBase}u${i}`, phone);
    // Idle from now on: nobody reads their rooms.
    await user.http.stopSync();
  };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < from + count) await one(next++);
    }),
  );
}

/** Logins the gatekeeper sees online (its cheap count: a full list costs a query per user). */
async function onlineCount(stack: Stack): Promise<number> {
  return (await stack.admin.online()).partnerUsers;
}

/** Settles for a moment, then the bridge's RSS in KiB (memory freed after a burst shows). */
async function idleRssKb(stack: Stack, settleMs: number): Promise<number> {
  await new Promise((r) => setTimeout(r, settleMs));
  return memoryKb(stack.bridge!.pid).rssKb;
}

export async function loginsScenario(
  stack: Stack,
  o: { logins: number; phoneBase: number; log: (line: string) => void; settleMs?: number },
): Promise<LoginsResult> {
  const settleMs = o.settleMs ?? 5_000;
  await logIn(stack, 0, 1, 1, o.phoneBase);
  const one = await idleRssKb(stack, settleMs);
  const started = Date.now();
  await logIn(stack, 1, o.logins - 1, 8, o.phoneBase);
  const loginSeconds = (Date.now() - started) / 1000;
  o.log(`[logins] ${o.logins} logged in through the bot in ${loginSeconds.toFixed(1)} s`);
  await waitUntil("every login online", async () => (await onlineCount(stack)) >= o.logins, 60_000);
  const all = await idleRssKb(stack, settleMs);
  await stack.heapSnapshot();

  await stack.bridge!.kill();
  await waitUntil(
    "the gatekeeper to see the logins gone",
    async () => (await onlineCount(stack)) === 0,
    60_000,
  );
  const restarted = Date.now();
  const gatekeeperCpu = cpuMs(stack.sandbox.pid);
  await stack.startBridge();
  await waitUntil(
    "every login online again",
    async () => (await onlineCount(stack)) >= o.logins,
    600_000,
    250,
  );
  const reconnectSeconds = (Date.now() - restarted) / 1000;
  const perLogin = (ms: number): number => Math.round((ms / o.logins) * 100) / 100;
  const reconnectCpuMsPerLogin = {
    bridge: perLogin(cpuMs(stack.bridge!.pid)),
    gatekeeper: perLogin(cpuMs(stack.sandbox.pid) - gatekeeperCpu),
  };
  o.log(
    `[logins] all ${o.logins} connected again ${reconnectSeconds.toFixed(1)} s after kill -9 ` +
      `(CPU ms per login: bridge ${reconnectCpuMsPerLogin.bridge}, ` +
      `gatekeeper ${reconnectCpuMsPerLogin.gatekeeper})`,
  );
  const restartedKb = await idleRssKb(stack, settleMs);
  return {
    logins: o.logins,
    rssMbOneLogin: Math.round(one / 102.4) / 10,
    rssMbAll: Math.round(all / 102.4) / 10,
    rssMbAllRestarted: Math.round(restartedKb / 102.4) / 10,
    rssKbPerIdleLogin: Math.round((restartedKb - one) / Math.max(1, o.logins - 1)),
    loginSeconds: Math.round(loginSeconds * 10) / 10,
    reconnectSeconds: Math.round(reconnectSeconds * 10) / 10,
    reconnectCpuMsPerLogin,
  };
}
