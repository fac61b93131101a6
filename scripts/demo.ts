/**
 * `npm run demo`: the whole bridge on loopback, with a scripted conversation printed as a
 * transcript, then the measured relay latency; exits 0, or non-zero saying what failed.
 * With --group, a group conversation instead (scripts/demo/group-conversation.ts).
 *
 *   npm run demo [-- --group] [--keep] [--dir DIR] [--probes 10] [--timeout 180] [--verbose]
 *
 * The homeserver is the in-process test homeserver from test/harness, since no real
 * homeserver is installed where this project is built; docs/setup.md covers Synapse.
 */
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Logger } from "../src/matrix/appservice-bridge.js";
import type { SandboxLogger } from "../src/sandbox/index.js";
import { playConversation, WHERE } from "./demo/conversation.js";
import type { ConversationResult, LatencyStats } from "./demo/conversation.js";
import { GROUP, GROUP_WHERE, playGroupConversation } from "./demo/group-conversation.js";
import type { GroupConversationResult } from "./demo/group-conversation.js";
import { ALICE, BOB, CAROL, DAVE, PARTNER_ID, spaced } from "./demo/people.js";
import { startStack } from "./demo/stack.js";
import type { Stack } from "./demo/stack.js";
import { Transcript } from "./demo/transcript.js";
import type { Out } from "./demo/transcript.js";

const USAGE = `usage: npm run demo [-- [--group] [--keep] [--dir DIR] [--probes N] [--timeout SECONDS] [--verbose]]
  --group      play a group conversation instead of the one-to-one one: Alice makes a group
               with Bob and Carol through the bot, messages, a reply, a photo and a reaction
               go every way, she renames it, Carol leaves and is added back (no latency)
  --keep       stay up after the script and print how to connect a Matrix client and a
               sandbox chat terminal (with --group: its /group commands); Ctrl-C stops it
  --dir DIR    write config.yaml, registration.yaml and the databases to DIR (new or empty;
               kept afterwards) instead of a temp folder that is removed at the end
  --probes N   messages each way for the latency measurement (default 10; not with --group)
  --timeout S  give up after S seconds (default 180; the scripted part only)
  --verbose    also print the bridge's and the sandbox's logs`;

export interface DemoOptions {
  /** Play the group script instead of the one-to-one one. */
  group: boolean;
  keep: boolean;
  dir?: string;
  probes: number;
  timeoutMs: number;
  verbose: boolean;
  out: Out;
  err: Out;
  /** Wrap long texts to this many columns (default 0: never). */
  width?: number;
  /** With keep: resolves when the demo should stop (default: SIGINT or SIGTERM). */
  untilStopped?: () => Promise<void>;
}

class UsageError extends Error {}

export function parseDemoArgs(argv: string[]): Omit<DemoOptions, "out" | "err"> {
  const { values } = parseArgs({
    args: argv,
    options: {
      group: { type: "boolean" },
      keep: { type: "boolean" },
      dir: { type: "string" },
      probes: { type: "string" },
      timeout: { type: "string" },
      verbose: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) throw new UsageError("");
  const int = (name: string, v: string | undefined, fallback: number, max: number): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new UsageError(`--${name} must be a whole number from 1 to ${max}, not ${v}`);
    return n;
  };
  if (values.group && values.probes !== undefined)
    throw new UsageError("--probes is for the one-to-one script: --group measures no latency");
  return {
    group: values.group === true,
    keep: values.keep === true,
    ...(values.dir === undefined ? {} : { dir: values.dir }),
    probes: int("probes", values.probes, 10, 40),
    timeoutMs: int("timeout", values.timeout, 180, 3600) * 1000,
    verbose: values.verbose === true,
  };
}

/**
 * SIGINT/SIGTERM for the whole run: the first one calls the current `on` (abort the script,
 * or end --keep); later ones are ignored while the demo shuts down (a second Ctrl-C), and
 * Node's default for an unhandled one would end the process before the clean-up. npm runs
 * the demo as `node --import tsx`, not the tsx CLI: that relays a signal and SIGKILLs a child
 * that does not confirm it within 30 ms, which on a busy machine cut the clean-up short.
 */
class Signals {
  private on: (() => void) | undefined;
  private readonly handler = (): void => {
    const on = this.on;
    this.on = undefined;
    on?.();
  };

  constructor() {
    process.on("SIGINT", this.handler);
    process.on("SIGTERM", this.handler);
  }

  /** Resolves at the next signal. */
  next(): Promise<void> {
    return new Promise((resolve) => (this.on = resolve));
  }

  /** What the next signal does; undefined: nothing. */
  set(on: (() => void) | undefined): void {
    this.on = on;
  }

  dispose(): void {
    process.off("SIGINT", this.handler);
    process.off("SIGTERM", this.handler);
  }
}

/** Resolves with `p`, or with undefined after `ms`. */
function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([
    p,
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref()),
  ]);
}

