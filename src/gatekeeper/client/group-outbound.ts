import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { MessageSchema, SenderKeyDistributionMessageSchema } from "../../gen/gki_pb.js";
import type { Message } from "../../gen/gki_pb.js";
import { encodeContent, newMessageId } from "../content/index.js";
import { distributionIdOf } from "../signal/index.js";
import type {
  AckStanza,
  MessageParticipant,
  MessageStanza,
  ReceiptStanza,
} from "../stanza/index.js";
import type { Connection } from "./connection.js";
import { nowSeconds, peerAddress } from "./context.js";
import type { AccountState, ClientCore } from "./context.js";
import { GatekeeperError, nackError } from "./errors.js";
import { checkGroup } from "./groups.js";
import type { GroupDirectory } from "./groups.js";
import { errorText } from "./logger.js";
import { MAX_RETRIES, asGatekeeperError, mediaTypeOf } from "./outbound.js";
import type { Outbound } from "./outbound.js";
import type { ReceiptKind, SendOptions, SendResult } from "./types.js";

/** A group message as built once, and which members its `<to>`s gave our sender key. */
interface BuiltGroupMessage {
  stanza: MessageStanza;
  distributed?: { members: string[]; distributionId: string };
}

/**
 * Sending to groups (docs §19.5, §19.6): one skmsg for everyone, our sender key pairwise to
 * each member who does not have it yet, the same stanza again after a reconnect until the
 * gatekeeper acked it; answers group retry receipts with the content pairwise.
 * Lock order: the group's key (in peerLocks), then a member's, never the other way.
 */
export class GroupOutbound {
  constructor(
    private readonly core: ClientCore,
    private readonly outbound: Outbound,
    private readonly directory: GroupDirectory,
  ) {}

  async sendGroupMessage(
    group: string,
    content: Message,
    opts: SendOptions = {},
  ): Promise<SendResult> {
    checkGroup(group);
    this.requireGroups();
    const id = opts.id ?? newMessageId();
    const body = toBinary(MessageSchema, content);
    let recorded = false;
    let built: BuiltGroupMessage | undefined;
    const ack = await this.outbound.untilAcked(opts.timeoutMs, async (conn, account) => {
      // Recorded under the group's JID before it first goes out: a retry receipt finds it there.
      if (!recorded) {
        await account.sent.record(group, id, body);
        recorded = true;
      }
      return this.core.peerLocks.run(group, async () => {
        built ??= await this.encrypt(conn, account, group, id, content);
        return { ack: conn.sendAwaitingAck(built.stanza, "message") };
      });
    });
    if (ack.error !== undefined) {
      // 404: not (or no longer) a member; what we knew of the group is stale.
      if (ack.error === 404) this.directory.invalidate(group);
      throw nackError(`message ${id}`, ack.error, ack.text);
    }
    const distributed = built?.distributed;
    if (distributed) {
      await this.core.account().signal.groups.markDistributed(group, distributed.members, {
        distributionId: distributed.distributionId,
      });
    }
    return { id, t: ack.t ?? nowSeconds() };
  }

  /** `<receipt to=G participant=SENDER>` for messages of one sender (docs §19.6). */
  async sendGroupReceipt(
    group: string,
    sender: string,
    ids: string[],
    type: ReceiptKind | undefined,
    opts: { timeoutMs?: number } = {},
  ): Promise<void> {
    checkGroup(group);
    this.requireGroups();
    const [first, ...rest] = ids;
    if (first === undefined)
      throw new GatekeeperError("bad-request", "a receipt needs at least one message id");
    const stanza: ReceiptStanza = {
      kind: "receipt",
      id: first,
      to: group,
      participant: sender,
      t: nowSeconds(),
      ids: rest,
      ...(type === undefined || type === "delivered" ? {} : { type }),
    };
    const ack = await this.outbound.untilAcked(opts.timeoutMs, async (conn) => ({
      ack: conn.sendAwaitingAck(stanza, "receipt"),
    }));
    if (ack.error !== undefined) throw nackError(`receipt ${first}`, ack.error, ack.text);
  }

