/** What each chat command does, on the real GKI/1 client. */
import { clone } from "@bufbuild/protobuf";
import { type Message, MessageSchema } from "../../gen/gki_pb.js";
import type { GatekeeperClient, SendResult } from "../../gatekeeper/client/index.js";
import {
  type ReplyContext,
  describeContent,
  editMessage,
  reactionMessage,
  revokeMessage,
  textMessage,
} from "../../gatekeeper/content/index.js";
import type { MessageKeyRef } from "../../gatekeeper/content/index.js";
import { isGroupJid } from "../../gatekeeper/stanza/index.js";
import { ChatError } from "./chat-error.js";
import { type ChatCommand, HELP, isPhone } from "./commands.js";
import type { GroupBook } from "./group-book.js";
import { chooseGroup, groupCall, runGroup } from "./group-actions.js";
import { looksLikeGroupRef } from "./group-commands.js";
import { type LoggedMessage, type MessageLog, shortId } from "./ids.js";
import { checkCaption, readFileToSend, uploadFile } from "./media.js";
import { sentLine } from "./render.js";

export interface RunContext {
  client: GatekeeperClient;
  say: (line: string) => void;
  names: Map<string, string>;
  /** The current conversation: a contact's JID or a group's. */
  peer: string | undefined;
  groups: GroupBook;
  log: MessageLog;
  /** Our own JID: the sender of what we write. */
  ownJid: string;
}

/**
 * Runs one command; returns the new current conversation when it changes (null: none any
 * more). Throws ChatError on bad input.
 */
export async function run(
  command: ChatCommand,
  ctx: RunContext,
): Promise<string | null | undefined> {
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
    case "to":
      return isGroupJid(command.target) || looksLikeGroupRef(command.target)
        ? chooseGroup(command.target, ctx)
        : choosePeer(command.target, ctx);
    case "group":
      return runGroup(command.group, ctx);
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
      await client.sendChatState(currentPeer(ctx), "composing");
      return undefined;
    case "safety": {
      const jid = command.jid ?? currentPeer(ctx);
      if (isGroupJid(jid)) {
        throw new ChatError("wrong-kind", "a group has no safety number: /safety MEMBERJID");
      }
      say(`  safety number with ${names.get(jid) ?? jid}: ${await client.fingerprint(jid)}`);
      return undefined;
    }
    case "text":
      await sendContent(ctx, currentPeer(ctx), textMessage(command.text));
      return undefined;
    case "send":
    case "voice":
      await sendFile(ctx, command);
      return undefined;
    case "reply":
      await reply(ctx, command.id, command.text);
      return undefined;
    case "edit":
      await edit(ctx, command.id, command.text);
      return undefined;
    case "react":
      await react(ctx, command.id, command.emoji);
      return undefined;
    case "delete":
      await remove(ctx, command.id);
      return undefined;
  }
}

async function choosePeer(target: string, ctx: RunContext): Promise<string | undefined> {
  let jid = target;
  if (isPhone(target)) {
    const [entry] = await ctx.client.lookup([target]);
    if (entry?.jid === undefined) {
      ctx.say(`  ${target} is not reachable (unknown, or has not allowed you)`);
      return undefined;
    }
    jid = entry.jid;
    ctx.names.set(jid, entry.name ?? target);
  }
  ctx.say(`  now chatting with ${ctx.names.get(jid) ?? jid}`);
  await ctx.client.subscribePresence(jid);
  return jid;
}

function currentPeer(ctx: RunContext): string {
  if (ctx.peer === undefined)
    throw new ChatError(
      "no-peer",
      "choose a contact first: /to +4917012345678, or a group: /groups",
    );
  return ctx.peer;
}

/** Sends to a contact, or to every member of a group (docs §19.5). */
function sendTo(ctx: RunContext, to: string, content: Message): Promise<SendResult> {
  if (!isGroupJid(to)) return ctx.client.sendMessage(to, content);
  return groupCall(ctx, to, () => ctx.client.groups.send(to, content));
}

/**
 * The key of a message a reaction, edit or deletion is about. In a group it names the chat
 * (the group) and, for someone else's message, its sender (docs §19.6).
 */
function keyOf(message: LoggedMessage): MessageKeyRef {
  const key: MessageKeyRef = { id: message.id, fromMe: message.fromMe, remoteJid: message.chat };
  if (isGroupJid(message.chat) && !message.fromMe) key.participant = message.sender;
  return key;
}

