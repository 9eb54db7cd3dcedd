// Test PKI made with the openssl CLI at test time (nothing checked in, nothing that can
// expire in the repository): a CA, a server certificate for 127.0.0.1 and localhost, and
// client certificates for mTLS.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './run.js';

export interface CertFiles {
  cert: string;
  key: string;
}

export interface TestCa {
  dir: string;
  caCert: string;
  caKey: string;
  /** Server certificate with SAN IP:127.0.0.1 and DNS:localhost. */
  server: CertFiles;
  /** Client certificate (CN = the name given), for mTLS. */
  client: CertFiles;
  /** Another client certificate from this CA. */
  issueClient(cn: string): Promise<CertFiles>;
  remove(): Promise<void>;
}

async function openssl(args: string[]): Promise<void> {
  await run('openssl', args, { timeoutMs: 30_000 });
}

async function newKey(path: string): Promise<void> {
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

/** Makes a fresh CA in a temp dir; `name` keeps two CAs of one test apart. */
export async function createTestCa(name = 'fleetprobe-test-ca', clientCn = 'test-device'): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'fp-pki-'));
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.crt');
  await newKey(caKey);
  await openssl([
    'req', '-x509', '-new', '-key', caKey, '-out', caCert, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  let serial = 1;
  const issue = async (base: string, cn: string, ext: string): Promise<CertFiles> => {
    const key = join(dir, `${base}.key`);
    const csr = join(dir, `${base}.csr`);
    const cert = join(dir, `${base}.crt`);
    const extFile = join(dir, `${base}.ext`);
    await newKey(key);
    await writeFile(extFile, ext);
    await openssl(['req', '-new', '-key', key, '-out', csr, '-subj', `/CN=${cn}`]);
    await openssl(['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', String(serial++), '-days', '2', '-out', cert, '-extfile', extFile]);
    return { cert, key };
  };
  const server = await issue('server', '127.0.0.1', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const clientExt = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';
  const client = await issue('client', clientCn, clientExt);
  let clients = 0;
  return {
    dir,
    caCert,
    caKey,
    server,
    client,
    issueClient: (cn) => issue(`client${++clients}`, cn, clientExt),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
