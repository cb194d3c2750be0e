// The cluster's own certificate authority: created with the cluster (on the first node that
// opens a cluster port), it signs one certificate per node, and every node-to-node connection
// is mutual TLS that accepts only certificates it signed. A node's certificate names the node
// id as its common name; the transport binds each connection to that id, so a node cannot
// speak for another. Keys are RSA 2048 made by node:crypto; node-forge only builds and signs
// the X.509 structures (node:crypto cannot create certificates).
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

const YEAR_MS = 365 * 24 * 3600 * 1000;

export interface KeyAndCert {
  /** PEM (PKCS#8). */
  readonly key: string;
  /** PEM. */
  readonly cert: string;
}

function newKey(): { pem: string; forgeKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { pem, forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e) };
}

function baseCertificate(publicKey: forge.pki.rsa.PublicKey, years: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // Positive 16-byte serial (the top bit cleared).
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + years * YEAR_MS);
  return cert;
}

/** A new cluster CA, valid for 20 years (its key never leaves the members' data directories). */
export function createClusterCa(clusterId: string): KeyAndCert {
  const key = newKey();
  const cert = baseCertificate(key.publicKey, 20);
  const name = [{ name: 'commonName', value: `Ferry cluster ${clusterId}` }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key.forgeKey, forge.md.sha256.create());
  return { key: key.pem, cert: forge.pki.certificateToPem(cert) };
}

/** A node certificate signed by the CA: common name = node id, usable as TLS server and client. */
export function issueNodeCertificate(ca: KeyAndCert, nodeId: string): KeyAndCert {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const key = newKey();
  const cert = baseCertificate(key.publicKey, 10);
  cert.setSubject([{ name: 'commonName', value: nodeId }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { key: key.pem, cert: forge.pki.certificateToPem(cert) };
}

/** SHA-256 of a certificate's DER, hex: what a join token pins the CA by. */
export function certificateFingerprint(certPem: string): string {
  const der = forge.asn1.toDer(forge.pki.certificateToAsn1(forge.pki.certificateFromPem(certPem))).getBytes();
  return createHash('sha256').update(Buffer.from(der, 'binary')).digest('hex');
}
