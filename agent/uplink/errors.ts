/** A publish was attempted while the transport had no connection; the outbox keeps the data. */
export class NotConnectedError extends Error {
  override readonly name = 'NotConnectedError';
  constructor(message = 'uplink not connected') {
    super(message);
  }
}

/** The connection ended before the broker acknowledged a publish (it may or may not have arrived). */
export class ConnectionLostError extends Error {
  override readonly name = 'ConnectionLostError';
}

/** A payload larger than the profile accepts on that topic. */
export class PayloadTooLargeError extends Error {
  override readonly name = 'PayloadTooLargeError';
}

/** A configuration problem that retrying cannot fix (unreadable or mismatched key, bad URL). */
export class UplinkConfigError extends Error {
  override readonly name = 'UplinkConfigError';
}

/** `keys generate` refuses to replace keys a device may already be registered with. */
export class KeyFileExistsError extends Error {
  override readonly name = 'KeyFileExistsError';
  constructor(readonly path: string) {
    super(`refusing to overwrite existing key file ${path}`);
  }
}
