/**
 * Builders and parsers for the key iqs (xmlns="encrypt", docs/protocol.md §7): prekey upload,
 * count, bundle fetch. Parsers throw StanzaError 400 (tag "iq") on a bad shape.
 */
import {
  IQ_CTX as CTX,
  childNamed,
  decodeBase64,
  el,
  elementsNamed,
  encodeBase64,
  findChild,
  invalid,
  jidText,
  numText,
  parseRegistration,
  registrationNode,
  reqAttr,
  reqChild,
  reqJid,
  reqNum,
  requireChild,
  textBytes,
  textEl,
} from "./stanza-fields.js";
import type { XmlNode } from "./xml-codec.js";

export interface WireKeyPair {
  id: number;
  publicKey: Uint8Array;
}
export interface WireSignedKey extends WireKeyPair {
  signature: Uint8Array;
}
export interface PreKeyUpload {
  registrationId?: number;
  identityKey?: Uint8Array;
  deviceId?: number;
  preKeys: WireKeyPair[];
  signedPreKey?: WireSignedKey;
  kyberPreKey?: WireSignedKey;
}
export interface WireBundle {
  jid: string;
  registrationId: number;
  deviceId: number;
  identityKey: Uint8Array;
  preKey?: WireKeyPair;
  signedPreKey: WireSignedKey;
  kyberPreKey: WireSignedKey;
}
export interface WireBundleError {
  jid: string;
  error: number;
}
export type BundleResultItem = WireBundle | WireBundleError;
export const MAX_PREKEYS_PER_UPLOAD = 812;
export const MAX_PREKEY_ID = 16_777_215;
export const MAX_BUNDLE_USERS = 20;
export const MAX_DEVICE_ID = 127;

function inRange(n: number, min: number, max: number, what: string): number {
  if (n < min || n > max) throw invalid(CTX, `${what} out of range`);
  return n;
}

function nonEmptyBytes(node: XmlNode): Uint8Array {
  const bytes = textBytes(node, CTX);
  if (bytes.length === 0) throw invalid(CTX, `empty <${node.tag}>`);
  return bytes;
}

function keyNode(tag: string, k: WireKeyPair, maxId: number): XmlNode {
  inRange(k.id, tag === "key" ? 1 : 0, maxId, `${tag} id`);
  return textEl(tag, encodeBase64(k.publicKey), { id: numText(k.id, `${tag} id`, CTX) });
}

function signedKeyNode(tag: string, k: WireSignedKey): XmlNode {
  const node = keyNode(tag, k, 0xffffffff);
  node.attrs.signature = encodeBase64(k.signature);
  return node;
}

function readKey(node: XmlNode, maxId: number): WireKeyPair {
  const id = inRange(
    reqNum(node, "id", CTX),
    node.tag === "key" ? 1 : 0,
    maxId,
    `<${node.tag}> id`,
  );
  return { id, publicKey: nonEmptyBytes(node) };
}

function readSignedKey(node: XmlNode): WireSignedKey {
  const signature = decodeBase64(
    reqAttr(node, "signature", CTX),
    `signature on <${node.tag}>`,
    CTX,
  );
  if (signature.length === 0) throw invalid(CTX, `empty signature on <${node.tag}>`);
  return { ...readKey(node, 0xffffffff), signature };
}

function deviceNode(deviceId: number): XmlNode {
  return el("device", {
    id: numText(inRange(deviceId, 1, MAX_DEVICE_ID, "device id"), "device id", CTX),
  });
}

function readDevice(node: XmlNode): number {
  return inRange(reqNum(node, "id", CTX), 1, MAX_DEVICE_ID, "device id");
}

/** Shared by upload and bundle: registration, identity, device, key(s), skey, kkey. */
function keyMaterialNodes(k: {
  registrationId?: number | undefined;
  identityKey?: Uint8Array | undefined;
  deviceId?: number | undefined;
  signedPreKey?: WireSignedKey | undefined;
  kyberPreKey?: WireSignedKey | undefined;
}): { head: XmlNode[]; tail: XmlNode[] } {
  const head: XmlNode[] = [];
  if (k.registrationId !== undefined) head.push(registrationNode(k.registrationId, CTX));
  if (k.identityKey !== undefined) head.push(textEl("identity", encodeBase64(k.identityKey)));
  if (k.deviceId !== undefined) head.push(deviceNode(k.deviceId));
  const tail: XmlNode[] = [];
  if (k.signedPreKey) tail.push(signedKeyNode("skey", k.signedPreKey));
  if (k.kyberPreKey) tail.push(signedKeyNode("kkey", k.kyberPreKey));
  return { head, tail };
}

