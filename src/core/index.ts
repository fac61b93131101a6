/** The protocol-neutral bridge core (docs/architecture.md). */
export { BridgeCore } from "./bridge-core.js";
export type { BridgeCoreOptions } from "./bridge-core.js";
export type { BridgeContent, MatrixMessage, RemoteMessage } from "./content.js";
export type { IncomingMatrixMessage, MatrixEventSink } from "./matrix-events.js";
export type { MatrixSide, PortalRoomSpec, SendStatus } from "./matrix-side.js";
export { RemoteError } from "./network.js";
export type {
  LoginCredentials,
  RemoteCapabilities,
  RemoteConnectionState,
  RemoteContact,
  RemoteEventHandler,
  RemoteNetwork,
  SendResult,
} from "./network.js";
export { UserFacingError } from "./errors.js";
export { silentLogger } from "./logger.js";
export type { CoreLogger, LogFields } from "./logger.js";
export { parsePhone, PHONE_EXAMPLE } from "./phone.js";
export type { PhoneParseResult, PhoneErrorCode } from "./phone.js";
export { parseCommand } from "./commands/parser.js";
export type { ParsedCommand, ParseOptions } from "./commands/parser.js";
export { RelayStoppedError } from "./relay-in.js";
