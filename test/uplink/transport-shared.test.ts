// The shared Transport suite against every profile: plain MQTT, TLS with our CA and a
// password, mTLS (all on Mosquitto), and the iot-core profile on the JWT bridge.
import { describe } from 'node:test';
import type { TestCa } from '../helpers/tls-fixtures.js';
import { iotCoreHarness, mosquittoHarness, usePki } from './harness.js';
import { transportSuite } from './transport-suite.js';

let pki: TestCa;
usePki((p) => (pki = p));

describe('mqtt profile on Mosquitto (plain)', () => transportSuite(() => mosquittoHarness('plain')));
describe('mqtt profile on Mosquitto (TLS, CA file, password, topic prefix)', () => transportSuite(() => mosquittoHarness('tls', pki)));
describe('mqtt profile on Mosquitto (mTLS)', () => transportSuite(() => mosquittoHarness('mtls', pki)));
describe('iot-core profile on the JWT bridge (aedes)', () => transportSuite(() => iotCoreHarness(pki)));
