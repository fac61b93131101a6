import { ProtocolAddress } from "@signalapp/libsignal-client";
import { SignalError } from "./errors.js";

/** A remote device: the user's address (e.g. "123@lid.gk") and its device id (1..127). */
export interface SignalAddress {
  name: string;
  deviceId: number;
}

export const MIN_DEVICE_ID = 1;
/**
 * A GKI/1 account has one device, id 1 (§7.1 `<device id="1"/>`): a peer's address is its
 * JID and device 1, as the client's REMOTE_DEVICE_ID says.
 */
export const ACCOUNT_DEVICE_ID = 1;
export const MAX_DEVICE_ID = 127; // libsignal refuses anything else
const MAX_NAME_LENGTH = 255; // the width of the name/owner columns

export function validateAddress(address: SignalAddress): void {
  const { name, deviceId } = address;
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new SignalError("invalid-address", `invalid address name "${String(name)}"`);
  }
  if (!Number.isInteger(deviceId) || deviceId < MIN_DEVICE_ID || deviceId > MAX_DEVICE_ID) {
    throw new SignalError(
      "invalid-address",
      `device id ${String(deviceId)} of ${name} is outside ${MIN_DEVICE_ID}..${MAX_DEVICE_ID}`,
    );
  }
}

/** The address of the account `jid` (its one device). */
export function accountAddress(jid: string): SignalAddress {
  const address = { name: jid, deviceId: ACCOUNT_DEVICE_ID };
  validateAddress(address);
  return address;
}

export function toProtocolAddress(address: SignalAddress): ProtocolAddress {
  validateAddress(address);
  return ProtocolAddress.new(address.name, address.deviceId);
}

export function fromProtocolAddress(address: ProtocolAddress): SignalAddress {
  return { name: address.name(), deviceId: address.deviceId() };
}

export function formatAddress(address: SignalAddress): string {
  return `${address.name}.${address.deviceId}`;
}
