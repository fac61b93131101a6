/**
 * `xmlns="w:g2"` (docs/protocol.md §19.3): create, query, participating, subject,
 * description, picture, add, remove, promote, demote and leave, with their per-participant
 * and whole-request errors. Every change is announced to the members (§19.4) before the
 * result goes out.
 */
import { randomBytes, randomInt } from "node:crypto";
import {
  type GroupRequest,
  type MembershipOp,
  type ParticipantResult,
  type XmlNode,
  buildDescriptionResult,
  buildGroupCreateResult,
  buildGroupQueryResult,
  buildMembershipResult,
  buildParticipatingResult,
  buildPictureGetResult,
  buildPictureResult,
  formatGroupJid,
  isGroupJid,
  parseGroupRequest,
} from "../../gatekeeper/stanza/index.js";
import { type SandboxContext, unixSeconds } from "../context.js";
import { SandboxError } from "../errors.js";
import type { IqHandler } from "../iq-context.js";
import { retryAfterSeconds } from "../rate-limit.js";
import { type Account, type Group, isAdminRole } from "../store/index.js";
import { applyMembership } from "./membership.js";
import {
  addRefusal,
  announce,
  charCount,
  groupInfo,
  memberAccounts,
  afterDeparture,
} from "./members.js";

const DAY_MS = 24 * 60 * 60 * 1000;
const JPEG_MAGIC = [0xff, 0xd8, 0xff];

/** Requests addressed to a group (`to` = G); the others go to `gk`. */
type GroupTargeted = Exclude<GroupRequest, { op: "create" | "participating" | "leave" }>;

const newId = (): string => randomBytes(8).toString("hex").toUpperCase();

/** 18 random digits, not starting with 0, never used before (§19.1). */
async function newGroupJid(ctx: SandboxContext): Promise<string> {
  for (;;) {
    let gid = String(randomInt(1, 10));
    while (gid.length < 18) gid += String(randomInt(0, 10));
    const jid = formatGroupJid(gid);
    if (!(await ctx.store.groups.jidTaken(jid))) return jid;
  }
}

/** The 400s of §19.3 that depend only on the request itself. */
function checkContent(ctx: SandboxContext, req: GroupRequest): void {
  const { limits } = ctx;
  if (req.op === "create" || req.op === "subject") {
    const n = charCount(req.subject);
    if (n === 0 || n > limits.groupSubjectMax) throw new SandboxError(400, "bad-subject");
  }
  if (req.op === "description" && "text" in req) {
    if (charCount(req.text) > limits.groupDescriptionMax) {
      throw new SandboxError(400, "description-too-long");
    }
  }
  if (req.op === "picture-set") {
    if (req.bytes.length > limits.groupPictureMaxBytes)
      throw new SandboxError(400, "picture-too-large");
    const jpeg = req.mimetype === "image/jpeg" && JPEG_MAGIC.every((b, i) => req.bytes[i] === b);
    if (!jpeg) throw new SandboxError(400, "picture-not-jpeg");
  }
}

export const handleGroupIq: IqHandler = async (ctx, _session, me, iq) => {
  if (iq.type !== "get" && iq.type !== "set") throw new SandboxError(400, "bad-type");
  const req = parseGroupRequest(iq.type, iq.children);
  // Anyone may leave; everything else needs a client that takes part in groups (§19.3).
  if (req.op !== "leave" && !me.groups) throw new SandboxError(406, "groups-not-enabled");
  checkContent(ctx, req);
  if (req.op === "create" || req.op === "participating" || req.op === "leave") {
    if (iq.to !== undefined && iq.to !== "gk") throw new SandboxError(400, "bad-request");
    if (req.op === "create") return create(ctx, me, req.subject, req.participants);
    if (req.op === "participating") return participating(ctx, me);
    return leave(ctx, me, req.groups);
  }
  if (iq.to === undefined || !isGroupJid(iq.to)) throw new SandboxError(400, "missing-group");
  return inGroup(ctx, me, iq.to, req);
};

