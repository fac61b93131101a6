/**
 * `xmlns="enlist"` (docs/protocol.md §6): a partner user's number, as the
 * partner callback reported it, is verified with a one-time code. The sandbox
 * "sends" the code by logging it and showing it on the admin API.
 */
import { randomInt } from "node:crypto";
import {
  buildEnlistRequestResult,
  buildEnlistedResult,
  parseEnlistAction,
} from "../gatekeeper/stanza/index.js";
import type { SandboxContext } from "./context.js";
import { SandboxError } from "./errors.js";
import { leaveAllGroups } from "./groups/index.js";
import type { IqHandler, IqSession } from "./iq-context.js";
import type { Account } from "./store/index.js";

function newCode(length: number): string {
  let code = "";
  for (let i = 0; i < length; i++) code += String(randomInt(0, 10));
  return code;
}

function phoneOf(me: Account): string {
  if (me.phone === null) throw new SandboxError(503, "no-phone-from-partner");
  return me.phone;
}

async function checkNotTaken(ctx: SandboxContext, me: Account, phone: string): Promise<void> {
  const owner = await ctx.store.enlistments.byPhone(phone);
  if (owner && owner.jid !== me.jid) throw new SandboxError(409, "number-enlisted-elsewhere");
}

async function request(ctx: SandboxContext, me: Account) {
  const phone = phoneOf(me);
  await checkNotTaken(ctx, me, phone);
  const now = ctx.now();
  const previous = await ctx.store.enlistments.codeFor(me.jid);
  if (previous && now - previous.requestedAt < ctx.limits.enlistRequestIntervalMs) {
    throw new SandboxError(429, "code-requested-recently", {
      retryAfter: Math.ceil(
        (previous.requestedAt + ctx.limits.enlistRequestIntervalMs - now) / 1000,
      ),
    });
  }
  const code = newCode(ctx.limits.enlistCodeLength);
  const ttl = ctx.limits.enlistCodeTtlSeconds;
  await ctx.store.enlistments.putCode({
    jid: me.jid,
    phone,
    code,
    requestedAt: now,
    expiresAt: now + ttl * 1000,
    attempts: 0,
  });
  // This is the sandbox's SMS.
  ctx.logger.info(`one-time code for ${phone} is ${code}`, { jid: me.jid });
  return buildEnlistRequestResult({ expires: ttl, length: code.length });
}

async function verify(ctx: SandboxContext, session: IqSession, me: Account, given: string) {
  const phone = phoneOf(me);
  const code = await ctx.store.enlistments.codeFor(me.jid);
  if (!code || code.phone !== phone || code.expiresAt <= ctx.now())
    throw new SandboxError(410, "no-valid-code");
  if (code.attempts >= ctx.limits.enlistMaxAttempts)
    throw new SandboxError(429, "too-many-attempts");
  if (given !== code.code) {
    await ctx.store.enlistments.countAttempt(me.jid);
    throw new SandboxError(406, "wrong-code");
  }
  await checkNotTaken(ctx, me, phone);
  await ctx.store.enlistments.enlist(phone, me.jid, ctx.now());
  session.setEnlisted(true);
  ctx.logger.info("account enlisted", { jid: me.jid });
  return buildEnlistedResult(me.jid);
}

/**
 * Forgets the number, the keys and the queue, and leaves every group (their members are told);
 * the stream then ends with 401 "removed".
 */
async function remove(ctx: SandboxContext, session: IqSession, me: Account) {
  await leaveAllGroups(ctx, me);
  await ctx.store.enlistments.remove(me.jid);
  await ctx.store.keys.deleteAll(me.jid);
  await ctx.store.queue.deleteFor(me.jid);
  ctx.mediaTokens.revokeFor(me.jid);
  session.setEnlisted(false);
  session.afterReply(() => session.streamError(401, "removed"));
  ctx.logger.info("account removed", { jid: me.jid });
  return [];
}

export const handleEnlistIq: IqHandler = async (ctx, session, me, iq) => {
  if (me.kind !== "interop") throw new SandboxError(403, "native-accounts-do-not-enlist");
  if (iq.type !== "set") throw new SandboxError(400, "enlist-is-set");
  const action = parseEnlistAction(iq.children);
  switch (action.action) {
    case "request":
      return request(ctx, me);
    case "verify":
      return verify(ctx, session, me, action.code);
    case "remove":
      return remove(ctx, session, me);
  }
};
