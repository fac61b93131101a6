/** What a bot command gets to work with, and the shape of one command. */
import type { Portal, Repositories } from "../../db/repositories/index.js";
import type { GroupActions } from "../group-actions.js";
import type { Logins } from "../logins.js";
import type { MediaRelay } from "../media-relay.js";
import type { RemoteNetwork } from "../network.js";
import type { Portals } from "../portals.js";
import type { Puppets } from "../puppets.js";
import type { RelayOut } from "../relay-out.js";
import type { ParsedCommand } from "./parser.js";

export interface CommandEnv {
  repos: Repositories;
  network: RemoteNetwork;
  logins: Logins;
  portals: Portals;
  puppets: Puppets;
  relayOut: RelayOut;
  commandPrefix: string;
  /** bridge.space_name, for the help text. */
  spaceName: string;
  /** Media limits for `limits` (absent: the bridge relays no media). */
  media?: Pick<MediaRelay, "enabled" | "limits">;
  /** Groups made, listed and left from Matrix (absent: no group commands work). */
  groups?: GroupActions;
  /**
   * Several processes on one database (docs/architecture.md, "Several processes"): which
   * worker holds a login. Absent: one process serves every login.
   */
  scale?: {
    /** This process's worker id. */
    workerId: string;
    holder(loginId: string): Promise<{ workerId: string; expiresInMs: number } | undefined>;
    liveWorkers(): Promise<number>;
  };
  /** The sender's permission level (config bridge.permissions). */
  permission?: (mxid: string) => "none" | "user" | "admin";
}

export interface CommandContext {
  sender: string;
  roomId: string;
  /** The portal the command was written in, if it was written in one. */
  portal: Portal | undefined;
  /** The sender's management room (their DM with the bot): no prefix needed. */
  inManagementRoom: boolean;
  reply(text: string): Promise<void>;
}

export interface Command {
  name: string;
  /** How to write it, e.g. "login <phone>". */
  usage: string;
  summary: string;
  run(command: ParsedCommand, ctx: CommandContext, env: CommandEnv): Promise<void>;
}
