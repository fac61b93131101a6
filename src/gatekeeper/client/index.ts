/** The GKI/1 client: one GatekeeperClient per account (docs/protocol.md). */
export { GatekeeperClient } from "./gatekeeper-client.js";
export type { GroupApi } from "./group-api.js";
export { USER_AGENT } from "./session-manager.js";
export { GatekeeperError, isTerminalLoginError } from "./errors.js";
export type { GatekeeperErrorCode, GatekeeperErrorOptions } from "./errors.js";
export { ClientStoppedError, EventHub, HandlerError } from "./events.js";
export type { EventHandler } from "./events.js";
export { Backoff, DEFAULT_BACKOFF } from "./reconnect.js";
export type { BackoffOptions } from "./reconnect.js";
export { IqTracker } from "./iq-tracker.js";
export { MAX_RETRIES, mediaTypeOf } from "./outbound.js";
export { PREKEY_BATCH, PREKEY_LOW_WATER } from "./keys.js";
export { MAX_MEDIA_BYTES, downloadUrl } from "./media-http.js";
export type { DownloadOptions } from "./media-http.js";
export { REMOTE_DEVICE_ID } from "./context.js";
export { silentLogger } from "./logger.js";
export type { ClientLogger, LogFields } from "./logger.js";
export type {
  AccountOptions,
  ChatStateEvent,
  ConnectionState,
  ConnectionStateEvent,
  DuplicateEvent,
  GatekeeperClientEvents,
  GatekeeperClientOptions,
  GroupChangeEvent,
  GroupParticipantResult,
  IdentityChangeEvent,
  LookupEntry,
  MessageEvent,
  OfflineCompleteEvent,
  PeerIdentity,
  PresenceEvent,
  ReceiptEvent,
  ReceiptKind,
  SendFailedEvent,
  SendOptions,
  SendResult,
  UndecryptableEvent,
  UploadedMedia,
} from "./types.js";
