/** Dispatches a client's iq by namespace (docs/protocol.md §5.2) and builds the result or error iq. */
import { type IqStanza, StanzaError, isPing } from "../gatekeeper/stanza/index.js";
import type { SandboxContext } from "./context.js";
import { handleEnlistIq } from "./enlistment.js";
import { handleUsyncIq } from "./directory.js";
import { SandboxError } from "./errors.js";
import { handleGroupIq } from "./groups/index.js";
import type { IqHandler, IqSession } from "./iq-context.js";
import { handleEncryptIq } from "./prekeys.js";
import { handleBlocklistIq, handleInteropIq, handleMediaIq } from "./settings.js";
import type { Account } from "./store/index.js";

const HANDLERS: Readonly<Record<string, IqHandler>> = {
  "w:p": async (_ctx, _session, _me, iq) => {
    if (!isPing(iq.children)) throw new SandboxError(400, "missing-ping");
    return [];
  },
  enlist: handleEnlistIq,
  encrypt: handleEncryptIq,
  usync: handleUsyncIq,
  blocklist: handleBlocklistIq,
  "w:m": handleMediaIq,
  interop: handleInteropIq,
  "w:g2": handleGroupIq,
};

/** Namespaces a partner user may use before its number is verified (§4.3). */
const BEFORE_ENLISTMENT = new Set(["w:p", "enlist"]);

export async function handleIq(
  ctx: SandboxContext,
  session: IqSession,
  me: Account,
  iq: IqStanza,
): Promise<IqStanza | null> {
  // Results and errors from the client answer nothing the sandbox asked; ignore them.
  if (iq.type === "result" || iq.type === "error") return null;
  const reply = (children: IqStanza["children"]): IqStanza => ({
    kind: "iq",
    id: iq.id,
    type: "result",
    from: "gk",
    children,
  });
  const fail = (code: number, text?: string, retryAfter?: number): IqStanza => ({
    kind: "iq",
    id: iq.id,
    type: "error",
    from: "gk",
    children: [],
    error: {
      code,
      ...(text === undefined ? {} : { text }),
      ...(retryAfter === undefined ? {} : { retryAfter }),
    },
  });

  const handler = iq.xmlns === undefined ? undefined : HANDLERS[iq.xmlns];
  if (!handler) return fail(400, "unknown-namespace");
  if (!session.enlisted && !BEFORE_ENLISTMENT.has(iq.xmlns ?? "")) return fail(403, "not-enlisted");
  try {
    return reply(await handler(ctx, session, me, iq));
  } catch (err) {
    if (err instanceof SandboxError) return fail(err.code, err.text, err.retryAfter);
    if (err instanceof StanzaError) return fail(400, "bad-request");
    ctx.logger.error("iq handler failed", { jid: me.jid, xmlns: iq.xmlns, error: String(err) });
    return fail(500, "internal");
  }
}
