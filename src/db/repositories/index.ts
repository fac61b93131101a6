/** The bridge's repositories, one per table family (see docs/architecture.md, "Data"). */
import type { Knex } from "knex";
import { GroupPortalRepository } from "./group-portals.js";
import { LoginRepository } from "./logins.js";
import { MatrixIntakeRepository } from "./matrix-intake.js";
import { MessageMapRepository } from "./message-map.js";
import { OutboxRepository } from "./outbox.js";
import { PortalRepository } from "./portals.js";
import { PuppetRepository } from "./puppets.js";
import { ReactionRepository } from "./reactions.js";
import { UserRepository } from "./users.js";

export { rowCacheOf } from "./row-cache.js";
export type { RowCache } from "./row-cache.js";
export { RepositoryError, isUniqueViolation, isForeignKeyViolation } from "./errors.js";
export type { RepositoryErrorCode } from "./errors.js";
export { UserRepository } from "./users.js";
export type { BridgeUser } from "./users.js";
export { LoginRepository } from "./logins.js";
export type { Login, LoginState } from "./logins.js";
export { PuppetRepository } from "./puppets.js";
export type { Puppet, PuppetProfile } from "./puppets.js";
export { PortalRepository } from "./portals.js";
export type { Portal, PortalState } from "./portals.js";
export { GroupPortalRepository, isGroupPortal } from "./group-portals.js";
export type { GroupPortal } from "./group-portals.js";
export { MessageMapRepository } from "./message-map.js";
export type { MessageMapping } from "./message-map.js";
export { MatrixIntakeRepository } from "./matrix-intake.js";
export type { IntakeEvent, QueuedEvent, QueuedEventState } from "./matrix-intake.js";
export { OutboxRepository } from "./outbox.js";
export type { OutboxEntry, OutboxState } from "./outbox.js";
export { ReactionRepository } from "./reactions.js";
export type { Reaction } from "./reactions.js";

export interface Repositories {
  users: UserRepository;
  logins: LoginRepository;
  puppets: PuppetRepository;
  portals: PortalRepository;
  groupPortals: GroupPortalRepository;
  messageMap: MessageMapRepository;
  intake: MatrixIntakeRepository;
  outbox: OutboxRepository;
  reactions: ReactionRepository;
}

/**
 * Every repository on one database handle. Pass a transaction to make several writes
 * atomic: `db.transaction(async (trx) => { const r = repositories(trx); ... })`.
 */
export function repositories(db: Knex): Repositories {
  return {
    users: new UserRepository(db),
    logins: new LoginRepository(db),
    puppets: new PuppetRepository(db),
    portals: new PortalRepository(db),
    groupPortals: new GroupPortalRepository(db),
    messageMap: new MessageMapRepository(db),
    intake: new MatrixIntakeRepository(db),
    outbox: new OutboxRepository(db),
    reactions: new ReactionRepository(db),
  };
}
