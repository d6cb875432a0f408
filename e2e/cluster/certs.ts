// The cluster's PKI, made with the openssl CLI: a CA, the apiserver's serving certificate, the
// service-account signing key pair, and client certificates whose subject is the identity the
// apiserver authenticates (CN = user, O = groups). P-256 keys keep generation in milliseconds.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PLAN } from './plan.ts';
import { run } from './run.ts';

export interface ClientCert {
  cert: string;
  key: string;
}

export interface ClusterPki {
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  /** Service-account token signing key (private) and verification key (public). */
  saKey: string;
  saPub: string;
  /** Creates a client certificate for user `cn` in `groups`, signed by the CA. */
  client(name: string, cn: string, groups?: readonly string[]): Promise<ClientCert>;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function signed(dir: string, name: string, subject: string, extensions: string, ca: { cert: string; key: string }): Promise<ClientCert> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  await run(['openssl', 'req', '-new', ...EC, '-keyout', key, '-out', csr, '-subj', subject]);
  await run(['openssl', 'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-days', '2', '-sha256', '-extfile', ext, '-out', cert]);
  return { cert, key };
}

/** Writes the PKI into `dir` (a private temp folder removed at teardown by the caller). */
export async function createPki(dir: string): Promise<ClusterPki> {
  const caCert = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  await run(['openssl', 'req', '-x509', '-new', ...EC, '-keyout', caKey, '-out', caCert, '-days', '2',
    '-subj', '/CN=kpb-e2e-ca', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const ca = { cert: caCert, key: caKey };

  // Clients reach the apiserver by its fabric address, by the `kubernetes` Service ClusterIP
  // (what in-cluster clients and the agent's own service translation use), and through the
  // loopback port-forward of the test process.
  const sans = [
    `IP:${PLAN.controlPlane.ipv4}`, `IP:${PLAN.controlPlane.ipv6}`,
    `IP:${PLAN.kubernetesServiceV4}`, `IP:${PLAN.kubernetesServiceV6}`, 'IP:127.0.0.1', 'IP:::1',
    'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc',
    'DNS:kubernetes.default.svc.cluster.local', 'DNS:localhost',
  ];
  const server = await signed(dir, 'apiserver', '/CN=kube-apiserver',
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n` +
    `extendedKeyUsage=serverAuth\nsubjectAltName=${sans.join(',')}\n`, ca);

  const saKey = join(dir, 'sa.key');
  const saPub = join(dir, 'sa.pub');
  await run(['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', saKey]);
  await run(['openssl', 'pkey', '-in', saKey, '-pubout', '-out', saPub]);

  return {
    caCert, caKey, apiserverCert: server.cert, apiserverKey: server.key, saKey, saPub,
    client: (name, cn, groups = []) => {
      const subject = `/CN=${cn}${groups.map((g) => `/O=${g}`).join('')}`;
      return signed(dir, name, subject,
        'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n', ca);
    },
  };
}
