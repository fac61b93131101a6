/** Who is making a client-server request, after access token and application service checks. */
import type { AppService } from "./appservices.js";

export interface Requester {
  /** The user acted as (the masqueraded user for an application service). */
  userId: string;
  deviceId?: string;
  accessToken: string;
  appService?: AppService;
  /** Scope of client transaction ids: the device, or (application service, user). */
  txnScope: string;
}
