/**
 * Typed GKI/1 stanza → XML element. Refuses (StanzaError 400) values a peer would reject, so that a
 * bad id or JID surfaces at the sender instead of as a nack.
 */
import {
  type FieldContext,
  el,
  encodeBase64,
  idText,
  invalid,
  isValidId,
  jidText,
  numText,
  registrationNode,
  textEl,
} from "./stanza-fields.js";
import { checkMessageShape, checkReceiptShape, messageRoute } from "./message-shape.js";
import type { Enc, IqStanza, MessageStanza, ReceiptStanza, Stanza } from "./stanza-types.js";
import type { XmlNode } from "./xml-codec.js";

const optNumText = (n: number | undefined, name: string, ctx: FieldContext): string | undefined =>
  n === undefined ? undefined : numText(n, name, ctx);
const optJidText = (v: string | undefined, name: string, ctx: FieldContext): string | undefined =>
  v === undefined ? undefined : jidText(v, name, ctx);
const optIdText = (v: string | undefined, name: string, ctx: FieldContext): string | undefined =>
  v === undefined ? undefined : idText(v, name, ctx);

function nonEmpty(v: string, name: string, ctx: FieldContext): string {
  if (v.length === 0) throw invalid(ctx, `empty ${name}`);
  return v;
}

function encNode(e: Enc): XmlNode {
  return textEl("enc", encodeBase64(e.ciphertext), {
    v: "2",
    type: e.type,
    mediatype: e.mediatype,
  });
}

function writeMessage(s: MessageStanza, ctx: FieldContext): XmlNode {
  checkMessageShape(s, ctx);
  const children: XmlNode[] = [];
  if (s.participants !== undefined && s.participants.length > 0) {
    children.push(
      el(
        "participants",
        {},
        s.participants.map((p) =>
          el("to", { jid: jidText(p.jid, "to jid", ctx) }, [encNode(p.enc)]),
        ),
      ),
    );
  }
  if (s.enc !== undefined) children.push(encNode(s.enc));
  if (s.skmsg !== undefined) children.push(encNode(s.skmsg));
  const group = messageRoute(s) !== "direct";
  return el(
    "message",
    {
      id: idText(s.id, "id", ctx),
      to: optJidText(s.to, "to", ctx),
      from: optJidText(s.from, "from", ctx),
      participant: group ? optJidText(s.participant, "participant", ctx) : undefined,
      type: s.type,
      t: optNumText(s.t, "t", ctx),
      offline: s.offline ? "1" : undefined,
      retry: optNumText(s.retry, "retry", ctx),
      notify: s.notify,
    },
    children,
  );
}

function writeReceipt(s: ReceiptStanza, ctx: FieldContext): XmlNode {
  checkReceiptShape(s, ctx);
  const children: XmlNode[] = [];
  if (s.ids.length > 0) {
    children.push(
      el(
        "list",
        {},
        s.ids.map((id) => el("item", { id: idText(id, "item id", ctx) })),
      ),
    );
  }
  if (s.retry) {
    children.push(
      el("retry", {
        count: numText(s.retry.count, "retry count", ctx),
        id: idText(s.retry.id, "retry id", ctx),
        t: numText(s.retry.t, "retry t", ctx),
      }),
    );
  }
  if (s.registrationId !== undefined) children.push(registrationNode(s.registrationId, ctx));
  return el(
    "receipt",
    {
      id: idText(s.id, "id", ctx),
      to: optJidText(s.to, "to", ctx),
      from: optJidText(s.from, "from", ctx),
      participant: optJidText(s.participant, "participant", ctx),
      type: s.type,
      t: optNumText(s.t, "t", ctx),
      offline: s.offline ? "1" : undefined,
    },
    children,
  );
}

function writeIq(s: IqStanza, ctx: FieldContext): XmlNode {
  const children = [...s.children];
  if (s.type === "error") {
    if (!s.error) throw invalid(ctx, 'type="error" without error');
    children.push(
      el("error", {
        code: numText(s.error.code, "error code", ctx),
        text: s.error.text,
        "retry-after": optNumText(s.error.retryAfter, "retry-after", ctx),
      }),
    );
  }
  return el(
    "iq",
    {
      id: idText(s.id, "id", ctx),
      type: s.type,
      xmlns: s.xmlns,
      to: optJidText(s.to, "to", ctx),
      from: optJidText(s.from, "from", ctx),
    },
    children,
  );
}

/** Builds the element for a stanza. Throws StanzaError 400 for a value a peer would reject. */
export function stanzaToNode(s: Stanza): XmlNode {
  const tag = s.kind === "stream-error" ? "stream:error" : s.kind;
  const ctx: FieldContext = {
    tag,
    id: "id" in s && s.id !== undefined && isValidId(s.id) ? s.id : undefined,
  };
  switch (s.kind) {
    case "message":
      return writeMessage(s, ctx);
    case "receipt":
      return writeReceipt(s, ctx);
    case "ack":
      return el("ack", {
        class: nonEmpty(s.class, "class", ctx),
        id: optIdText(s.id, "id", ctx),
        to: optJidText(s.to, "to", ctx),
        from: optJidText(s.from, "from", ctx),
        participant: optJidText(s.participant, "participant", ctx),
        type: s.type,
        t: optNumText(s.t, "t", ctx),
        error: optNumText(s.error, "error", ctx),
        text: s.text,
        seq: optNumText(s.seq, "seq", ctx),
      });
    case "iq":
      return writeIq(s, ctx);
    case "notification":
      return el(
        "notification",
        {
          id: idText(s.id, "id", ctx),
          type: nonEmpty(s.type, "type", ctx),
          from: optJidText(s.from, "from", ctx),
          to: optJidText(s.to, "to", ctx),
          participant: optJidText(s.participant, "participant", ctx),
          t: optNumText(s.t, "t", ctx),
          offline: s.offline ? "1" : undefined,
        },
        s.children,
      );
    case "chatstate":
      return el(
        "chatstate",
        {
          to: optJidText(s.to, "to", ctx),
          from: optJidText(s.from, "from", ctx),
          participant: optJidText(s.participant, "participant", ctx),
        },
        [el(s.state, { media: s.media })],
      );
    case "presence":
      return el("presence", {
        type: s.type,
        to: optJidText(s.to, "to", ctx),
        from: optJidText(s.from, "from", ctx),
        name: s.name,
        last: optNumText(s.last, "last", ctx),
      });
    case "ib":
      return el(
        "ib",
        {},
        s.offlineCount === undefined
          ? []
          : [el("offline", { count: numText(s.offlineCount, "count", ctx) })],
      );
    case "success":
      return el("success", {
        t: numText(s.t, "t", ctx),
        jid: jidText(s.jid, "jid", ctx),
        enlisted: s.enlisted ? "true" : "false",
      });
    case "failure":
      return el("failure", { reason: numText(s.reason, "reason", ctx), text: s.text });
    case "stream-error":
      return el("stream:error", { code: numText(s.code, "code", ctx), text: s.text });
  }
}
