/** The client logs through the shared logger interface (src/util/logger.ts). */
export { errorText, silentLogger } from "../../util/logger.js";
export type { LogFields, Logger as ClientLogger } from "../../util/logger.js";
