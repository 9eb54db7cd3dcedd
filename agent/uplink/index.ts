// The uplink's public surface, for the composition root and the CLI.
export { createTransport, DEFAULT_TIMING, MqttTransport, type TransportDeps, type TransportTiming } from './transport.js';
export { Drainer, type DrainerOptions, type DrainerStats } from './drainer.js';
export { generateDeviceKeys, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, type DeviceKeys } from './keys.js';
export { ConnectionLostError, KeyFileExistsError, NotConnectedError, PayloadTooLargeError, UplinkConfigError } from './errors.js';
