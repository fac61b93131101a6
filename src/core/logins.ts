/**
 * The login state machine, on the logins repository: login <phone> → enlisting (a code goes
 * to the phone) → verify <code> → connected ⇄ disconnected → logged out. One remote identity
 * per Matrix user; a number another Matrix user has verified is refused.
 */
import type { Login, Repositories } from "../db/repositories/index.js";
import { RepositoryError } from "../db/repositories/index.js";
import { UserFacingError, asUserFacing } from "./errors.js";
import { KeyedLock } from "./keyed-lock.js";
import { TaskWindow } from "./task-window.js";
import { errorText } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import { RemoteError } from "./network.js";
import type { LoginCredentials, RemoteConnectionState, RemoteNetwork } from "./network.js";

/** An unverified claim on a number older than this no longer keeps others from it. */
export const STALE_ENLISTMENT_MS = 15 * 60_000;
/**
 * Logins connecting at once at start-up: a window, not a batch (the next starts as soon as
 * one is done), so the gatekeeper never sees more handshakes from us than this at a time,
 * and one slow login holds up no others.
 */
const CONNECT_WINDOW = 32;

export interface LoginsOptions {
  repos: Repositories;
  network: RemoteNetwork;
  logger: CoreLogger;
  now?: () => number;
  /**
   * Several processes: a login this process has just made (or is enlisting again) is kept
   * here if no other holds it, so the user's `verify` comes to the process with its
   * connection; answers whether it is kept.
   */
  adopt?: (loginId: string) => Promise<boolean>;
}

export function credentialsOf(login: Login): LoginCredentials {
  return { loginId: login.id, phone: login.phone, accountId: login.accountId, token: login.token };
}

export function isEnlisted(login: Login): boolean {
  return login.state === "connected" || login.state === "disconnected";
}

export class Logins {
  private readonly lock = new KeyedLock();
  /** Logins being logged out by their user: their connection's end is no news. */
  private readonly ending = new Set<string>();
  private readonly now: () => number;
  /** The start-up connections (connectAll), until they were all tried. */
  private connecting: Promise<void> = Promise.resolve();
  /** Connections of logins taken over from other processes. */
  private readonly window = new TaskWindow(CONNECT_WINDOW);
  /** Logins given to another process since they were last taken (their turn is skipped). */
  private readonly given = new Set<string>();
  private stopping = false;

  constructor(private readonly o: LoginsOptions) {
    this.now = o.now ?? Date.now;
  }

  private get networkName(): string {
    return this.o.network.capabilities.networkName;
  }

  byUser(mxid: string): Promise<Login | undefined> {
    return this.o.repos.logins.getByMxid(mxid);
  }

  byId(loginId: string): Promise<Login | undefined> {
    return this.o.repos.logins.get(loginId);
  }

  /** `login <phone>`: claims the number and has a one-time code sent to it. */
  begin(
    mxid: string,
    phone: string,
  ): Promise<{ login: Login; codeLength: number; expiresInSeconds: number }> {
    return this.lock.run(mxid, async () => {
      const logins = this.o.repos.logins;
      let login = await logins.getByMxid(mxid);
      if (login && isEnlisted(login)) {
        throw new UserFacingError(
          "already-logged-in",
          `You are already logged in as ${login.phone}. Send \`logout\` first to use another number.`,
        );
      }
      await this.releaseNumberFrom(mxid, phone);
      if (login && login.phone !== phone) {
        // A different number than the one being verified (or logged out): start over.
        await this.discard(login);
        login = undefined;
      }
      const previous = login?.state;
      let kept: boolean;
      if (login) {
        // Kept before it counts as being logged in: from then on its holder gets the
        // user's `verify`, and no other worker is to take it meanwhile.
        kept = (await this.o.adopt?.(login.id)) ?? true;
        // Logged out by the network: log in again with fresh credentials (chats are kept).
        if (login.state === "logged-out") await logins.rotateToken(login.id);
        await logins.setState(login.id, "enlisting");
        login = (await logins.get(login.id))!;
      } else {
        login = await this.create(mxid, phone);
        kept = (await this.o.adopt?.(login.id)) ?? true;
      }
      try {
        const code = await this.o.network.beginLogin(credentialsOf(login));
        this.o.logger.info("login started", { login: login.id });
        if (!kept) {
          // Another process holds it: it connects for the user's `verify` there.
          this.o.logger.info("login held by another process: its verify goes there", {
            login: login.id,
          });
          await this.o.network.disconnect?.(login.id);
        }
        return { login, ...code };
      } catch (err) {
        // A code sent a moment ago (429) is still good; otherwise nothing was sent: a new
        // login is forgotten, an earlier one (with its chats) goes back to how it was.
        const codeSent = err instanceof RemoteError && err.code === "rate-limited";
        if (previous === undefined && !codeSent) await this.discard(login);
        else if (previous === "logged-out") await logins.setState(login.id, "logged-out");
        throw asUserFacing(err, "Could not start the login");
      }
    });
  }