/** Sends a message with content of its own (text, a file), remembered so that commands can name it. */
async function sendContent(
  ctx: RunContext,
  to: string,
  content: Message,
  what?: string,
): Promise<void> {
  const sent = await sendTo(ctx, to, content);
  ctx.log.record({ id: sent.id, chat: to, sender: ctx.ownJid, fromMe: true, content });
  ctx.say(sentLine(sent, what));
}

async function sendFile(
  ctx: RunContext,
  command: Extract<ChatCommand, { kind: "send" | "voice" }>,
): Promise<void> {
  const to = currentPeer(ctx);
  const file = await readFileToSend(command.path, { voice: command.kind === "voice" });
  const caption = command.kind === "send" ? command.caption : undefined;
  checkCaption(file, caption);
  const what = `${file.voice ? "voice message" : file.kind.kind} ${file.name}, ${file.bytes.length} bytes, ${file.kind.mimetype}`;
  ctx.say(`  uploading ${what}…`);
  const content = await uploadFile(ctx.client, file, caption);
  await sendContent(ctx, to, content, what);
}

/**
 * The message a command names, in the current chat. `ownFor`: what the command does, when
 * it may only be done to a message we wrote ("edit", "delete").
 */
function target(ctx: RunContext, ref: string, ownFor?: string): LoggedMessage {
  const peer = currentPeer(ctx);
  const message = ctx.log.resolve(ref);
  const id = shortId(message.id);
  const name = (jid: string): string => ctx.names.get(jid) ?? jid;
  if (message.chat !== peer) {
    throw new ChatError(
      "other-chat",
      `${id} is in ${isGroupJid(message.chat) ? ctx.groups.label(message.chat) : `the chat with ${name(message.chat)}`}, not the current one: /to ${message.chat} first`,
    );
  }
  if (ownFor !== undefined && !message.fromMe) {
    throw new ChatError(
      "not-yours",
      `${id} is ${name(message.sender)}'s: you can ${ownFor} only your own messages`,
    );
  }
  if (message.deleted) throw new ChatError("deleted", `${id} was deleted`);
  return message;
}

async function reply(ctx: RunContext, ref: string, text: string): Promise<void> {
  const quoted = target(ctx, ref);
  const context: ReplyContext = { stanzaId: quoted.id, participant: quoted.sender };
  // A copy of the quoted text lets the contact's app show the quote (as the bridge does).
  const quotedText = textOf(quoted.content);
  if (quotedText !== undefined) context.quotedMessage = textMessage(quotedText);
  await sendContent(
    ctx,
    quoted.chat,
    textMessage(text, { contextInfo: context }),
    `reply to ${shortId(quoted.id)}`,
  );
}

async function edit(ctx: RunContext, ref: string, text: string): Promise<void> {
  const original = target(ctx, ref, "edit");
  const replacement = editedContent(original, text);
  await sendTo(
    ctx,
    original.chat,
    editMessage(keyOf(original), replacement, { timestampMs: Date.now() }),
  );
  original.content = replacement;
  ctx.say(`  edited ${shortId(original.id)}`);
}

/** The new content of an edit: the new text, or the file with the new caption. */
function editedContent(original: LoggedMessage, text: string): Message {
  const kind = describeContent(original.content).kind;
  if (kind === "text") return textMessage(text);
  const next = clone(MessageSchema, original.content);
  if (kind === "image" && next.imageMessage) next.imageMessage.caption = text;
  else if (kind === "video" && next.videoMessage) next.videoMessage.caption = text;
  else if (kind === "document" && next.documentMessage) next.documentMessage.caption = text;
  else {
    throw new ChatError(
      "wrong-kind",
      `${shortId(original.id)} is ${kind === "audio" ? "an audio message: it has no caption" : "not a text"} to edit`,
    );
  }
  return next;
}

async function react(ctx: RunContext, ref: string, emoji: string): Promise<void> {
  const message = target(ctx, ref);
  await sendTo(
    ctx,
    message.chat,
    reactionMessage(keyOf(message), emoji, { senderTimestampMs: Date.now() }),
  );
  ctx.say(
    emoji === ""
      ? `  removed your reaction to ${shortId(message.id)}`
      : `  reacted ${emoji} to ${shortId(message.id)}`,
  );
}

async function remove(ctx: RunContext, ref: string): Promise<void> {
  const message = target(ctx, ref, "delete");
  await sendTo(ctx, message.chat, revokeMessage(keyOf(message), { timestampMs: Date.now() }));
  message.deleted = true;
  ctx.say(`  deleted ${shortId(message.id)}`);
}

function textOf(content: Message): string | undefined {
  const kind = describeContent(content);
  if (kind.kind === "text") return kind.text;
  return "caption" in kind ? kind.caption : undefined;
}
