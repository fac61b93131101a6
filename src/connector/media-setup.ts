/**
 * The network connector's media folder: `hosted/` (blobs waiting for the gatekeeper, see
 * ./media-host.ts) and `tmp/` (downloads being verified, see ./media-incoming.ts). What a
 * previous run left in `tmp/` is unverified or already delivered, so it is removed at start.
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Knex } from "knex";
import type { ClientLogger } from "../gatekeeper/client/index.js";
import { HostedMedia } from "./media-host.js";

export interface NetworkMedia {
  hosted: HostedMedia;
  tempDir: string;
  stop(): void;
}

export async function startNetworkMedia(o: {
  db: Knex;
  directory: string;
  expirySeconds: number;
  publicBaseUrl: () => string;
  logger?: ClientLogger;
}): Promise<NetworkMedia> {
  const tempDir = join(o.directory, "tmp");
  await clearFolder(tempDir);
  const hosted = new HostedMedia({
    db: o.db,
    directory: o.directory,
    expirySeconds: o.expirySeconds,
    publicBaseUrl: o.publicBaseUrl,
    ...(o.logger ? { logger: o.logger } : {}),
  });
  await hosted.start();
  return { hosted, tempDir, stop: () => hosted.stop() };
}

async function clearFolder(folder: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return; // not there yet
  }
  for (const name of names) await rm(join(folder, name), { force: true, recursive: true });
}