  /** `verify <code>`: completes the enlistment; the login is connected from now on. */
  verify(mxid: string, code: string): Promise<Login> {
    return this.lock.run(mxid, async () => {
      const login = await this.o.repos.logins.getByMxid(mxid);
      if (!login || login.state === "logged-out") {
        throw new UserFacingError(
          "no-login",
          "You have no login in progress. Send `login <phone>` first; a code then goes to that phone.",
        );
      }
      if (isEnlisted(login)) {
        throw new UserFacingError(
          "already-logged-in",
          `You are already logged in as ${login.phone}.`,
        );
      }
      try {
        // Connected unless it is already, or on its way: there may be no connection here yet
        // (the bridge restarted, or another process asked for the code), or an ended one
        // (logged out, when another process sent the new code).
        await this.o.network.connect(credentialsOf(login));
        const { remoteId } = await this.o.network.completeLogin(login.id, code);
        await this.o.repos.logins.setJid(login.id, remoteId);
        await this.o.repos.logins.setState(login.id, "connected");
        this.o.logger.info("login verified", { login: login.id });
        return (await this.o.repos.logins.get(login.id))!;
      } catch (err) {
        throw asUserFacing(err, "Could not verify the code");
      }
    });
  }

  /**
   * `logout`: de-enlists, forgets keys and state, then `closePortals` (tell and leave the
   * rooms), then deletes the login with its portals, message map and outbox.
   */
  logout(
    mxid: string,
    closePortals: (login: Login) => Promise<number>,
  ): Promise<{ login: Login; portals: number }> {
    return this.lock.run(mxid, async () => {
      const login = await this.o.repos.logins.getByMxid(mxid);
      if (!login) throw new UserFacingError("no-login", "You are not logged in.");
      this.ending.add(login.id);
      try {
        try {
          await this.o.network.logout(login.id, credentialsOf(login));
        } catch (err) {
          throw asUserFacing(
            err,
            `Could not reach ${this.networkName} to remove your number, so nothing was changed. Try again later`,
          );
        }
        const portals = await closePortals(login);
        await this.o.repos.logins.delete(login.id);
        this.o.logger.info("logged out", { login: login.id });
        return { login, portals };
      } finally {
        this.ending.delete(login.id);
      }
    });
  }

  /**
   * At start-up: connects every enlisted login (the network keeps retrying those it cannot
   * reach). Resolves with their number once the network expects them all (work for one
   * that is not connected yet waits for it); `connected` resolves when every one was tried.
   */
  async connectAll(): Promise<{ logins: number; connected: Promise<void> }> {
    const logins = (await this.o.repos.logins.listActive()).filter(isEnlisted);
    this.o.network.expect?.(logins.map(credentialsOf));
    let next = 0;
    const connectNext = async (): Promise<void> => {
      while (next < logins.length && !this.stopping) {
        const login = logins[next++]!;
        try {
          await this.o.network.connect(credentialsOf(login));
        } catch (err) {
          // Reported through onConnectionState as well; the user is told there.
          this.o.logger.warn("could not connect a login", {
            login: login.id,
            error: errorText(err),
          });
        }
      }
    };
    const connected = Promise.all(
      Array.from({ length: Math.min(CONNECT_WINDOW, logins.length) }, () => connectNext()),
    ).then(() => undefined);
    this.connecting = connected;
    return { logins: logins.length, connected };
  }

