/**
 * Media e2e set-up on top of the bridge e2e fixture (../bridge/fixture.ts): the bridge with
 * media settings (its own media folder, small limits so "over the limit" is cheap to test),
 * the partner registered with its media origin (so the sandbox's media proxy fetches from
 * the bridge), and what each side does with files: a Matrix user uploads and downloads
 * through the content repository (matrix-js-sdk and plain authenticated media requests), a
 * native user encrypts, uploads, downloads through the proxy and decrypts with the GKI/1
 * media scheme, as the gatekeeper's own app does.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import { startBridge } from "../../../src/bridge.js";
import type { RunningBridge } from "../../../src/bridge.js";
import { parseConfig } from "../../../src/config/index.js";
import type { MessageEvent } from "../../../src/gatekeeper/client/index.js";
import { describeContent, mediaMessage } from "../../../src/gatekeeper/content/index.js";
import type {
  MediaContent,
  MediaKind,
  MediaOptionsByKind,
} from "../../../src/gatekeeper/content/index.js";
import { decryptMedia, encryptMedia } from "../../../src/gatekeeper/media/index.js";
import type { MediaType } from "../../../src/gatekeeper/media/index.js";
import { AppServiceRegistration } from "../../../src/matrix/appservice-bridge.js";
import { BridgeProcess } from "../bridge/bridge-process.js";
import { BridgeWorld, PARTNER_ID, PARTNER_SECRET } from "../bridge/fixture.js";
import type { BridgeSettings, WorldOptions } from "../bridge/fixture.js";
import type { MatrixActor } from "../bridge/matrix-actor.js";
import type { NativeActor } from "../bridge/native-actor.js";
import { AUTH_PATH } from "../../../src/connector/index.js";

export const MB = 1024 * 1024;

export interface MediaSettings {
  /** bridge.media.max_size_mb */
  maxSizeMb?: Partial<Record<"image" | "video" | "audio" | "file", number>>;
  hostedExpirySeconds?: number;
}

export class MediaWorld {
  readonly mediaDir: string;
  private bridge: RunningBridge | undefined;
  private process: BridgeProcess | undefined;

  private constructor(readonly world: BridgeWorld) {
    this.mediaDir = join(world.dir, "media");
  }

  static async create(name: string, options: WorldOptions = {}): Promise<MediaWorld> {
    const world = await BridgeWorld.create(name, options);
    // The gatekeeper's proxy fetches only from a partner's registered media origin (§11.4).
    await world.sandbox.admin.addPartner({
      id: PARTNER_ID,
      authUrl: `http://127.0.0.1:${world.partnerPort}${AUTH_PATH}`,
      secret: PARTNER_SECRET,
      mediaOrigin: `http://127.0.0.1:${world.partnerPort}`,
    });
    return new MediaWorld(world);
  }

  /** Where the bridge hosts blobs for the gatekeeper. */
  get hostedDir(): string {
    return join(this.mediaDir, "hosted");
  }

  /** Where the bridge verifies downloads before they go anywhere. */
  get tempDir(): string {
    return join(this.mediaDir, "tmp");
  }

  /** The URL the gatekeeper fetches a hosted blob from. */
  hostedUrl(token: string): string {
    return `http://127.0.0.1:${this.world.partnerPort}/_gki/v1/media/${token}`;
  }

  rawConfig(media: MediaSettings = {}, s: BridgeSettings = {}): Record<string, unknown> {
    const raw = this.world.rawConfig(s);
    const bridge = raw.bridge as Record<string, unknown>;
    bridge.media = {
      directory: this.mediaDir,
      max_size_mb: { image: 1, video: 2, audio: 1, file: 2, ...media.maxSizeMb },
      hosted_expiry_seconds: media.hostedExpirySeconds ?? 3600,
    };
    return raw;
  }

  async startBridge(media: MediaSettings = {}): Promise<void> {
    const config = parseConfig(this.rawConfig(media), "media e2e config", {});
    this.bridge = await startBridge(
      config,
      AppServiceRegistration.fromObject(this.world.registration as never),
      this.world.listen,
    );
  }

  async stopBridge(): Promise<void> {
    const bridge = this.bridge;
    this.bridge = undefined;
    await bridge?.stop();
  }

  /** The bridge as the admin runs it, in a child process (to kill it mid-transfer). */
  async startBridgeProcess(media: MediaSettings = {}): Promise<BridgeProcess> {
    const configFile = join(this.world.dir, "media-config.yaml");
    const registrationFile = join(this.world.dir, "media-registration.yaml");
    writeFileSync(configFile, yaml.dump(this.rawConfig(media)));
    writeFileSync(registrationFile, yaml.dump(this.world.registration), { mode: 0o600 });
    this.process = await BridgeProcess.start({
      configFile,
      registrationFile,
      port: this.world.listen.port,
    });
    return this.process;
  }

  /**
   * Alice (Matrix) logged in and in a started chat with Bob (a native user): the starting
   * point of every media scenario.
   */
  async aliceChattingWithBob(): Promise<{
    alice: MatrixActor;
    bob: NativeActor;
    portal: string;
    aliceJid: string;
  }> {
    const alice = await this.world.matrixUser("alice");
    const bob = await this.world.nativeUser("Bob");
    const alicePhone = this.world.newPhone();
    const mgmt = await alice.openManagementRoom();
    await alice.login(mgmt, alicePhone, this.world.codeFor);
    const portal = await alice.startChat(mgmt, bob.phone);
    const aliceJid = (await bob.lookup(alicePhone))!;
    return { alice, bob, portal, aliceJid };
  }

