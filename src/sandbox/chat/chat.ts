/**
 * `gatekeeper-sandbox chat +49…`: a native gatekeeper user in the terminal,
 * built on the real GKI/1 client (GatekeeperClient) against a running
 * sandbox, so a person can talk to a bridged Matrix user by hand.
 */
import { mkdir } from "node:fs/promises";
import { createInterface } from "node:readline";
import type { Knex } from "knex";
import { migrate, openDatabase } from "../../db/index.js";
import { GatekeeperClient } from "../../gatekeeper/client/index.js";
import {
  type ContentKind,
  MEDIA_KINDS,
  type MediaContent,
  describeContent,
} from "../../gatekeeper/content/index.js";
import { AdminClient } from "../admin-client.js";
import { run } from "./actions.js";
import { ChatError } from "./chat-error.js";
import { parseCommand } from "./commands.js";
import { GroupBook } from "./group-book.js";
import { groupChangeLine, namesFor } from "./group-render.js";
import { MessageLog, shortId } from "./ids.js";
import { saveMedia } from "./media.js";
import { MEDIA_DIR_HINT, printable, receivedLine } from "./render.js";

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
  /** Received images, videos, audio and documents are saved here (created if missing). */
  mediaDir?: string;
}

/** Runs until `/quit` or the end of the input. */
export async function runChat(opts: ChatOptions): Promise<void> {
  if (opts.mediaDir !== undefined) {
    await mkdir(opts.mediaDir, { recursive: true }).catch((err: unknown) => {
      const code = err instanceof Error && "code" in err ? String(err.code) : String(err);
      throw new Error(`--media-dir: cannot create ${opts.mediaDir} (${code})`);
    });
  }
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
  const say = (line: string): void => opts.output(printable(line));
  const names = new Map<string, string>();
  const groups = new GroupBook();
  const label = (jid: string): string => names.get(jid) ?? jid;
  /** " in [Family]" after who did something, for what happened in a group. */
  const inGroup = (group: string | undefined): string =>
    group === undefined ? "" : ` in ${groups.label(group)}`;
  let peer: string | undefined;

  const client = new GatekeeperClient({
    url: info.url,
    serverStaticKey: Buffer.from(info.publicKey, "base64"),
    db,
    account: { product: "native", accountId: creds.accountId, token: creds.token },
    groups: true,
  });
  const log = new MessageLog();
  // Saved before the line is shown, so that the line can say where (or why not).
  const mediaNote = async (kind: MediaContent, id: string): Promise<string> => {
    if (opts.mediaDir === undefined) return MEDIA_DIR_HINT;
    try {
      return `→ saved to ${await saveMedia(client, kind, id, opts.mediaDir)}`;
    } catch (err) {
      return `→ NOT saved: ${err instanceof ChatError ? err.message : String(err)}`;
    }
  };
  client.on("message", async (m) => {
    const kind = describeContent(m.content);
    const note = isMedia(kind) ? await mediaNote(kind, m.id) : undefined;
    // A member we never looked up is named as their app names them.
    if (m.group !== undefined && m.pushName && !names.has(m.from)) names.set(m.from, m.pushName);
    const group = m.group === undefined ? undefined : groups.label(m.group);
    const nameOf = (jid: string): string | undefined =>
      jid === creds.jid ? "you" : names.get(jid);
    say(receivedLine(m, label(m.from), { note, group, nameOf }));
    log.received(m.from, m.id, m.content, m.group ?? m.from);
    peer ??= m.group ?? m.from;
    // In a group, read receipts go to the member who sent it (docs §19.6).
    const read =
      m.group === undefined
        ? client.sendReceipt(m.from, [m.id], "read")
        : client.groups.sendReceipt(m.group, m.from, [m.id], "read");
    await read.catch(() => undefined);
  });
  client.on("receipt", (r) =>
    say(`  ✓ ${r.type} by ${label(r.from)}${inGroup(r.group)}: ${r.ids.map(shortId).join(", ")}`),
  );
  client.on("chatstate", (c) =>
    say(
      `  ${label(c.from)}${inGroup(c.group)} ${c.state === "composing" ? "is typing…" : "stopped typing"}`,
    ),
  );
  client.on("groupChange", (e) => {
    // A new group's line already shows its subject; a renamed one its old subject.
    if (e.change.type === "create") groups.apply(e.group, e.change);
    // Our own create and leave were told by the command's answer (with who could not be
    // added); every other change of ours is shown as the gatekeeper announces it.
    const ours = e.actor === creds.jid && !e.offline;
    if (ours && (e.change.type === "create" || e.change.type === "leave")) return;
    const line = groupChangeLine(e, groups.label(e.group), namesFor(creds.jid, names));
    groups.apply(e.group, e.change);
    say(line);
  });
  client.on("presence", (p) =>
    say(`  ${label(p.from)} is ${p.type === "available" ? "online" : "offline"}`),
  );
  client.on("identityChange", (e) => say(`  ! the safety number with ${label(e.jid)} changed`));
  client.on("sendFailed", (e) =>
    say(
      `  ! could not deliver ${shortId(e.id)} to ${label(e.to)}${inGroup(e.group)}: ${e.error.message}`,
    ),
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
        const ownJid = client.jid ?? creds.jid;
        const next = await run(command, { client, say, names, peer, groups, log, ownJid });
        if (next !== undefined) peer = next ?? undefined;
      } catch (err) {
        say(`  ! ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  } finally {
    rl.close();
    await client.stop();
  }
}

function isMedia(kind: ContentKind): kind is MediaContent {
  return (MEDIA_KINDS as readonly string[]).includes(kind.kind);
}
