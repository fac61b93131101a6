/** Who takes part in the demo (throwaway accounts, valid German mobile numbers). */
export const PARTNER_ID = "matrix";
export const SERVER_NAME = "localhost";
export const BOT_LOCALPART = "gatekeeperbot";
export const ALICE = { localpart: "alice", phone: "+4915123456701" } as const;
export const BOB = { name: "Bob", phone: "+4915123456702" } as const;
/** A second native user: in the group with --group, else for a person to play with --keep. */
export const CAROL = { name: "Carol", phone: "+4915123456703" } as const;
/** With --group --keep: a native user for a person to play in a terminal. */
export const DAVE = { name: "Dave", phone: "+4915123456704" } as const;

export interface Person {
  readonly name: string;
  readonly phone: string;
}

/** "+4915123456701" as people write it: "+49 151 23456701". */
export function spaced(phone: string): string {
  return phone.replace(/^\+49(\d{3})(\d+)$/, "+49 $1 $2");
}
