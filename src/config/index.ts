export {
  loadConfig,
  loadRegistrationConfig,
  parseConfig,
  parseConfigText,
  fileErrorMessage,
} from "./load.js";
export { ConfigError } from "./errors.js";
export type { ConfigErrorCode, ConfigProblem } from "./errors.js";
export { CONFIG_SCHEMA } from "./schema.js";
export {
  BRIDGE_VERSION,
  CONFIG_DEFAULTS,
  DEFAULT_USER_AGENT,
  defaultPermissions,
} from "./defaults.js";
export { CONFIG_ENV_VARS, REGISTRATION_ENV_VARS } from "./env.js";
export type { Env } from "./env.js";
export { permissionLevel, hasPermission } from "./permissions.js";
export { puppetUserIdRegex, isPuppetUserId, templateParts, escapeRegex } from "./namespace.js";
export {
  BRIDGE_PROTOCOL,
  registrationFor,
  registrationTokensFromEnv,
  checkRegistration,
  applyRegistrationEnv,
} from "./registration.js";
export type { RegistrationDocument, RegistrationView } from "./registration.js";
export type * from "./types.js";
