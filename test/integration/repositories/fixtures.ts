import { randomBytes } from "node:crypto";
import type { Knex } from "knex";
import { LoginRepository, PortalRepository } from "../../../src/db/repositories/index.js";
import type { Login, Portal } from "../../../src/db/repositories/index.js";

/** A short random suffix: tests share one database per describe block. */
export function uniq(): string {
  return randomBytes(5).toString("hex");
}

/** A random E.164 number in the German mobile range. */
export function phone(): string {
  return `+49151${String(randomBytes(4).readUInt32BE() % 100_000_000).padStart(8, "0")}`;
}

export function contactJid(): string {
  return `${String(100_000_000_000_000 + (randomBytes(4).readUInt32BE() % 899_999_999))}@lid.gk`;
}

export async function newLogin(db: Knex): Promise<Login> {
  return new LoginRepository(db).create({ mxid: `@u${uniq()}:example.org`, phone: phone() });
}

export async function newPortal(db: Knex, login?: Login): Promise<Portal> {
  const owner = login ?? (await newLogin(db));
  const { portal } = await new PortalRepository(db).ensure(owner.id, contactJid(), "active");
  return portal;
}

/** The promise's rejection, for assertions on typed errors. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}
