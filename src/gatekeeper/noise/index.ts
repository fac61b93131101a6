export { NoiseError, type NoiseErrorCode } from "./noise-error.js";
export { generateKeyPair, publicKeyFromPrivate, type KeyPair } from "./noise-crypto.js";
export {
  CipherState,
  SymmetricState,
  HandshakeState,
  HANDSHAKE_PATTERNS,
  MAX_HANDSHAKE_MESSAGE,
  type HandshakeOptions,
  type HandshakePattern,
  type HandshakePatternName,
  type MessageToken,
  type PreMessageToken,
} from "./noise-handshake.js";
export {
  GKI_INTRO,
  FRAME_HEADER_LENGTH,
  DEFAULT_MAX_FRAME_PAYLOAD,
  FRAME_LENGTH_LIMIT,
  checkMaxFramePayload,
  encodeFrame,
  decodeFrame,
  encodeFirstClientMessage,
  decodeFirstClientMessage,
} from "./framing.js";
export {
  NoiseConnection,
  NOISE_CLOSE_CODES,
  type NoiseConnectionEvents,
} from "./noise-connection.js";
export {
  connectNoise,
  acceptNoise,
  wsMaxPayloadFor,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  type ConnectNoiseOptions,
  type AcceptNoiseOptions,
  type AcceptedNoise,
  type StaticKeyPair,
} from "./noise-socket.js";
