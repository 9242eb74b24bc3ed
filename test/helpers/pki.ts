// Certificates for TLS tests, made with openssl: a CA, a server certificate for 127.0.0.1, and
// client certificates signed by the CA (and one self-signed).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyPair {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
  /** SHA-256 of the DER certificate, lower-case hex */
  fingerprint: string;
}

export interface Pki {
  dir: string;
  ca: KeyPair;
  server: KeyPair;
  client(cn: string, org: string): KeyPair;
  /** a client certificate signed by the CA with this openssl subject, e.g. /O=Org/CN=name */
  clientWithSubject(subject: string): KeyPair;
  selfSigned(cn: string): KeyPair;
}

const openssl = (args: string[], cwd: string): void => {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
};

function pair(dir: string, name: string): KeyPair {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  const out = execFileSync('openssl', ['x509', '-in', certPath, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' });
  const fingerprint = (out.split('=')[1] ?? '').trim().replace(/:/g, '').toLowerCase();
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8'), certPath, keyPath, fingerprint };
}

function signed(dir: string, name: string, subject: string, ext: string): KeyPair {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir);
  return pair(dir, name);
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-pki-'));
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Gozargah Test CA'], dir);
  const ca = pair(dir, 'ca');
  const server = signed(dir, 'server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  let n = 0;
  return {
    dir,
    ca,
    server,
    client: (cn, org) => signed(dir, `client${++n}`, `/CN=${cn}/O=${org}`, 'extendedKeyUsage=clientAuth\n'),
    clientWithSubject: (subject) => signed(dir, `client${++n}`, subject, 'extendedKeyUsage=clientAuth\n'),
    selfSigned: (cn) => {
      const name = `self${++n}`;
      openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`], dir);
      return pair(dir, name);
    },
  };
}
