/** The bridge bot's display name and avatar, set at start-up from appservice.bot. */

/** What this needs of matrix-appservice-bridge's Intent (the bot's). */
export interface ProfileIntent {
  readonly userId: string;
  getProfileInfo(
    userId: string,
    info: null,
    useCache: false,
  ): Promise<{ displayname?: string; avatar_url?: string }>;
  setDisplayName(name: string): Promise<unknown>;
  setAvatarUrl(url: string): Promise<unknown>;
  ensureRegistered(forceRegister: boolean): Promise<unknown>;
}

export interface BotProfile {
  displayName: string;
  /** mxc:// URI, or null to leave the avatar alone. */
  avatar: string | null;
}

/**
 * Sets the bot's profile where it differs, so a restart changes nothing (a profile change is
 * announced in every room the bot is in). Throws what the homeserver answered.
 */
export async function ensureBotProfile(intent: ProfileIntent, bot: BotProfile): Promise<void> {
  const current = await currentProfile(intent);
  if (current.displayname !== bot.displayName) await intent.setDisplayName(bot.displayName);
  if (bot.avatar !== null && current.avatar_url !== bot.avatar) {
    await intent.setAvatarUrl(bot.avatar);
  }
}

/**
 * Synapse answers 404 "Profile was not found" for a user with neither name nor avatar: the
 * bot on a homeserver it never ran on. That profile is empty, not an error; registering the
 * bot (the homeserver answers M_USER_IN_USE where it exists) makes sure there is an account
 * to set it on.
 */
async function currentProfile(
  intent: ProfileIntent,
): Promise<{ displayname?: string; avatar_url?: string }> {
  try {
    return await intent.getProfileInfo(intent.userId, null, false);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await intent.ensureRegistered(true);
    return {};
  }
}

/** matrix-bot-sdk's MatrixError for a 404 M_NOT_FOUND. */
function isNotFound(err: unknown): boolean {
  return (
    typeof err === "object" &&
    err !== null &&
    "errcode" in err &&
    (err as { errcode: unknown }).errcode === "M_NOT_FOUND"
  );
}
