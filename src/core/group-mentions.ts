/**
 * Mentions in group rooms (docs/protocol.md §19.6; content.ts says how spans name people).
 * In: each member a message mentions becomes a pill for their Matrix user: the member's
 * puppet, or this bridge's user when the member is one of its logins (their own MXID, so
 * they are notified), named as the room knows them, and listed in m.mentions. Out: a pill
 * for the puppet of a group member, or for a user of this bridge whose login is a member,
 * becomes a mention of that member on the network; any other pill stays its text. One to
 * one chats have no mentions on the wire; nothing here is used for them.
 */
import type { GroupPortal, Login, Repositories } from "../db/repositories/index.js";
import { cleanDisplayName } from "../util/display-name.js";
import type { BridgeContent, MatrixMention, RemoteMention } from "./content.js";
import { errorText } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import { isMediaContent } from "./media.js";
import type { MediaMessageContent } from "./media.js";
import type { RemoteNetwork } from "./network.js";

/** What has text that can mention someone: a text, or media's caption. */
type Mentioning = Extract<BridgeContent, { kind: "text" }> | MediaMessageContent;

interface MatrixUser {
  mxid: string;
  name?: string;
}

/** The member's message, its remote mentions made pills (those of people the bridge knows). */
export async function mentionsToMatrix(
  o: { repos: Repositories; matrix: MatrixSide; logger: CoreLogger },
  roomId: string,
  content: BridgeContent,
): Promise<BridgeContent> {
  if (!hasMentions(content) || !content.remoteMentions?.length) return content;
  const users = new Map<string, MatrixUser | undefined>();
  const pills: MatrixMention[] = [];
  for (const m of content.remoteMentions) {
    if (!users.has(m.id)) users.set(m.id, await matrixUserOf(o, roomId, m.id));
    const user = users.get(m.id);
    if (user) pills.push({ start: m.start, end: m.end, ...user });
  }
  const out: Mentioning = { ...content };
  delete out.remoteMentions;
  if (pills.length === 0) return out;
  const mxids = [...(content.mentions ?? []), ...pills.map((p) => p.mxid)];
  return { ...out, matrixMentions: pills, mentions: [...new Set(mxids)] };
}

/**
 * A Matrix user's message to the group, its pills made remote mentions where they name a
 * member. `login` is the sender's (it asks the group who its members are, if need be).
 */
export async function mentionsToRemote(
  o: { repos: Repositories; network: RemoteNetwork; logger: CoreLogger },
  portal: GroupPortal,
  login: Login,
  content: BridgeContent,
): Promise<BridgeContent> {
  if (!hasMentions(content) || !content.matrixMentions?.length) return content;
  let members: Promise<Set<string>> | undefined;
  const groupMembers = (): Promise<Set<string>> => (members ??= memberIds(o, portal, login));
  const ids = new Map<string, string | undefined>();
  const mentions: RemoteMention[] = [];
  for (const m of content.matrixMentions) {
    if (!ids.has(m.mxid)) ids.set(m.mxid, await memberIdOf(o.repos, portal, m.mxid, groupMembers));
    const id = ids.get(m.mxid);
    if (id !== undefined) mentions.push({ start: m.start, end: m.end, id });
  }
  const out: Mentioning = { ...content };
  delete out.matrixMentions;
  return mentions.length === 0 ? out : { ...out, remoteMentions: mentions };
}

/** `content` (a text) with `prefix` before its text, its spans moved along. */
export function withTextPrefix<T extends Extract<BridgeContent, { kind: "text" }>>(
  content: T,
  prefix: string,
): T {
  const by = prefix.length;
  const shift = <S extends { start: number; end: number }>(spans: S[] | undefined) =>
    spans?.map((s) => ({ ...s, start: s.start + by, end: s.end + by }));
  const out: T = { ...content, text: prefix + content.text };
  const remote = shift(content.remoteMentions);
  const matrix = shift(content.matrixMentions);
  if (remote) out.remoteMentions = remote;
  if (matrix) out.matrixMentions = matrix;
  return out;
}

/** Remote mentions as an outbox row stores them (undefined when there are none or they are not). */
export function decodeRemoteMentions(v: unknown): RemoteMention[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const spans = v.filter(
    (m): m is RemoteMention =>
      typeof m === "object" &&
      m !== null &&
      typeof (m as RemoteMention).id === "string" &&
      Number.isSafeInteger((m as RemoteMention).start) &&
      Number.isSafeInteger((m as RemoteMention).end),
  );
  return spans.length === 0 ? undefined : spans.map(({ start, end, id }) => ({ start, end, id }));
}

function hasMentions(content: BridgeContent): content is Mentioning {
  return content.kind === "text" || isMediaContent(content);
}

/** This bridge's user if the member is one of its logins, else the member's puppet. */
async function matrixUserOf(
  o: { repos: Repositories; matrix: MatrixSide; logger: CoreLogger },
  roomId: string,
  id: string,
): Promise<MatrixUser | undefined> {
  const login = await o.repos.logins.getByJid(id);
  if (login && login.state !== "logged-out") {
    const name = await roomName(o, roomId, login.mxid);
    return { mxid: login.mxid, name: name ?? localpart(login.mxid) };
  }
  const puppet = await o.repos.puppets.get(id);
  if (!puppet) return undefined; // never seen: the bridge has no Matrix user for them
  const name = cleanDisplayName(puppet.displayName) ?? puppet.phone ?? undefined;
  return name === undefined ? { mxid: puppet.mxid } : { mxid: puppet.mxid, name };
}

async function roomName(
  o: { matrix: MatrixSide; logger: CoreLogger },
  roomId: string,
  mxid: string,
): Promise<string | undefined> {
  try {
    return cleanDisplayName(await o.matrix.memberName?.(roomId, mxid));
  } catch (err) {
    // The pill still names them; only its text is plainer.
    o.logger.debug("could not read a member's name", { room: roomId, error: errorText(err) });
    return undefined;
  }
}

/** The member a pill names: a login of this bridge in the group, or a member's puppet. */
async function memberIdOf(
  repos: Repositories,
  portal: GroupPortal,
  mxid: string,
  groupMembers: () => Promise<Set<string>>,
): Promise<string | undefined> {
  const login = await repos.logins.getByMxid(mxid);
  if (login?.jid) {
    return (await repos.groupPortals.isMember(portal.id, login.id)) ? login.jid : undefined;
  }
  const puppet = await repos.puppets.getByMxid(mxid);
  if (!puppet) return undefined;
  return (await groupMembers()).has(puppet.jid) ? puppet.jid : undefined;
}

/** The group's members as the network says now; none when it cannot be asked. */
async function memberIds(
  o: { network: RemoteNetwork; logger: CoreLogger },
  portal: GroupPortal,
  login: Login,
): Promise<Set<string>> {
  try {
    const info = await o.network.groupInfo?.(login.id, portal.groupJid);
    return new Set(info?.participants.map((p) => p.id));
  } catch (err) {
    // The message still goes: its pills are then plain names, which is what they show.
    o.logger.warn("could not read the group's members for mentions", {
      portal: portal.id,
      error: errorText(err),
    });
    return new Set();
  }
}

function localpart(mxid: string): string {
  return mxid.slice(1).split(":")[0] ?? mxid;
}
