/**
 * GKI/1 stanza error codes (docs/protocol.md §5.1):
 * - 400 a known stanza with a missing or invalid attribute / child,
 * - 413 the input is larger than the byte limit,
 * - 487 not a well-formed GKI/1 XML document (incl. DOCTYPE, entities, PIs, CDATA, limits),
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

  constructor(
    code: StanzaErrorCode,
    message: string,
    context?: { tag?: string | undefined; id?: string | undefined; cause?: unknown },
  ) {
    super(message, context?.cause === undefined ? undefined : { cause: context.cause });
    this.code = code;
    if (context?.tag !== undefined) this.tag = context.tag;
    if (context?.id !== undefined) this.id = context.id;
  }
}