  /**
   * A member could not decrypt one of our group messages (§19.5): re-encrypt its content
   * pairwise, with our current sender key added, under a fresh session; give up after 5.
   */
  async handleRetryReceipt(
    receipt: ReceiptStanza,
    group: string,
    requester: string,
    conn: Connection,
  ): Promise<void> {
    const account = await this.core.accountReady();
    const id = receipt.retry?.id ?? receipt.id;
    const count = receipt.retry?.count ?? 1;
    const sent = await account.sent.get(group, id);
    if (!sent) {
      this.core.logger.info("group retry receipt for a message we no longer have", { id });
      return;
    }
    // Retry counts are per member: each asks on its own.
    const track = retryTrack(group, requester);
    const answered = (await account.sent.get(track, id))?.retryCount ?? 0;
    if (count <= answered) return; // answered already (a redelivered receipt)
    await account.sent.record(track, id, new Uint8Array());
    const fail = async (error: GatekeeperError): Promise<void> => {
      await this.core.events.emitQuietly("sendFailed", { to: requester, group, id, error });
    };
    if (count > MAX_RETRIES) {
      await account.sent.setRetryCount(track, id, count);
      await fail(
        new GatekeeperError(
          "retries-exhausted",
          `${requester} could not decrypt message ${id} in ${group} after ${MAX_RETRIES} retries`,
        ),
      );
      return;
    }
    let sending: { ack: Promise<AckStanza>; distributionId: string };
    try {
      sending = await this.core.peerLocks.run(group, () =>
        this.core.peerLocks.run(requester, async () => {
          await account.signal.deleteSession(peerAddress(requester));
          const fetched = await this.outbound.fetchSessions(conn, account, [requester], {
            locked: true,
          });
          const failed = fetched.get(requester);
          if (failed) throw failed;
          const skdm = await account.signal.groups.groupDistribution(group);
          const content = fromBinary(MessageSchema, sent.content);
          content.senderKeyDistributionMessage = distributionOf(group, skdm);
          const enc = await this.outbound.encryptPairwise(
            account,
            requester,
            encodeContent(content),
          );
          const stanza: MessageStanza = {
            kind: "message",
            id,
            to: group,
            type: mediaTypeOf(content) === undefined ? "text" : "media",
            retry: count,
            participants: [{ jid: requester, enc: { v: 2, ...enc } }],
          };
          return {
            ack: conn.sendAwaitingAck(stanza, "message"),
            distributionId: distributionIdOf(skdm),
          };
        }),
      );
    } catch (err) {
      if (err instanceof GatekeeperError && (err.code === "disconnected" || err.code === "timeout"))
        throw err;
      await account.sent.setRetryCount(track, id, count);
      await fail(asGatekeeperError(err));
      return;
    }
    const ack = await sending.ack;
    await account.sent.setRetryCount(track, id, count);
    if (ack.error !== undefined) {
      await fail(nackError(`message ${id}`, ack.error, ack.text));
      return;
    }
    await account.signal.groups.markDistributed(group, [requester], {
      distributionId: sending.distributionId,
    });
  }

  /** Builds the group stanza: the distribution for those who need it first, then the skmsg. */
  private async encrypt(
    conn: Connection,
    account: AccountState,
    group: string,
    id: string,
    content: Message,
  ): Promise<BuiltGroupMessage> {
    const groups = account.signal.groups;
    const members = await this.directory.members(group);
    const needing = await groups.membersNeedingDistribution(group, members);
    const participants: MessageParticipant[] = [];
    let distributed: BuiltGroupMessage["distributed"];
    if (needing.length > 0) {
      // Taken before groupEncrypt: a distribution opens messages from its position on (§19.5).
      const skdm = await groups.groupDistribution(group);
      const message = create(MessageSchema, {
        senderKeyDistributionMessage: distributionOf(group, skdm),
      });
      for (const to of await this.withSessions(conn, account, needing)) {
        try {
          const enc = await this.core.peerLocks.run(to, () =>
            this.outbound.encryptPairwise(account, to, encodeContent(message)),
          );
          participants.push({ jid: to, enc: { v: 2, ...enc } });
        } catch (err) {
          // That member cannot read this message; its retry receipt will bring the key.
          this.core.logger.warn("could not give a member our sender key", {
            error: errorText(err),
          });
        }
      }
      distributed = {
        members: participants.map((p) => p.jid),
        distributionId: distributionIdOf(skdm),
      };
    }
    let skmsg: Uint8Array;
    try {
      skmsg = await groups.groupEncrypt(group, encodeContent(content));
    } catch (err) {
      throw asGatekeeperError(err);
    }
    const mediatype = mediaTypeOf(content);
    const stanza: MessageStanza = {
      kind: "message",
      id,
      to: group,
      type: mediatype === undefined ? "text" : "media",
      ...(participants.length > 0 ? { participants } : {}),
      skmsg: {
        v: 2,
        type: "skmsg",
        ...(mediatype === undefined ? {} : { mediatype }),
        ciphertext: skmsg,
      },
    };
    return { stanza, ...(distributed ? { distributed } : {}) };
  }

  /** The members we have (or could build) a pairwise session with; the others are logged. */
  private async withSessions(
    conn: Connection,
    account: AccountState,
    jids: string[],
  ): Promise<string[]> {
    const missing: string[] = [];
    for (const jid of jids)
      if (!(await account.signal.hasSession(peerAddress(jid)))) missing.push(jid);
    if (missing.length === 0) return jids;
    const failed = await this.outbound.fetchSessions(conn, account, missing, { locked: false });
    for (const [jid, err] of failed) {
      this.core.logger.warn("no session with a group member", { jid, error: errorText(err) });
    }
    return jids.filter((jid) => !failed.has(jid));
  }

  private requireGroups(): void {
    if (!this.core.groups) {
      throw new GatekeeperError(
        "not-acceptable",
        "this client does not take part in groups (start it with groups: true)",
        { gkiCode: 406 },
      );
    }
  }
}

/** Where the retry count a member asked for is kept in the sent table (docs §19.5). */
function retryTrack(group: string, member: string): string {
  return `${group}/${member}`;
}

function distributionOf(group: string, skdm: Uint8Array) {
  return create(SenderKeyDistributionMessageSchema, {
    groupId: group,
    axolotlSenderKeyDistributionMessage: skdm,
  });
}