function stderrLogger(err: Out): SandboxLogger {
  const line =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void =>
      err(`sandbox ${level} ${message}${fields ? " " + JSON.stringify(fields) : ""}`);
  return { debug: () => undefined, info: line("info"), warn: line("warn"), error: line("error") };
}

const ms = (v: number): string => `${v.toFixed(1)} ms`;

function latencyLine(label: string, s: LatencyStats, how: string): string {
  return `${label}  median ${ms(s.medianMs).padStart(9)}   min ${ms(s.minMs)}   max ${ms(s.maxMs)}   (${how})`;
}

function printSetup(t: Transcript, stack: Stack, ownedDir: boolean, group: boolean): void {
  const native = (who: { name: string; phone: string }): string =>
    `${who.name.padEnd(13)}a native gatekeeper user (GatekeeperClient, opted in${group ? ", in groups" : ""}); phone ${spaced(who.phone)}`;
  t.section("Running (all on 127.0.0.1)");
  t.note(
    [
      `homeserver   ${stack.homeserver.url}  server name ${stack.homeserver.serverName}`,
      `             the in-process TEST homeserver from test/harness: no real homeserver is`,
      `             installed here (docs/setup.md shows a real one, Synapse)`,
      `gatekeeper   ${stack.sandbox.url}  (the sandbox; the bridge is its partner "${PARTNER_ID}")`,
      `bridge       appservice http://127.0.0.1:${stack.bridge.appservicePort}, partner endpoints ${stack.bridge.partnerEndpointsUrl}`,
      `             bot ${stack.botMxid}, started from ${stack.configPath}`,
      `             and ${stack.registrationPath} (SQLite in the same folder${ownedDir ? ", removed at the end" : ""})`,
      `Alice        ${stack.alice.userId}, a matrix-js-sdk client; phone ${spaced(ALICE.phone)}`,
      native(BOB),
      ...(group ? [native(CAROL)] : []),
    ].join("\n"),
  );
}

function printLatency(t: Transcript, r: ConversationResult, probes: number): void {
  const { matrixToGatekeeper: out, gatekeeperToMatrix: back } = r.latency;
  t.section(`Relay latency (${probes} messages each way, one at a time, everything on loopback)`);
  t.note(
    [
      latencyLine("Matrix → Gatekeeper", out, "Alice's send until Bob's app emits it"),
      latencyLine("Gatekeeper → Matrix", back, "Bob's send until Alice's client shows it"),
    ].join("\n"),
  );
}

/** How to connect a Matrix client as Alice (--keep). */
function aliceNotes(t: Transcript, stack: Stack): string[] {
  t.section(
    "Staying up (--keep): Ctrl-C stops everything. These credentials exist only in this run.",
  );
  return [
    `A Matrix client, as Alice:`,
    `  homeserver URL  ${stack.homeserver.url}`,
    `  user            ${stack.alice.userId}`,
    `  password        ${stack.alice.password}`,
    `  The test homeserver is minimal (no federation, no end-to-end encryption, no`,
    `  registration UI): use a client that copes with that; Element Web may not.`,
  ];
}

function printKeep(t: Transcript, stack: Stack, r: ConversationResult): void {
  const admin = stack.sandbox.httpUrl;
  t.note(
    [
      ...aliceNotes(t, stack),
      `  Alice's bot DM is ${r.dmRoomId} (send \`help\`), her chat with Bob ${r.portalRoomId}.`,
      ``,
      `A second gatekeeper user in another terminal, ${CAROL.name} (${spaced(CAROL.phone)}, opted in):`,
      `  npx gatekeeper-sandbox chat ${CAROL.phone} --admin ${admin} --state :memory:`,
      `  (the command runs dist/: \`npm run build\` once first)`,
      `  Then send \`start ${spaced(CAROL.phone)}\` in Alice's bot DM, or type`,
      `  \`/to ${ALICE.phone}\` in Carol's terminal and write to Alice (a message request).`,
      ``,
      `Messages to ${BOB.name} keep appearing below as "${WHERE.bobApp}".`,
    ].join("\n"),
  );
}

