/**
 * The plain-text reply fallback of Matrix replies (deprecated in the spec, still sent by
 * many clients): quoted lines "> <@user:server> original" at the start of the body,
 * followed by one blank line. The gatekeeper shows replies natively, so it is dropped.
 */

const FALLBACK_START = /^> (\* )?</;

/** Strip the fallback; a body that does not have a well-formed one comes back unchanged. */
export function stripReplyFallback(body: string): string {
  if (!FALLBACK_START.test(body)) return body;
  let pos = 0;
  while (body.startsWith(">", pos)) {
    const newline = body.indexOf("\n", pos);
    if (newline === -1) return body; // only quote lines: nothing to strip it from
    pos = newline + 1;
  }
  if (body.startsWith("\n", pos)) return body.slice(pos + 1);
  if (body.startsWith("\r\n", pos)) return body.slice(pos + 2);
  return body;
}
