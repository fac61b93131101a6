/** The reference gatekeeper ("sandbox"): GKI/1 server side, media host and admin API. */
export {
  startSandbox,
  CHAT_PATH,
  type Sandbox,
  type SandboxOptions,
  type SandboxPartnerConfig,
} from "./server.js";
export {
  SandboxAdmin,
  type GroupAdminInfo,
  type NewUser,
  type UserInfo,
  type PartnerUserInfo,
  type PartnerInput,
  type PartnerInfo,
  type QueuedStanzaInfo,
  type RecipientQueue,
  type SandboxInfo,
} from "./admin.js";
export { DEFAULT_LIMITS, resolveLimits, type SandboxLimits } from "./limits.js";
export { silentLogger, type SandboxLogger, type LogFields } from "./logger.js";
export { SandboxError, AdminError } from "./errors.js";
export { isEeaNumber } from "./login.js";
export type { SandboxDbConfig, InteropSettings, InboxMode } from "./store/index.js";
