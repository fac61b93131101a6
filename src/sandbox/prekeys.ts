/**
 * `xmlns="encrypt"` (docs/protocol.md §7): prekey upload with signature
 * checks, count, and bundle fetch that consumes one one-time prekey.
 */
import { KEMPublicKey, PublicKey } from "@signalapp/libsignal-client";
import {
  type BundleResultItem,
  type PreKeyUpload,
  buildBundleResult,
  buildCountResult,
  isCountRequest,
  parseBundleRequest,
  parsePreKeyUpload,
} from "../gatekeeper/stanza/index.js";
import { reachableAccount } from "./consent.js";
import type { SandboxContext } from "./context.js";
import { SandboxError } from "./errors.js";
import type { IqHandler } from "./iq-context.js";
import { notify } from "./queue.js";
import type { Account } from "./store/index.js";
import type { SignedKey } from "./store/keys.js";

function bytes(u: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(u);
}

function ecKey(raw: Uint8Array, what: string): PublicKey {
  try {
    return PublicKey.deserialize(bytes(raw));
  } catch (err) {
    throw new SandboxError(406, `bad-${what}`, { cause: err });
  }
}

function checkSignedKey(identity: PublicKey, key: SignedKey, kind: "ec" | "kyber"): void {
  try {
    if (kind === "ec") PublicKey.deserialize(bytes(key.publicKey));
    else KEMPublicKey.deserialize(bytes(key.publicKey));
  } catch (err) {
    throw new SandboxError(406, kind === "ec" ? "bad-signed-prekey" : "bad-kyber-prekey", {
      cause: err,
    });
  }
  if (!identity.verify(bytes(key.publicKey), bytes(key.signature))) {
    throw new SandboxError(
      406,
      kind === "ec" ? "bad-signed-prekey-signature" : "bad-kyber-prekey-signature",
    );
  }
}

function toSigned(k: PreKeyUpload["signedPreKey"]): SignedKey | undefined {
  return (
    k && { id: k.id, publicKey: Buffer.from(k.publicKey), signature: Buffer.from(k.signature) }
  );
}

async function upload(ctx: SandboxContext, me: Account, u: PreKeyUpload): Promise<void> {
  if (u.preKeys.length > ctx.limits.prekeysPerUpload)
    throw new SandboxError(400, "too-many-prekeys");
  const stored = await ctx.store.keys.identity(me.jid);
  const fresh = !stored || stored.revoked;
  const changed =
    stored !== null && u.identityKey !== undefined && !stored.identityKey.equals(u.identityKey);
  const full = fresh || changed;
  const signedPreKey = toSigned(u.signedPreKey);
  const kyberPreKey = toSigned(u.kyberPreKey);
  if (
    full &&
    (u.registrationId === undefined ||
      u.identityKey === undefined ||
      u.deviceId === undefined ||
      !signedPreKey ||
      !kyberPreKey)
  ) {
    throw new SandboxError(400, "incomplete-upload");
  }

  const identityBytes = u.identityKey ?? stored?.identityKey;
  if (identityBytes === undefined) throw new SandboxError(400, "incomplete-upload");
  const identity = ecKey(identityBytes, "identity-key");
  if (signedPreKey) checkSignedKey(identity, signedPreKey, "ec");
  if (kyberPreKey) checkSignedKey(identity, kyberPreKey, "kyber");
  for (const k of u.preKeys) ecKey(k.publicKey, "prekey");

  await ctx.store.keys.write(me.jid, {
    ...(full &&
    u.registrationId !== undefined &&
    u.identityKey !== undefined &&
    u.deviceId !== undefined
      ? {
          identity: {
            registrationId: u.registrationId,
            identityKey: u.identityKey,
            device: u.deviceId,
          },
        }
      : {}),
    replacePreKeys: full,
    preKeys: u.preKeys.map((k) => ({ id: k.id, publicKey: Buffer.from(k.publicKey) })),
    ...(signedPreKey ? { signedPreKey } : {}),
    ...(kyberPreKey ? { kyberPreKey } : {}),
  });

  // A different identity than the one contacts knew (also after rotate-identity): tell them (§7.1).
  if (stored !== null && u.identityKey !== undefined && !stored.identityKey.equals(u.identityKey)) {
    ctx.logger.info("identity changed", { jid: me.jid });
    for (const peer of await ctx.store.contacts.peersOf(me.jid))
      await notify(ctx, peer, "identity", me.jid);
  }
}

async function fetchBundles(
  ctx: SandboxContext,
  me: Account,
  jids: string[],
): Promise<BundleResultItem[]> {
  if (jids.length > ctx.limits.bundleUsersPerFetch) throw new SandboxError(400, "too-many-users");
  const items: BundleResultItem[] = [];
  for (const jid of jids) {
    // Members of one group need pairwise sessions for their sender keys (§19.5), whoever they are.
    const target =
      (await reachableAccount(ctx, me, jid)) ??
      (jid !== me.jid && (await ctx.store.groups.shareGroup(me.jid, jid))
        ? await ctx.store.accounts.get(jid)
        : null);
    const bundle = target ? await ctx.store.keys.takeBundle(jid) : null;
    if (!bundle) {
      items.push({ jid, error: 404 });
      continue;
    }
    items.push({
      jid,
      registrationId: bundle.registrationId,
      deviceId: bundle.device,
      identityKey: bundle.identityKey,
      ...(bundle.preKey ? { preKey: bundle.preKey } : {}),
      signedPreKey: bundle.signedPreKey,
      kyberPreKey: bundle.kyberPreKey,
    });
    if (bundle.preKey) await warnIfLow(ctx, jid);
  }
  return items;
}

/** `<notification type="encrypt"><count value/></notification>` once the owner runs low (§7.2). */
async function warnIfLow(ctx: SandboxContext, jid: string): Promise<void> {
  const left = await ctx.store.keys.countPreKeys(jid);
  if (left >= ctx.limits.lowPrekeyThreshold) return;
  // One pending warning is enough; the client refills when it reads it.
  if (await ctx.store.queue.hasPending(jid, "notification", "encrypt", ctx.now())) return;
  await notify(ctx, jid, "encrypt", "gk", buildCountResult(left));
}

export const handleEncryptIq: IqHandler = async (ctx, _session, me, iq) => {
  if (iq.type === "set") {
    await upload(ctx, me, parsePreKeyUpload(iq.children));
    return [];
  }
  if (isCountRequest(iq.children))
    return buildCountResult(await ctx.store.keys.countPreKeys(me.jid));
  return buildBundleResult(await fetchBundles(ctx, me, parseBundleRequest(iq.children)));
};
