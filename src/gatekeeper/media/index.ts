export { MediaError } from "./media-error.js";
export type { MediaErrorCode } from "./media-error.js";
export {
  AES_BLOCK_LENGTH,
  MEDIA_KEY_LENGTH,
  MEDIA_MAC_LENGTH,
  MEDIA_TYPES,
  deriveMediaKeys,
  mediaHkdfInfo,
} from "./media-keys.js";
export type { MediaKeys, MediaType } from "./media-keys.js";
export { decryptMedia, encryptMedia } from "./media-crypto.js";
export type { DecryptMediaOptions, EncryptedMedia } from "./media-crypto.js";
export {
  MediaDecryptStream,
  MediaEncryptStream,
  createDecryptStream,
  createEncryptStream,
} from "./media-stream.js";
export type { DecryptStreamOptions, MediaEncryptResult } from "./media-stream.js";
