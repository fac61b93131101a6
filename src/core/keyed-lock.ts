/** One task at a time per key (a portal, a login): see src/util/keyed-lock.ts. */
export { KeyedLock } from "../util/keyed-lock.js";
