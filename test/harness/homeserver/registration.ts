/** Account creation: normal users (UIA with m.login.dummy) and application service users. */
import { MatrixHttpError } from "./errors.js";
import type { Homeserver } from "./homeserver.js";
import { assertValidNewLocalpart } from "./ids.js";
import type { AppService } from "./appservices.js";

export function assertUsernameAvailable(
  hs: Homeserver,
  localpart: string,
  registrar?: AppService,
): string {
  assertValidNewLocalpart(localpart, hs.serverName);
  const userId = `@${localpart}:${hs.serverName}`;
  if (registrar) {
    if (!registrar.isInterestedInUser(userId)) {
      throw new MatrixHttpError(
        400,
        "M_EXCLUSIVE",
        "Invalid user localpart for this application service.",
      );
    }
  } else if (hs.appServices.exclusiveOwnerOfUser(userId)) {
    throw new MatrixHttpError(
      400,
      "M_EXCLUSIVE",
      "This user ID is reserved by an application service.",
    );
  }
  if (hs.users.exists(userId))
    throw new MatrixHttpError(400, "M_USER_IN_USE", "User ID already taken.");
  return userId;
}

let generated = 0;

/** Synapse picks numeric localparts when none is asked for. */
export function generateLocalpart(hs: Homeserver): string {
  for (;;) {
    const candidate = String(Date.now() % 1_000_000_000) + String(generated++);
    if (!hs.users.exists(`@${candidate}:${hs.serverName}`)) return candidate;
  }
}