function printGroupKeep(t: Transcript, stack: Stack, r: GroupConversationResult): void {
  const admin = stack.sandbox.httpUrl;
  const [a, b, c] = [ALICE.phone, BOB.phone, CAROL.phone];
  t.note(
    [
      ...aliceNotes(t, stack),
      `  Alice's bot DM is ${r.dmRoomId} (send \`help\`, \`groups\`),`,
      `  the room of the group "${GROUP.renamed}" ${r.groupRoomId}.`,
      ``,
      `A third gatekeeper user in another terminal, ${DAVE.name} (${spaced(DAVE.phone)}, opted in):`,
      `  npx gatekeeper-sandbox chat ${DAVE.phone} --admin ${admin} --state :memory:`,
      `  (the command runs dist/: \`npm run build\` once first)`,
      `  Then a group of his own there, where he is the admin:`,
      `    /group create "Picnic" ${a} ${b}`,
      `        Alice is invited to its room (her bot DM says who added her), Bob is in it`,
      `    hello everyone                      to the current group`,
      `    /group subject Picnic on Sunday     renames it: the room's name follows`,
      `    /group add ${c}           adds Carol: her puppet joins (/group remove: leaves)`,
      `    /group info, /groups, /group leave`,
      ``,
      `Messages to ${BOB.name} and ${CAROL.name}, and their groups' changes, keep appearing below`,
      `as "${GROUP_WHERE.bobApp}…" and "${GROUP_WHERE.carolApp}…".`,
    ].join("\n"),
  );
}

/** Runs the demo; resolves with the exit code. */
export async function runDemo(o: DemoOptions): Promise<number> {
  Logger.configure({ console: o.verbose ? "info" : "off" });
  const t = new Transcript(o.out, o.width ?? 0);
  const signals = new Signals();
  let current = "starting";
  let stack: Stack | undefined;
  // The scripted part ends early on the global timeout or on Ctrl-C, and still cleans up.
  let timer: NodeJS.Timeout | undefined;
  const aborted = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${o.timeoutMs / 1000} s`)),
      o.timeoutMs,
    );
    signals.set(() => reject(new Error("interrupted")));
  });
  aborted.catch(() => undefined);
  const endAbortable = (): void => {
    clearTimeout(timer);
    signals.set(undefined);
  };

  t.raw(
    o.group
      ? "matrix-gatekeeper-bridge demo: a Matrix user and two Gatekeeper users chat in a group through the bridge"
      : "matrix-gatekeeper-bridge demo: a Matrix user and a Gatekeeper user chat through the bridge",
  );
  const starting = startStack({
    ...(o.dir === undefined ? {} : { dir: o.dir }),
    group: o.group,
    ...(o.keep ? { terminalUser: o.group ? DAVE : CAROL } : {}),
    ...(o.verbose ? { sandboxLogger: stderrLogger(o.err) } : {}),
    onStep: (s) => (current = s),
  });
  starting.catch(() => undefined);
  try {
    const scripted = (async () => {
      stack = await starting;
      printSetup(t, stack, o.dir === undefined, o.group);
      t.section("Transcript");
      const onStep = (s: string): string => (current = s);
      if (o.group) {
        const group = await playGroupConversation(stack, t, { keepObserving: o.keep, onStep });
        return { group };
      }
      const oneToOne = await playConversation(stack, t, {
        probes: o.probes,
        keepObserving: o.keep,
        onStep,
      });
      return { oneToOne };
    })();
    const result: { oneToOne?: ConversationResult; group?: GroupConversationResult } =
      await Promise.race([scripted, aborted]);
    endAbortable();
    if (result.oneToOne) printLatency(t, result.oneToOne, o.probes);
    if (o.keep && stack) {
      if (result.oneToOne) printKeep(t, stack, result.oneToOne);
      if (result.group) printGroupKeep(t, stack, result.group);
      await (o.untilStopped ? o.untilStopped() : signals.next());
      (result.oneToOne ?? result.group)?.stopObserving();
    }
    current = "shutting down";
    t.section("Shutting down");
    await stack?.close();
    t.note("done");
    return 0;
  } catch (err) {
    endAbortable();
    const why = err instanceof Error ? err.message : String(err);
    o.err(`demo failed while ${current}: ${why}`);
    // Cut short while starting: let the start finish (or fail) so its parts can be stopped.
    const started = stack ?? (await bounded(starting, 15_000).catch(() => undefined));
    await bounded(started?.close() ?? Promise.resolve(), 15_000);
    return 1;
  } finally {
    signals.dispose();
  }
}

export async function main(argv: string[]): Promise<number> {
  let parsed: Omit<DemoOptions, "out" | "err">;
  try {
    parsed = parseDemoArgs(argv);
  } catch (err) {
    if (err instanceof UsageError && err.message === "") {
      console.log(USAGE); // --help
      return 0;
    }
    if (err instanceof UsageError || (err instanceof TypeError && "code" in err)) {
      console.error(`${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  return runDemo({
    ...parsed,
    // In a terminal, long bot replies wrap under their own column; piped output stays unwrapped.
    width: process.stdout.isTTY ? process.stdout.columns : 0,
    out: (l) => console.log(l),
    err: (l) => console.error(l),
  });
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  // Explicit exit: a client library's lingering timer must not keep a finished demo alive.
  void main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exit(1);
    },
  );
}
