import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { MessageSchema } from "../../gen/gki_pb.js";
import type { Message } from "../../gen/gki_pb.js";
import { ContentError } from "./content-error.js";
import { pad, unpad } from "./padding.js";
import type { PadLengthSource } from "./padding.js";

/** The plaintext that goes into Signal encryption: protobuf Message bytes plus padding. */
export function encodeContent(msg: Message, rng?: PadLengthSource): Uint8Array {
  return pad(toBinary(MessageSchema, msg), rng);
}

/**
 * The Message inside a decrypted plaintext. Throws ContentError ("bad-padding" or
 * "bad-protobuf"; nackCode 491). Unknown fields are kept, so a newer peer's content survives
 * a decode; describeContent reports it as "unknown".
 */
export function decodeContent(plaintext: Uint8Array): Message {
  const bytes = unpad(plaintext);
  try {
    return fromBinary(MessageSchema, bytes);
  } catch (err) {
    // Includes RangeError from a premature end and stack exhaustion from absurd nesting.
    throw new ContentError("bad-protobuf", "message content is not a valid protobuf Message", {
      cause: err,
    });
  }
}
