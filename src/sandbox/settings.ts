/**
 * `xmlns="blocklist"` (docs/protocol.md §12.3), `xmlns="interop"` (§12.2,
 * native users only) and `xmlns="w:m"` (§11.2, media connection).
 */
import {
  buildBlocklist,
  buildInteropSettings,
  buildMediaConnResult,
  isMediaConnRequest,
  isUserJid,
  parseBlocklistChange,
  parseInteropSettings,
} from "../gatekeeper/stanza/index.js";
import { SandboxError } from "./errors.js";
import type { IqHandler } from "./iq-context.js";

export const handleBlocklistIq: IqHandler = async (ctx, _session, me, iq) => {
  const { contacts } = ctx.store;
  if (iq.type === "get") return buildBlocklist(await contacts.blockedBy(me.jid));
  const change = parseBlocklistChange(iq.children);
  if (change.jid === me.jid || !isUserJid(change.jid)) throw new SandboxError(400, "bad-jid");
  if (change.action === "block") await contacts.block(me.jid, change.jid, ctx.now());
  else await contacts.unblock(me.jid, change.jid);
  return [];
};

export const handleInteropIq: IqHandler = async (ctx, _session, me, iq) => {
  if (me.kind !== "native") throw new SandboxError(403, "native-only");
  if (iq.type === "set") {
    const settings = parseInteropSettings(iq.children);
    await ctx.store.accounts.updateSettings(me.jid, settings);
    ctx.logger.info("interop settings changed", { jid: me.jid, enabled: settings.enabled });
    return [];
  }
  return buildInteropSettings(me.interop);
};

export const handleMediaIq: IqHandler = async (ctx, _session, me, iq) => {
  if (!isMediaConnRequest(iq.children)) throw new SandboxError(400, "missing-media-conn");
  const { token, ttl } = ctx.mediaTokens.issue(me.jid, me.kind);
  return buildMediaConnResult({ auth: token, ttl, host: ctx.mediaHost() });
};
