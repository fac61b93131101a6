/**
 * The chat's view of our groups: each one's subject, for the `[Family]` a line shows, and
 * the numbering of the last `/groups`, so that a group can be picked by number or subject.
 */
import type { GroupChange, GroupInfo } from "../../gatekeeper/stanza/index.js";
import { ChatError } from "./chat-error.js";

/** Longest subject a line shows in full; longer ones are cut, with "…". */
export const SHORT_SUBJECT_LENGTH = 16;

export class GroupBook {
  readonly #subjects = new Map<string, string>();
  #listed: string[] = [];

  remember(info: Pick<GroupInfo, "jid" | "subject">): void {
    this.#subjects.set(info.jid, info.subject);
  }

  /** A `/groups` answer: remembered, and numbered from 1 in this order. */
  listed(infos: GroupInfo[]): void {
    for (const info of infos) this.remember(info);
    this.#listed = infos.map((i) => i.jid);
  }

  subject(jid: string): string | undefined {
    return this.#subjects.get(jid);
  }

  /** `[Family]`: the group as a line shows it (its JID until we know the subject). */
  label(jid: string): string {
    return `[${shortSubject(this.#subjects.get(jid) ?? jid)}]`;
  }

  /** Follows a change the gatekeeper announced; only the subject matters here. */
  apply(group: string, change: GroupChange): void {
    if (change.type === "create") this.remember(change.group);
    else if (change.type === "subject") this.#subjects.set(group, change.subject);
  }

  /**
   * The group `ref` names: its number in the last `/groups`, or its subject, exactly (any
   * case) or else by a part only one subject has. undefined when none fits.
   */
  find(ref: string): string | undefined {
    if (/^\d{1,4}$/.test(ref) && this.#listed.length > 0) {
      const jid = this.#listed[Number(ref) - 1];
      if (jid === undefined) {
        throw new ChatError(
          "unknown-group",
          `there is no group ${ref}: /groups numbers them 1 to ${this.#listed.length}`,
        );
      }
      return jid;
    }
    const wanted = ref.toLowerCase();
    const all = [...this.#subjects];
    const exact = all.filter(([, s]) => s.toLowerCase() === wanted);
    const fits = exact.length > 0 ? exact : all.filter(([, s]) => s.toLowerCase().includes(wanted));
    const [only, second] = fits;
    if (second !== undefined) {
      throw new ChatError(
        "ambiguous-group",
        `"${ref}" fits ${fits.length} groups (${fits.map(([, s]) => s).join(", ")}): give more of the subject, its number in /groups or its JID`,
      );
    }
    return only?.[0];
  }
}

export function shortSubject(subject: string): string {
  const chars = [...subject];
  return chars.length <= SHORT_SUBJECT_LENGTH
    ? subject
    : `${chars.slice(0, SHORT_SUBJECT_LENGTH - 1).join("")}…`;
}
