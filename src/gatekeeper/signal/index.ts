export { SignalAccount, createAccount, loadAccount } from "./signal-account.js";
export type { SignalAccountOptions, SignalMessageType } from "./signal-account.js";
export { SignalStores } from "./signal-stores.js";
export type { SignalStoresOptions } from "./signal-stores.js";
export { DbIdentityKeyStore } from "./identity-key-store.js";
export type { RemoteIdentity, TrustPolicy, TrustState } from "./identity-key-store.js";
export { DbSessionStore } from "./session-store.js";
export { DbSenderKeyStore } from "./sender-key-store.js";
export { GroupCipher, distributionIdOf } from "./group-cipher.js";
export type { MarkDistributedOptions } from "./group-cipher.js";
export { DbPreKeyStore } from "./prekey-store.js";
export { DbSignedPreKeyStore } from "./signed-prekey-store.js";
export { DbKyberPreKeyStore } from "./kyber-prekey-store.js";
export { StoreJournal } from "./store-journal.js";
export { DEFAULT_CACHE_PEERS, SignalRecordCache, sharedRecordCache } from "./record-cache.js";
export { forgetAccountScopes } from "./account-scope.js";
export type { IdentityChangeEvent } from "./store-journal.js";
export type { IdentityChangeListener } from "./identity-notifier.js";
export { SignalError } from "./errors.js";
export type { SignalErrorCode } from "./errors.js";
export {
  toProtocolAddress,
  fromProtocolAddress,
  validateAddress,
  formatAddress,
  accountAddress,
  ACCOUNT_DEVICE_ID,
  MIN_DEVICE_ID,
  MAX_DEVICE_ID,
} from "./address.js";
export type { SignalAddress } from "./address.js";
export type { RemoteBundle } from "./remote-bundle.js";
export type { PreKeyPublic, SignedPreKeyPublic } from "./prekey-records.js";
export type { PreKeyUpload, UploadOptions } from "./prekey-generation.js";
export { MAX_PREKEYS_PER_CALL } from "./prekey-generation.js";
export {
  MAX_KEY_ID,
  MAX_REGISTRATION_ID,
  wipeOwner as deleteSignalData,
} from "./account-record.js";
export type { LocalIdentity } from "./account-record.js";
export type { Bytes } from "./bytes.js";