  /**
   * Several processes: this one now holds these logins. The enlisted ones are connected in
   * the background, a window at a time; work for one of them waits for its turn meanwhile.
   */
  async take(loginIds: readonly string[]): Promise<void> {
    if (this.stopping) return;
    const logins = (await this.o.repos.logins.getMany(loginIds)).filter(isEnlisted);
    const credentials = logins.map(credentialsOf);
    for (const id of loginIds) this.given.delete(id);
    this.o.network.expect?.(credentials);
    for (const login of credentials) {
      this.window.run(async () => {
        // Given away while it waited for its turn: another process connects it now.
        if (this.stopping || this.given.has(login.loginId)) return;
        try {
          await this.o.network.connect(login);
        } catch (err) {
          this.o.logger.warn("could not connect a login", {
            login: login.loginId,
            error: errorText(err),
          });
        }
      });
    }
  }

  /** Several processes: another process takes the login; its connection closes now. */
  async give(loginId: string): Promise<void> {
    this.given.add(loginId);
    await this.o.network.disconnect?.(loginId);
  }

  /** Connects no more logins (at stop); resolves when those being connected are done. */
  async stopConnecting(): Promise<void> {
    this.stopping = true;
    await this.connecting;
    await this.window.idle();
  }

  /**
   * Records a connection state change; returns what to tell the user, if anything
   * (only the ends that need them to act, not every reconnect).
   */
  async onConnectionState(
    loginId: string,
    state: RemoteConnectionState,
    detail: string | undefined,
  ): Promise<{ mxid: string; notice: string } | undefined> {
    if (this.ending.has(loginId)) return undefined;
    const login = await this.o.repos.logins.get(loginId);
    if (!login || !isEnlisted(login)) return undefined;
    const why = detail ? ` (${detail})` : "";
    switch (state) {
      case "connected":
        if (login.state !== "connected") await this.o.repos.logins.setState(loginId, "connected");
        return undefined;
      case "connecting":
      case "reconnecting":
      case "stopped":
        if (login.state !== "disconnected")
          await this.o.repos.logins.setState(loginId, "disconnected");
        return undefined;
      case "logged-out":
        await this.o.repos.logins.setState(loginId, "logged-out");
        return {
          mxid: login.mxid,
          notice: `${this.networkName} ended your session${why}. Send \`login ${login.phone}\` to log in again.`,
        };
      case "replaced":
        await this.o.repos.logins.setState(loginId, "disconnected");
        return {
          mxid: login.mxid,
          notice:
            `Another connection logged in to your ${this.networkName} account, so this bridge ` +
            `disconnected. It connects again when it restarts.`,
        };
      case "failed":
        await this.o.repos.logins.setState(loginId, "disconnected");
        return {
          mxid: login.mxid,
          notice: `The bridge cannot log you in to ${this.networkName}${why}. Please tell the bridge's administrator.`,
        };
    }
  }

  private async create(mxid: string, phone: string): Promise<Login> {
    try {
      return await this.o.repos.logins.create({ mxid, phone });
    } catch (err) {
      if (err instanceof RepositoryError && err.code === "duplicate") {
        throw new UserFacingError(
          "phone-taken",
          `${phone} is already linked to another Matrix account on this bridge.`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  /**
   * Another Matrix user's claim on `phone`: a verified one (or a fresh unverified one) wins;
   * a stale unverified claim is dropped, so nobody can squat a number by never verifying.
   */
  private async releaseNumberFrom(mxid: string, phone: string): Promise<void> {
    const holder = await this.o.repos.logins.getByPhone(phone);
    if (!holder || holder.mxid === mxid) return;
    // A login the network ended still holds its chats: only its user may give the number up.
    const stale =
      holder.state === "enlisting" && this.now() - holder.updatedAt > STALE_ENLISTMENT_MS;
    if (!stale) {
      throw new UserFacingError(
        "phone-taken",
        holder.state === "enlisting"
          ? `Someone else is verifying ${phone} on this bridge right now. Try again in a quarter of an hour.`
          : `${phone} is already linked to another Matrix account on this bridge. It has to log out first.`,
      );
    }
    this.o.logger.info("dropping a stale claim on a number", { login: holder.id });
    await this.discard(holder);
  }

  /** Forgets a login that is not (or no longer) enlisted. */
  private async discard(login: Login): Promise<void> {
    this.ending.add(login.id);
    try {
      await this.o.network.logout(login.id, credentialsOf(login));
    } catch (err) {
      this.o.logger.warn("could not clean up an unfinished login", {
        login: login.id,
        error: errorText(err),
      });
    } finally {
      this.ending.delete(login.id);
    }
    await this.o.repos.logins.delete(login.id);
  }
}
