import { RemoteError } from "./network.js";

/**
 * A failure the Matrix user is told about. `userMessage` is the whole reply (what went
 * wrong and what to do); `code` lets callers and tests tell the cases apart.
 */
export class UserFacingError extends Error {
  constructor(
    readonly code: string,
    readonly userMessage: string,
    options?: { cause?: unknown },
  ) {
    super(userMessage, options);
    this.name = "UserFacingError";
  }
}

/**
 * A RemoteError becomes a UserFacingError (its message prefixed with `context`); a
 * UserFacingError passes; anything else is unexpected and returned as it is.
 */
export function asUserFacing(err: unknown, context?: string): unknown {
  if (err instanceof UserFacingError) return err;
  if (err instanceof RemoteError) {
    const text = context ? `${context}: ${err.userMessage}` : err.userMessage;
    // The reply is a sentence like every other answer of the bot (userMessage is a clause).
    const sentence = /[.!?]$/.test(text) ? text : `${text}.`;
    return new UserFacingError(err.code, sentence, { cause: err });
  }
  return err;
}
