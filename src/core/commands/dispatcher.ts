/**
 * Decides whether a message is a bot command, checks the sender may use the bridge, runs
 * the command and answers every failure with what went wrong: a command never fails
 * silently, and never throws back into the Matrix intake (which would run it again).
 */
import { UserFacingError } from "../errors.js";
import { errorText } from "../logger.js";
import type { CoreLogger } from "../logger.js";
import { excerpt } from "../../util/unicode.js";
import {
  loginCommand,
  logoutCommand,
  pingCommand,
  statusCommand,
  verifyCommand,
} from "./account-commands.js";
import {
  acceptCommand,
  blockCommand,
  contactsCommand,
  startCommand,
  unblockCommand,
} from "./chat-commands.js";
import { groupCommand, groupsCommand } from "./group-commands.js";
import { helpCommand } from "./help.js";
import { limitsCommand } from "./media-commands.js";
import { parseCommand } from "./parser.js";
import type { ParsedCommand } from "./parser.js";
import type { Command, CommandContext, CommandEnv } from "./types.js";

/** Words that work without the prefix in a message-request room. */
const REQUEST_WORDS = new Set(["accept", "block"]);

export class CommandDispatcher {
  readonly commands: readonly Command[];
  private readonly byName: ReadonlyMap<string, Command>;

  constructor(
    private readonly env: CommandEnv,
    private readonly mayUse: (mxid: string) => boolean,
    private readonly logger: CoreLogger,
    /** Commands made by the core's parts (receipts, safety numbers), listed after these. */
    extra: readonly Command[] = [],
  ) {
    const help = helpCommand(
      () => this.commands,
      () => env.network.capabilities.networkName,
    );
    this.commands = [
      help,
      loginCommand,
      verifyCommand,
      logoutCommand,
      statusCommand,
      startCommand,
      contactsCommand,
      blockCommand,
      unblockCommand,
      acceptCommand,
      groupsCommand,
      groupCommand,
      pingCommand,
      limitsCommand(env.media),
      ...extra,
    ];
    this.byName = new Map(this.commands.map((c) => [c.name, c]));
  }

  /** Whether `body` is a command in this context (false: an ordinary message). */
  parse(body: string, ctx: Omit<CommandContext, "reply">): ParsedCommand | undefined {
    const prefix = this.env.commandPrefix;
    const parsed = parseCommand(body, { prefix, prefixRequired: !ctx.inManagementRoom });
    if (parsed) return parsed;
    if (ctx.portal?.state !== "request") return undefined;
    const bare = parseCommand(body, { prefix, prefixRequired: false });
    return bare && REQUEST_WORDS.has(bare.name) && bare.args.length === 0 ? bare : undefined;
  }

  /** Runs a parsed command; resolves once the user has their answer. */
  async run(command: ParsedCommand, ctx: CommandContext): Promise<void> {
    if (!this.mayUse(ctx.sender)) {
      await ctx.reply(
        "Sorry, you are not allowed to use this bridge. If you think you should be, " +
          "please ask the administrator of your homeserver.",
      );
      return;
    }
    const handler = this.byName.get(command.name === "" ? "help" : command.name);
    if (!handler) {
      const help = ctx.inManagementRoom ? "`help`" : `\`${this.env.commandPrefix} help\``;
      // Quoted as an excerpt: the "name" is whatever the user sent, up to the whole 64 KiB.
      await ctx.reply(
        `I do not know the command \`${excerpt(command.name)}\`. Send ${help} for the list.`,
      );
      return;
    }
    try {
      await handler.run(command, ctx, this.env);
    } catch (err) {
      if (err instanceof UserFacingError) {
        await ctx.reply(err.userMessage);
        return;
      }
      this.logger.error("command failed", { command: handler.name, error: errorText(err) });
      await ctx.reply(
        `Something went wrong running \`${handler.name}\`. Please try again; if it keeps ` +
          `failing, the bridge's log has the details for your administrator.`,
      );
    }
  }
}