/** Children of `<iq type="set" xmlns="encrypt">` (§7.1). */
export function buildPreKeyUpload(u: PreKeyUpload): XmlNode[] {
  if (u.preKeys.length > MAX_PREKEYS_PER_UPLOAD) throw invalid(CTX, "too many prekeys");
  const { head, tail } = keyMaterialNodes(u);
  const list =
    u.preKeys.length > 0
      ? [
          el(
            "list",
            {},
            u.preKeys.map((k) => keyNode("key", k, MAX_PREKEY_ID)),
          ),
        ]
      : [];
  return [...head, ...list, ...tail];
}

export function parsePreKeyUpload(children: XmlNode[]): PreKeyUpload {
  const out: PreKeyUpload = { preKeys: [] };
  const registration = findChild(children, "registration");
  if (registration) out.registrationId = parseRegistration(registration, CTX);
  const identity = findChild(children, "identity");
  if (identity) out.identityKey = nonEmptyBytes(identity);
  const device = findChild(children, "device");
  if (device) out.deviceId = readDevice(device);
  const list = findChild(children, "list");
  if (list) {
    const keys = elementsNamed(list.children, "key");
    if (keys.length > MAX_PREKEYS_PER_UPLOAD) throw invalid(CTX, "too many prekeys");
    out.preKeys = keys.map((k) => readKey(k, MAX_PREKEY_ID));
  }
  const skey = findChild(children, "skey");
  if (skey) out.signedPreKey = readSignedKey(skey);
  const kkey = findChild(children, "kkey");
  if (kkey) out.kyberPreKey = readSignedKey(kkey);
  return out;
}

/** `<key><user jid/>…</key>` (§7.3). */
export function buildBundleRequest(jids: string[]): XmlNode[] {
  if (jids.length === 0 || jids.length > MAX_BUNDLE_USERS)
    throw invalid(CTX, "1..20 users per bundle fetch");
  return [
    el(
      "key",
      {},
      jids.map((jid) => el("user", { jid: jidText(jid, "jid", CTX) })),
    ),
  ];
}

export function parseBundleRequest(children: XmlNode[]): string[] {
  const users = elementsNamed(requireChild(children, "key").children, "user");
  // The upper bound is the gatekeeper's to enforce, with its own error (§7.3: too-many-users).
  if (users.length === 0) throw invalid(CTX, "a bundle fetch needs a user");
  return users.map((u) => reqJid(u, "jid", CTX));
}

export function isBundleError(item: BundleResultItem): item is WireBundleError {
  return "error" in item;
}

export function buildBundleResult(items: BundleResultItem[]): XmlNode[] {
  const users = items.map((item) => {
    const jid = jidText(item.jid, "jid", CTX);
    if (isBundleError(item)) {
      return el("user", { jid }, [el("error", { code: numText(item.error, "error code", CTX) })]);
    }
    const { head, tail } = keyMaterialNodes(item);
    const preKey = item.preKey ? [keyNode("key", item.preKey, MAX_PREKEY_ID)] : [];
    return el("user", { jid }, [...head, ...preKey, ...tail]);
  });
  return [el("list", {}, users)];
}

export function parseBundleResult(children: XmlNode[]): BundleResultItem[] {
  return elementsNamed(requireChild(children, "list").children, "user").map(
    (user): BundleResultItem => {
      const jid = reqJid(user, "jid", CTX);
      const error = childNamed(user, "error");
      if (error) return { jid, error: reqNum(error, "code", CTX) };
      const key = childNamed(user, "key");
      const bundle: WireBundle = {
        jid,
        registrationId: parseRegistration(reqChild(user, "registration", CTX), CTX),
        deviceId: readDevice(reqChild(user, "device", CTX)),
        identityKey: nonEmptyBytes(reqChild(user, "identity", CTX)),
        signedPreKey: readSignedKey(reqChild(user, "skey", CTX)),
        kyberPreKey: readSignedKey(reqChild(user, "kkey", CTX)),
      };
      if (key) bundle.preKey = readKey(key, MAX_PREKEY_ID);
      return bundle;
    },
  );
}

/** `<count/>`: the prekey count query (§7.2). */
export function buildCountRequest(): XmlNode[] {
  return [el("count")];
}

export function isCountRequest(children: XmlNode[]): boolean {
  return findChild(children, "count") !== undefined;
}

/** `<count value="N"/>`, in an iq result and in `<notification type="encrypt">`. */
export function buildCountResult(n: number): XmlNode[] {
  return [el("count", { value: numText(n, "count", CTX) })];
}

export function parseCountResult(children: XmlNode[]): number {
  return reqNum(requireChild(children, "count"), "value", CTX);
}
