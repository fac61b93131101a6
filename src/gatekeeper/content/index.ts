export { ContentError, NACK_BAD_PROTOBUF } from "./content-error.js";
export type { ContentErrorCode } from "./content-error.js";
export { MAX_PADDING, pad, unpad } from "./padding.js";
export type { PadLengthSource } from "./padding.js";
export { decodeContent, encodeContent } from "./content.js";
export { MEDIA_KINDS } from "./content-kind.js";
export type {
  ContentKind,
  EditContent,
  MediaContent,
  MediaKind,
  MediaRef,
  MessageKeyRef,
  ReactionContent,
  ReplyContext,
  RevokeContent,
  TextContent,
  UnknownContent,
} from "./content-kind.js";
export { describeContent } from "./describe.js";
export {
  editMessage,
  mediaMessage,
  reactionMessage,
  revokeMessage,
  textMessage,
} from "./builders.js";
export type { MediaOptionsByKind, TextOptions } from "./builders.js";
export { MESSAGE_ID_PREFIX, newMessageId } from "./message-id.js";