  /** SIGKILL: the bridge dies wherever it is. */
  async killBridgeProcess(): Promise<void> {
    await this.process?.kill();
    this.process = undefined;
  }

  async close(): Promise<void> {
    await this.process?.kill();
    await this.stopBridge().catch(() => undefined);
    await this.world.close();
  }
}

// ------------------------------------------------------------------ the Matrix user's side

/** Uploads bytes as the Matrix user; resolves with the mxc:// URI. */
export async function matrixUpload(
  user: MatrixActor,
  data: Buffer,
  mimetype: string,
  name?: string,
): Promise<string> {
  const res = await user.client.uploadContent(data, {
    type: mimetype,
    ...(name === undefined ? {} : { name }),
  });
  return res.content_uri;
}

/**
 * Downloads an mxc:// URI as the Matrix user's client does: authenticated media (spec
 * v1.11), or the legacy path on a server without it (Synapse 1.67: 400 M_UNRECOGNIZED).
 */
export async function matrixDownload(
  baseUrl: string,
  user: MatrixActor,
  mxc: string,
): Promise<Buffer> {
  const m = /^mxc:\/\/([^/]+)\/(.+)$/.exec(mxc);
  if (!m) throw new Error(`not an mxc URI: ${mxc}`);
  let res = await fetch(`${baseUrl}/_matrix/client/v1/media/download/${m[1]}/${m[2]}`, {
    headers: { authorization: `Bearer ${user.client.getAccessToken()}` },
  });
  if (res.status === 400 || res.status === 404) {
    const body = (await res.json().catch(() => ({}))) as { errcode?: string };
    if (body.errcode === "M_UNRECOGNIZED") {
      res = await fetch(`${baseUrl}/_matrix/media/v3/download/${m[1]}/${m[2]}`);
    }
  }
  if (res.status !== 200) throw new Error(`download of ${mxc} failed: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

// ------------------------------------------------------------------ the native user's side

export interface NativeMediaOptions<K extends MediaKind> {
  mimetype: string;
  options?: MediaOptionsByKind[K];
  /** `to` is a group: the message goes to its members (docs/protocol.md §19.5). */
  group?: boolean;
  /** Spoil the blob after encryption (a flipped bit in the MAC): "corrupt". */
  corrupt?: boolean;
}

/** Encrypts, uploads to the gatekeeper's media host and sends a media message. */
export async function nativeSendMedia<K extends MediaKind>(
  native: NativeActor,
  to: string,
  kind: K,
  data: Buffer,
  o: NativeMediaOptions<K>,
): Promise<void> {
  const type: MediaType =
    kind === "audio" && (o.options as MediaOptionsByKind["audio"] | undefined)?.ptt ? "ptt" : kind;
  const encrypted = encryptMedia(data, type);
  let blob = encrypted.blob;
  let fileEncSha256 = encrypted.fileEncSha256;
  if (o.corrupt) {
    blob = new Uint8Array(blob);
    blob[blob.length - 1]! ^= 0x01;
    // The message states the hash of what was uploaded: only the MAC can tell.
    const { createHash } = await import("node:crypto");
    fileEncSha256 = new Uint8Array(createHash("sha256").update(blob).digest());
  }
  const uploaded = await native.client.uploadMedia(blob);
  const message = mediaMessage(
    kind,
    {
      url: uploaded.url,
      directPath: uploaded.directPath,
      mediaKey: encrypted.mediaKey,
      fileSha256: encrypted.fileSha256,
      fileEncSha256,
      fileLength: encrypted.fileLength,
      mimetype: o.mimetype,
    },
    o.options,
  );
  if (o.group) await native.client.groups.send(to, message);
  else await native.client.sendMessage(to, message);
}

/** The media view of a received message (fails the test when it is not media). */
export function mediaOf(m: MessageEvent): MediaContent {
  const kind = describeContent(m.content);
  if (
    kind.kind !== "image" &&
    kind.kind !== "video" &&
    kind.kind !== "audio" &&
    kind.kind !== "document"
  ) {
    throw new Error(`expected media, got ${kind.kind}`);
  }
  return kind;
}

/** Fetches a received media message's blob (through the gatekeeper's proxy) and decrypts it. */
export async function nativeFetch(native: NativeActor, media: MediaContent): Promise<Buffer> {
  const blob = await native.client.downloadMedia(media.media.url, {
    fileEncSha256: media.media.fileEncSha256,
  });
  const type: MediaType = media.kind === "audio" && media.ptt ? "ptt" : media.kind;
  return Buffer.from(
    decryptMedia(blob, {
      mediaKey: media.media.mediaKey,
      mediaType: type,
      fileEncSha256: media.media.fileEncSha256,
      fileSha256: media.media.fileSha256,
    }),
  );
}

/** Random bytes that look like nothing in particular (no compression can make them smaller). */
export function randomFile(bytes: number): Buffer {
  return randomBytes(bytes);
}

/** Polls `check` until it holds (for what happens just after the event a test can await). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("the expected state did not come about in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Names in a folder (none if it does not exist). */
export function filesIn(folder: string): string[] {
  return existsSync(folder) ? readdirSync(folder) : [];
}
