/**
 * Keeps the intake tables small: txn ids and handled event ids are only needed while the
 * homeserver might still redeliver them (it retries within minutes; a week is ample).
 * Queued and failed events are never pruned.
 */
import type { MatrixIntakeRepository } from "../db/repositories/matrix-intake.js";
import { Logger } from "./appservice-bridge.js";
import { errorMessage } from "./intake-worker.js";
import type { IntakeLog } from "./intake-worker.js";

export interface IntakePrunerOptions {
  /** How long txn ids and handled events are kept (default 7 days). */
  keepMs?: number;
  /** How often to prune (default every 6 hours; also once at start). */
  everyMs?: number;
  log?: IntakeLog;
  now?: () => number;
}

export interface IntakePruner {
  /** One pruning pass; resolves with the rows removed. */
  runOnce(): Promise<{ transactions: number; events: number }>;
  stop(): void;
}

export function startIntakePruner(
  repo: Pick<MatrixIntakeRepository, "pruneTransactions" | "pruneDone">,
  opts: IntakePrunerOptions = {},
): IntakePruner {
  const keepMs = opts.keepMs ?? 7 * 24 * 3600_000;
  const log = opts.log ?? new Logger("IntakePruner");
  const now = opts.now ?? Date.now;
  const runOnce = async (): Promise<{ transactions: number; events: number }> => {
    const before = now() - keepMs;
    const transactions = await repo.pruneTransactions(before);
    const events = await repo.pruneDone(before);
    if (transactions + events > 0) {
      log.debug(`Pruned ${transactions} transaction ids and ${events} handled events`);
    }
    return { transactions, events };
  };
  const tick = (): void => {
    runOnce().catch((err: unknown) => log.warn(`Pruning the intake failed: ${errorMessage(err)}`));
  };
  tick();
  const timer = setInterval(tick, opts.everyMs ?? 6 * 3600_000);
  // Housekeeping never keeps the process alive.
  timer.unref();
  return { runOnce, stop: () => clearInterval(timer) };
}
