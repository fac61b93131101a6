/** Application service registrations: tokens, namespaces, and which events each one is interested in. */
import { parseUserId } from "./ids.js";
import { stateAfter } from "./room.js";
import type { Room } from "./room.js";
import type { AppServiceRegistrationLike, NamespaceEntry, StoredEvent } from "./types.js";

interface CompiledNamespace {
  exclusive: boolean;
  re: RegExp;
}

function compile(entries: NamespaceEntry[] | undefined): CompiledNamespace[] {
  // Synapse uses Python's re.match: anchored at the start only.
  return (entries ?? []).map((n) => ({
    exclusive: n.exclusive === true,
    re: new RegExp(`^(?:${n.regex})`),
  }));
}

export class AppService {
  readonly id: string;
  readonly url: string | null;
  readonly asToken: string;
  readonly hsToken: string;
  readonly senderUserId: string;
  readonly rateLimited: boolean;
  readonly receiveEphemeral: boolean;
  private readonly users: CompiledNamespace[];
  private readonly aliases: CompiledNamespace[];
  private readonly rooms: CompiledNamespace[];

  constructor(
    readonly registration: AppServiceRegistrationLike,
    private readonly serverName: string,
  ) {
    for (const key of ["id", "as_token", "hs_token", "sender_localpart"] as const) {
      if (typeof registration[key] !== "string" || registration[key] === "") {
        throw new Error(`application service registration lacks ${key}`);
      }
    }
    this.id = registration.id;
    this.url = registration.url ?? null;
    this.asToken = registration.as_token;
    this.hsToken = registration.hs_token;
    this.senderUserId = `@${registration.sender_localpart}:${serverName}`;
    // Synapse's default is rate_limited: true.
    this.rateLimited = registration.rate_limited !== false;
    this.receiveEphemeral =
      registration.receive_ephemeral === true ||
      registration["de.sorunome.msc2409.push_ephemeral"] === true;
    this.users = compile(registration.namespaces?.users);
    this.aliases = compile(registration.namespaces?.aliases);
    this.rooms = compile(registration.namespaces?.rooms);
  }

  /** Local users the AS may act as: its sender, or any of its user namespaces. */
  isInterestedInUser(userId: string): boolean {
    if (userId === this.senderUserId) return true;
    if (parseUserId(userId)?.server !== this.serverName) return false;
    return this.users.some((n) => n.re.test(userId));
  }

  hasExclusiveUser(userId: string): boolean {
    if (userId === this.senderUserId) return true;
    return this.users.some((n) => n.exclusive && n.re.test(userId));
  }

  isInterestedInAlias(alias: string): boolean {
    return this.aliases.some((n) => n.re.test(alias));
  }

  hasExclusiveAlias(alias: string): boolean {
    return this.aliases.some((n) => n.exclusive && n.re.test(alias));
  }

  isInterestedInRoomId(roomId: string): boolean {
    return this.rooms.some((n) => n.re.test(roomId));
  }

  /** Room-level interest: room id or alias namespaces, or a joined member the AS covers. */
  isInterestedInRoom(room: Room, aliases: readonly string[]): boolean {
    if (this.isInterestedInRoomId(room.roomId)) return true;
    if (aliases.some((a) => this.isInterestedInAlias(a))) return true;
    return room.members("join").some((u) => this.isInterestedInUser(u));
  }

  isInterestedInEvent(se: StoredEvent, room: Room, aliases: readonly string[]): boolean {
    const e = se.event;
    if (this.isInterestedInUser(e.sender)) return true;
    if (
      e.type === "m.room.member" &&
      e.state_key !== undefined &&
      this.isInterestedInUser(e.state_key)
    ) {
      return true;
    }
    if (this.isInterestedInRoomId(room.roomId)) return true;
    if (aliases.some((a) => this.isInterestedInAlias(a))) return true;
    // Members joined once this event applied (a leaving member still sees its own leave above).
    for (const member of stateAfter(se).values()) {
      if (
        member.event.type === "m.room.member" &&
        member.event.content.membership === "join" &&
        this.isInterestedInUser(member.event.state_key!)
      ) {
        return true;
      }
    }
    return false;
  }
}

export class AppServiceRegistry {
  private readonly list: AppService[] = [];

  constructor(private readonly serverName: string) {}

  add(registration: AppServiceRegistrationLike): AppService {
    const as = new AppService(registration, this.serverName);
    // The spec: id and as_token MUST be unique per application service.
    if (this.list.some((x) => x.id === as.id))
      throw new Error(`duplicate application service id ${as.id}`);
    if (this.list.some((x) => x.asToken === as.asToken)) throw new Error("duplicate as_token");
    this.list.push(as);
    return as;
  }

  all(): readonly AppService[] {
    return this.list;
  }

  byToken(token: string): AppService | undefined {
    return this.list.find((x) => x.asToken === token);
  }

  byId(id: string): AppService | undefined {
    return this.list.find((x) => x.id === id);
  }

  exclusiveOwnerOfUser(userId: string): AppService | undefined {
    return this.list.find((x) => x.hasExclusiveUser(userId));
  }

  exclusiveOwnerOfAlias(alias: string): AppService | undefined {
    return this.list.find((x) => x.hasExclusiveAlias(alias));
  }
}
