/**
 * GKI/1 stanza error codes (docs/protocol.md §5.1):
 * - 400 a known stanza with a missing or invalid attribute / child,
 * - 413 the input is over a limit: bytes, element depth, attributes, children or elements
 *   (`text` says which: size, depth, attributes, children, elements),
 * - 487 not a well-formed GKI/1 XML document (incl. DOCTYPE, entities, PIs, CDATA),
 * - 488 a well-formed element whose top-level tag is not a GKI/1 stanza.
 */
export type StanzaErrorCode = 400 | 413 | 487 | 488;

/**
 * Thrown by the codec for any input it refuses. `tag` and `id` are set when they could be read
 * (id only when it is a valid GKI/1 id), so the caller can answer `<ack class=TAG id=ID error=CODE/>`;
 * for 487/413 the ack is `class="frame"` without id.
 */
export class StanzaError extends Error {
  override readonly name = "StanzaError";
  readonly code: StanzaErrorCode;
  tag?: string;
  id?: string;
  /** The top-level element's raw `type` attribute, when it had one (an iq's type decides its answer). */
  type?: string;
  /** A short machine-readable reason for the negative ack's `text` (e.g. which limit). */
  text?: string;

  constructor(
    code: StanzaErrorCode,
    message: string,
    context?: {
      tag?: string | undefined;
      id?: string | undefined;
      type?: string | undefined;
      text?: string | undefined;
      cause?: unknown;
    },
  ) {
    super(message, context?.cause === undefined ? undefined : { cause: context.cause });
    this.code = code;
    if (context?.tag !== undefined) this.tag = context.tag;
    if (context?.id !== undefined) this.id = context.id;
    if (context?.type !== undefined) this.type = context.type;
    if (context?.text !== undefined) this.text = context.text;
  }
}
