/** GKI/1 stanza codec: XML subset, typed stanzas, iq payloads, JIDs. */
export { StanzaError, type StanzaErrorCode } from "./errors.js";
export {
  JID_SERVER,
  type Jid,
  formatGroupJid,
  formatInteropJid,
  formatLidJid,
  isGroupJid,
  isUserJid,
  isValidAccountId,
  isValidJid,
  isValidPartnerId,
  parseJid,
} from "./jid.js";
export {
  DEFAULT_XML_LIMITS,
  type XmlLimits,
  type XmlNode,
  encodeXml,
  parseXml,
  serializeXml,
} from "./xml-codec.js";
export { isValidId } from "./stanza-fields.js";
export * from "./stanzas.js";
export * from "./iq-payloads.js";
export * from "./group-payloads.js";
export { buildGroupChange, parseGroupChange, parseGroupNotification } from "./group-changes.js";
