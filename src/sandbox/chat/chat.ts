/**
 * `gatekeeper-sandbox chat +49…`: a native gatekeeper user in the terminal,
 * built on the real GKI/1 client (GatekeeperClient) against a running
 * sandbox, so a person can talk to a bridged Matrix user by hand.
 */
import { createInterface } from "node:readline";
import type { Knex } from "knex";
import { migrate, openDatabase } from "../../db/index.js";
import { GatekeeperClient } from "../../gatekeeper/client/index.js";
import { textMessage } from "../../gatekeeper/content/index.js";
import { AdminClient } from "../admin-client.js";
import { type ChatCommand, HELP, isPhone, parseCommand } from "./commands.js";
import { describeMessage, time } from "./render.js";

export interface ChatOptions {
  /** Base URL of the sandbox (its admin API), e.g. http://127.0.0.1:29500. */
  adminUrl: string;
  /** The native user's phone number. */
  phone: string;
  /** SQLite file for this user's keys and sessions (":memory:" for a throwaway identity). */
  statePath: string;
  input: NodeJS.ReadableStream;
  /** Where lines for the user go. */
  output: (line: string) => void;
}

/** Runs until `/quit` or the end of the input. */
export async function runChat(opts: ChatOptions): Promise<void> {
  const admin = new AdminClient(opts.adminUrl);
  const info = await admin.info();
  // Tokens are kept only as hashes, so the chat asks for a fresh one.
  const creds = await admin.issueToken(opts.phone);
  const db = await openDatabase({ type: "sqlite", filename: opts.statePath });
  try {
    await migrate(db);
    await chatWith(opts, db, info, creds);
  } finally {
    await db.destroy();
  }
}

async function chatWith(
  opts: ChatOptions,
  db: Knex,
  info: { url: string; publicKey: string },
  creds: { accountId: string; token: string; jid: string },
): Promise<void> {
  const say = opts.output;
  const names = new Map<string, string>();
  const label = (jid: string): string => names.get(jid) ?? jid;
  let peer: string | undefined;

  const client = new GatekeeperClient({
    url: info.url,
    serverStaticKey: Buffer.from(info.publicKey, "base64"),
    db,
    account: { product: "native", accountId: creds.accountId, token: creds.token },
  });
  client.on("message", async (m) => {
    say(
      `${time(m.t)} ${label(m.from)}: ${describeMessage(m.content)}${m.offline ? " (while you were away)" : ""}`,
    );
    peer ??= m.from;
    await client.sendReceipt(m.from, [m.id], "read").catch(() => undefined);
  });
  client.on("receipt", (r) => say(`  ✓ ${r.type} by ${label(r.from)}: ${r.ids.join(", ")}`));
  client.on("chatstate", (c) =>
    say(`  ${label(c.from)} ${c.state === "composing" ? "is typing…" : "stopped typing"}`),
  );
  client.on("presence", (p) =>
    say(`  ${label(p.from)} is ${p.type === "available" ? "online" : "offline"}`),
  );
  client.on("identityChange", (e) => say(`  ! the safety number with ${label(e.jid)} changed`));
  client.on("sendFailed", (e) =>
    say(`  ! could not deliver ${e.id} to ${label(e.to)}: ${e.error.message}`),
  );
  client.on("connectionState", (s) =>
    say(`  [${s.state}${s.error ? `: ${s.error.message}` : ""}]`),
  );

  await client.start();
  say(`logged in as ${opts.phone} (${client.jid ?? creds.jid}). /help lists the commands.`);

  const rl = createInterface({ input: opts.input, terminal: false });
  try {
    for await (const line of rl) {
      const command = parseCommand(line);
      if (command.kind === "quit") break;
      try {
        const next = await run(command, { client, say, names, peer });
        if (next !== undefined) peer = next;
      } catch (err) {
        say(`  ! ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  } finally {
    rl.close();
    await client.stop();
  }
}

interface RunContext {
  client: GatekeeperClient;
  say: (line: string) => void;
  names: Map<string, string>;
  peer: string | undefined;
}

/** Runs one command; returns the new current peer when it changes. */
async function run(command: ChatCommand, ctx: RunContext): Promise<string | undefined> {
  const { client, say, names } = ctx;
  switch (command.kind) {
    case "help":
      say(HELP);
      return undefined;
    case "empty":
    case "quit":
      return undefined;
    case "invalid":
      say(`  ${command.message}`);
      return undefined;
    case "lookup":
      for (const entry of await client.lookup(command.phones)) {
        if (entry.jid !== undefined) names.set(entry.jid, entry.name ?? entry.phone);
        say(
          `  ${entry.phone}: ${entry.jid === undefined ? "not reachable" : `${entry.jid}${entry.name ? ` (${entry.name})` : ""}`}`,
        );
      }
      return undefined;
    case "to": {
      let jid = command.target;
      if (isPhone(command.target)) {
        const [entry] = await client.lookup([command.target]);
        if (entry?.jid === undefined) {
          say(`  ${command.target} is not reachable (unknown, or has not allowed you)`);
          return undefined;
        }
        jid = entry.jid;
        names.set(jid, entry.name ?? command.target);
      }
      say(`  now chatting with ${names.get(jid) ?? jid}`);
      await client.subscribePresence(jid);
      return jid;
    }
    case "optin":
      await client.setInteropSettings({
        enabled: true,
        partners: command.partners,
        inbox: "separate",
      });
      say(
        `  interop on for ${command.partners === "*" ? "all partners" : command.partners.join(", ")}`,
      );
      return undefined;
    case "optout":
      await client.setInteropSettings({ enabled: false, partners: [], inbox: "separate" });
      say("  interop off");
      return undefined;
    case "block":
      await client.block(command.jid);
      say(`  blocked ${command.jid}`);
      return undefined;
    case "unblock":
      await client.unblock(command.jid);
      say(`  unblocked ${command.jid}`);
      return undefined;
    case "blocklist": {
      const list = await client.blocklist();
      say(list.length === 0 ? "  nobody is blocked" : `  blocked: ${list.join(", ")}`);
      return undefined;
    }
    case "presence":
      await client.setPresence(command.type);
      return undefined;
    case "typing":
    case "safety":
    case "text": {
      const jid = command.kind === "safety" ? (command.jid ?? ctx.peer) : ctx.peer;
      if (jid === undefined) {
        say("  choose a contact first: /to +4917012345678");
        return undefined;
      }
      if (command.kind === "typing") await client.sendChatState(jid, "composing");
      else if (command.kind === "safety")
        say(`  safety number with ${names.get(jid) ?? jid}: ${await client.fingerprint(jid)}`);
      else {
        const sent = await client.sendMessage(jid, textMessage(command.text));
        say(`  sent ${sent.id} at ${time(sent.t)}`);
      }
      return undefined;
    }
  }
}