async function create(
  ctx: SandboxContext,
  me: Account,
  subject: string,
  participants: string[],
): Promise<XmlNode[]> {
  const { groups } = ctx.store;
  const now = ctx.now();
  const created = await groups.createdSince(me.jid, now - DAY_MS);
  if (created.count >= ctx.limits.groupsCreatedPerDay) {
    throw new SandboxError(429, "groups-created", {
      retryAfter: retryAfterSeconds(created.oldest + DAY_MS - now),
    });
  }
  const jid = await newGroupJid(ctx);
  await groups.create({ jid, subject, creator: me.jid, now });
  await groups.addMember(jid, me.jid, "superadmin", now);
  const members: Account[] = [me];
  const results: ParticipantResult[] = [];
  for (const candidate of participants) {
    if (members.some((m) => m.jid === candidate)) {
      results.push({ jid: candidate, error: 409 });
      continue;
    }
    const refusal = await addRefusal(ctx, me, candidate, members);
    if (refusal) {
      results.push({ jid: candidate, ...refusal });
      continue;
    }
    if (members.length >= ctx.limits.groupMembersMax) {
      results.push({ jid: candidate, error: 429, text: "group-full" });
      continue;
    }
    await groups.addMember(jid, candidate, "member", now);
    const account = await ctx.store.accounts.get(candidate);
    if (account) members.push(account);
    results.push({ jid: candidate });
  }
  const group = (await groups.get(jid)) as Group;
  const info = await groupInfo(ctx, group);
  await announce(
    ctx,
    info.participants.map((p) => p.jid),
    jid,
    me.jid,
    { type: "create", group: info },
  );
  ctx.logger.info("group created", { group: jid, creator: me.jid, size: info.participants.length });
  return buildGroupCreateResult(info, results);
}

async function participating(ctx: SandboxContext, me: Account): Promise<XmlNode[]> {
  const infos = [];
  for (const jid of await ctx.store.groups.groupsOf(me.jid)) {
    const group = await ctx.store.groups.get(jid);
    if (group) infos.push(await groupInfo(ctx, group));
  }
  return buildParticipatingResult(infos);
}

/** An enlistment removed (§6): the account leaves every group it is in, as by `leave`. */
export async function leaveAllGroups(ctx: SandboxContext, me: Account): Promise<void> {
  await leave(ctx, me, await ctx.store.groups.groupsOf(me.jid));
}

async function leave(ctx: SandboxContext, me: Account, jids: string[]): Promise<XmlNode[]> {
  const { groups } = ctx.store;
  // All or nothing: a group you are not in is not revealed, and nothing is left.
  for (const jid of jids) {
    if (!(await groups.get(jid)) || (await groups.role(jid, me.jid)) === null) {
      throw new SandboxError(404, "item-not-found");
    }
  }
  for (const jid of new Set(jids)) {
    const before = await groups.members(jid);
    await groups.removeMember(jid, me.jid);
    await announce(
      ctx,
      before.map((m) => m.jid),
      jid,
      me.jid,
      { type: "leave", participants: [me.jid] },
    );
    await afterDeparture(ctx, jid);
  }
  return [];
}

async function inGroup(
  ctx: SandboxContext,
  me: Account,
  jid: string,
  req: GroupTargeted,
): Promise<XmlNode[]> {
  const { groups } = ctx.store;
  const group = await groups.get(jid);
  if (!group) throw new SandboxError(404, "item-not-found");
  const role = await groups.role(jid, me.jid);
  // §19.3: to a non-member a group looks exactly like one that does not exist.
  if (role === null) throw new SandboxError(404, "item-not-found");
  if (req.op === "query") return buildGroupQueryResult(await groupInfo(ctx, group));
  if (req.op === "picture-get") {
    const picture = await groups.picture(jid);
    if (!picture) throw new SandboxError(404, "item-not-found");
    return buildPictureGetResult(picture);
  }
  if (!isAdminRole(role)) throw new SandboxError(403, "not-admin");
  const members = await groups.members(jid);
  const everyone = members.map((m) => m.jid);
  switch (req.op) {
    case "subject": {
      const t = unixSeconds(ctx);
      await groups.setSubject(jid, req.subject, me.jid, t);
      await announce(ctx, everyone, jid, me.jid, {
        type: "subject",
        subject: req.subject,
        subjectTime: t,
      });
      return [];
    }
    case "description": {
      // The id names the description the admin saw; none when there is no description.
      const current = group.description === null ? undefined : (group.descriptionId ?? undefined);
      const acceptable =
        req.prev === current ||
        (current === undefined && req.prev === (group.descriptionId ?? undefined));
      if (!acceptable) throw new SandboxError(409, "description-conflict");
      const id = newId();
      const text = "text" in req ? req.text : null;
      await groups.setDescription(jid, id, text);
      await announce(
        ctx,
        everyone,
        jid,
        me.jid,
        text === null
          ? { type: "description", id, deleted: true }
          : { type: "description", id, text },
      );
      return buildDescriptionResult(id);
    }
    case "picture-set":
    case "picture-delete": {
      const id = newId();
      if (req.op === "picture-set") {
        await groups.setPicture(jid, { id, bytes: req.bytes, mimetype: req.mimetype });
        await announce(ctx, everyone, jid, me.jid, { type: "picture", id });
      } else {
        await groups.setPicture(jid, null);
        await announce(ctx, everyone, jid, me.jid, { type: "picture", deleted: true });
      }
      return buildPictureResult(id);
    }
    default: {
      const op: MembershipOp = req.op;
      const results = await applyMembership(
        ctx,
        me,
        group,
        members,
        await memberAccounts(ctx, members),
        op,
        req.participants,
      );
      return buildMembershipResult(op, results);
    }
  }
}
