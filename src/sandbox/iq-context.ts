/** What an iq handler may ask of the connection it runs on. */
import type { IqStanza, XmlNode } from "../gatekeeper/stanza/index.js";
import type { SandboxContext, SessionHandle } from "./context.js";
import type { Account } from "./store/index.js";

export interface IqSession extends SessionHandle {
  /** False until a partner user's number is verified (§4.3). Always true for native users. */
  readonly enlisted: boolean;
  setEnlisted(enlisted: boolean): void;
  /** Runs after the iq's result has been sent (e.g. closing the stream after `remove`). */
  afterReply(action: () => void): void;
}

/** Answers with the children of `<iq type="result">`, or throws SandboxError for `<iq type="error">`. */
export type IqHandler = (
  ctx: SandboxContext,
  session: IqSession,
  me: Account,
  iq: IqStanza,
) => Promise<XmlNode[]>;
