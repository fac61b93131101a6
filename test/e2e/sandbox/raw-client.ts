/**
 * A deliberately thin GKI/1 client for the sandbox tests: Noise from
 * connectNoise, stanzas from the codec, nothing else. It lets a test send
 * exactly the bytes it wants (including broken ones) and look at every
 * stanza the sandbox sends back.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { ClientPayloadSchema, ClientPayload_Product } from "../../../src/gen/gki_pb.js";
import {
  type NoiseConnection,
  connectNoise,
  generateKeyPair,
} from "../../../src/gatekeeper/noise/index.js";
import {
  type IqStanza,
  type Stanza,
  type StanzaOf,
  type XmlNode,
  encodeStanza,
  parseStanza,
} from "../../../src/gatekeeper/stanza/index.js";
import type { Sandbox } from "../../../src/sandbox/index.js";

export interface PayloadFields {
  product?: ClientPayload_Product;
  partnerId?: string;
  accountId?: string;
  token?: string;
  device?: number;
  sendReadReceipts?: boolean;
  clientIp?: string;
  protocolVersion?: number;
  pushName?: string;
  /** §19.1: the client takes part in groups. */
  groups?: boolean;
}

export interface ConnectOptions {
  /** The key the client pins; default the sandbox's real key. */
  pinnedKey?: Uint8Array;
  /** Raw payload bytes instead of a ClientPayload built from `payload`. */
  rawPayload?: Uint8Array;
  /** Frame cap on our side (raise it to send an oversize frame). */
  maxFramePayload?: number;
}

const WAIT_MS = 5_000;

export function encodePayload(p: PayloadFields): Uint8Array {
  return toBinary(
    ClientPayloadSchema,
    create(ClientPayloadSchema, {
      device: 1,
      protocolVersion: 1,
      userAgent: "sandbox-test/1",
      clientIp: "198.51.100.7",
      ...p,
    }),
  );
}

interface Waiter {
  match: (s: Stanza) => boolean;
  resolve: (s: Stanza) => void;
}

export class RawClient {
  readonly received: Stanza[] = [];
  /** Stanzas not yet taken by `next`. */
  readonly #inbox: Stanza[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #conn: NoiseConnection;
  readonly closed: Promise<{ code: number; reason: string }>;
  #iqCounter = 0;

  private constructor(conn: NoiseConnection) {
    this.#conn = conn;
    this.closed = new Promise((resolve) =>
      conn.on("close", (code, reason) => resolve({ code, reason })),
    );
    conn.on("error", () => undefined);
    conn.on("frame", (frame) => {
      const stanza = parseStanza(frame);
      this.received.push(stanza);
      const i = this.#waiters.findIndex((w) => w.match(stanza));
      if (i >= 0) {
        const [waiter] = this.#waiters.splice(i, 1);
        waiter?.resolve(stanza);
      } else {
        this.#inbox.push(stanza);
      }
    });
  }

  static async connect(
    sandbox: Sandbox,
    payload: PayloadFields,
    opts: ConnectOptions = {},
  ): Promise<RawClient> {
    const conn = await connectNoise({
      url: sandbox.url,
      serverStaticKey: opts.pinnedKey ?? sandbox.publicKey,
      clientStaticKey: generateKeyPair(),
      payload: opts.rawPayload ?? encodePayload(payload),
      ...(opts.maxFramePayload === undefined ? {} : { maxFramePayload: opts.maxFramePayload }),
    });
    return new RawClient(conn);
  }

  /** Connects and waits for `<success>` (throws on `<failure>`). */
  static async login(
    sandbox: Sandbox,
    payload: PayloadFields,
    opts: ConnectOptions = {},
  ): Promise<{ client: RawClient; success: StanzaOf<"success"> }> {
    const client = await RawClient.connect(sandbox, payload, opts);
    const first = await client.next((s) => s.kind === "success" || s.kind === "failure");
    if (first.kind !== "success") throw new Error(`login failed: ${JSON.stringify(first)}`);
    return { client, success: first };
  }

  static native(
    sandbox: Sandbox,
    user: { accountId: string; token: string },
    extra: PayloadFields = {},
    opts: ConnectOptions = {},
  ) {
    return RawClient.login(
      sandbox,
      {
        product: ClientPayload_Product.NATIVE,
        accountId: user.accountId,
        token: user.token,
        ...extra,
      },
      opts,
    );
  }

  static interop(
    sandbox: Sandbox,
    partnerId: string,
    accountId: string,
    token: string,
    extra: PayloadFields = {},
  ) {
    return RawClient.login(sandbox, {
      product: ClientPayload_Product.INTEROP,
      partnerId,
      accountId,
      token,
      ...extra,
    });
  }

  send(stanza: Stanza): void {
    this.#conn.send(encodeStanza(stanza));
  }

  sendRaw(bytes: Uint8Array | string): void {
    this.#conn.send(typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes);
  }

  /** The next stanza (in arrival order) that matches, waiting for it if needed. */
  next<S extends Stanza = Stanza>(
    match: (s: Stanza) => boolean = () => true,
    timeoutMs = WAIT_MS,
  ): Promise<S> {
    const i = this.#inbox.findIndex(match);
    if (i >= 0) return Promise.resolve(this.#inbox.splice(i, 1)[0] as S);
    return new Promise<S>((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s as S);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `no matching stanza within ${timeoutMs} ms; unclaimed: ${JSON.stringify(this.#inbox)}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  nextOf<K extends Stanza["kind"]>(
    kind: K,
    match: (s: StanzaOf<K>) => boolean = () => true,
  ): Promise<StanzaOf<K>> {
    return this.next<StanzaOf<K>>((s) => s.kind === kind && match(s as StanzaOf<K>));
  }

  /** Stanzas received and not taken by `next`, e.g. to assert nothing else arrived. */
  get unclaimed(): readonly Stanza[] {
    return this.#inbox;
  }

  async iq(xmlns: string, type: "get" | "set", children: XmlNode[] = []): Promise<IqStanza> {
    const id = `iq-${++this.#iqCounter}`;
    this.send({ kind: "iq", id, type, xmlns, to: "gk", children });
    return this.nextOf("iq", (s) => s.id === id);
  }

  /** A ping round trip: everything the server sent before its answer has arrived by then. */
  async ping(): Promise<void> {
    const result = await this.iq("w:p", "get", [{ tag: "ping", attrs: {}, children: [] }]);
    if (result.type !== "result") throw new Error("ping failed");
  }

  close(): void {
    this.#conn.close(1000, "test done");
  }
}
