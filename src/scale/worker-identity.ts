/**
 * Who this process is among the workers. A worker id names one process at a time: the
 * default is the host's name, so that a restart (even after kill -9) takes its own leases
 * back at once instead of waiting for them to expire; a second process with the same id
 * while the first lives is refused, with what to do.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { processAlive } from "../util/process-alive.js";
import type { LeaseStore, WorkerInstance } from "./lease-store.js";

export class WorkerIdInUseError extends Error {
  constructor(workerId: string, where: string) {
    super(
      `the worker id "${workerId}" is in use by a running bridge process (${where}). ` +
        `Give every process its own scale.worker_id (or GKB_SCALE_WORKER_ID).`,
    );
    this.name = "WorkerIdInUseError";
  }
}

export function thisInstance(): WorkerInstance {
  return { host: hostname(), pid: process.pid, instance: randomBytes(8).toString("hex") };
}

export function defaultWorkerId(): string {
  // The config allows [A-Za-z0-9._:-], at most 64; a host name may hold more.
  return (
    hostname()
      .replace(/[^A-Za-z0-9._:-]/g, "-")
      .slice(0, 64) || "bridge"
  );
}

/**
 * Throws WorkerIdInUseError if a live process holds `workerId`. On this host that is a
 * running pid; on another host (or an unknown one), a heartbeat that moves within `watchMs`.
 * A dead predecessor's row passes: its leases are this process's to take back.
 */
export async function checkWorkerId(
  store: LeaseStore,
  workerId: string,
  me: WorkerInstance,
  watchMs: number,
): Promise<void> {
  const row = await store.worker(workerId);
  if (!row || !row.live || row.instance === me.instance) return;
  if (row.host === me.host && row.pid !== null) {
    if (row.pid !== me.pid && processAlive(row.pid)) {
      throw new WorkerIdInUseError(workerId, `pid ${row.pid} on this host`);
    }
    return;
  }
  await new Promise((resolve) => setTimeout(resolve, watchMs));
  const again = await store.worker(workerId);
  if (again?.live && again.instance === row.instance && again.heartbeatAt > row.heartbeatAt) {
    throw new WorkerIdInUseError(workerId, `on ${row.host ?? "another host"}`);
  }
}
