// Reads PKCS12 key and trust stores (RFC 7292), as keytool and openssl write them, into PEM for
// node:tls. Node's own `pfx` option wants a private key in every store, so it cannot read a
// truststore, which holds only CA certificates; this reads both kinds, with node-forge.
// forge reads PBES2 (PBKDF2 with HMAC-SHA1/224/256/384/512, AES-128/192/256-CBC or 3DES-CBC: keytool
// since JDK 8u301/11.0.12/17 and openssl 3) and PKCS12's own 3DES and RC2-40 (older keytool and
// openssl -legacy).
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'
import forge from 'node-forge'

export class Pkcs12Error extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'Pkcs12Error'
  }
}

export interface Pkcs12Contents {
  /** Every certificate in the store, PEM, in store order. */
  certificates: string[]
  /** Every private key, as KeyObjects (decrypted). */
  keys: KeyObject[]
}

type GetCipher = (oid: string, params: forge.asn1.Asn1, password: string | undefined) => unknown
/** The parts of forge that its PKCS12 reader calls through, which @types/node-forge does not declare. */
const forgePki = forge.pki as unknown as {
  decryptPrivateKeyInfo: (obj: forge.asn1.Asn1, password: string | undefined) => forge.asn1.Asn1 | null
  pbe: { getCipher: GetCipher }
}

/** What forge decrypted last, so that garbage from a wrong password is told apart from a broken file. */
type Decrypted = 'store' | 'private key' | undefined

/**
 * Runs `read` (forge's PKCS12 reader, which takes one password for everything) so that:
 * - private keys are decrypted with `keyPassword` (Kafka's ssl.key.password), the rest with the store's;
 * - PBES2 derives its key from the password's UTF-8 bytes as RFC 8018, keytool and openssl do: forge's
 *   PBKDF2 wants a byte string, while its PKCS12 key derivation wants the characters (UTF-16).
 * forge looks both functions up at each call; `read` is synchronous, and the originals come back after it.
 * An error from `read` comes back with what was decrypted last.
 */
function withPasswords<T> (keyPassword: string | undefined, read: () => T): T {
  const { decryptPrivateKeyInfo, pbe } = forgePki
  const getCipher = pbe.getCipher
  let decrypting: Decrypted = 'store'
  let decrypted: Decrypted
  forgePki.decryptPrivateKeyInfo = (obj) => {
    decrypting = 'private key'
    try {
      return decryptPrivateKeyInfo(obj, keyPassword)
    } finally {
      decrypting = 'store'
    }
  }
  pbe.getCipher = (oid, params, password) => {
    decrypted = decrypting
    return getCipher(oid, params, oid === forge.pki.oids.pkcs5PBES2 ? forge.util.encodeUtf8(password ?? '') : password)
  }
  try {
    return read()
  } catch (error) {
    throw Object.assign(error instanceof Error ? error : new Error(String(error)), { decrypted })
  } finally {
    forgePki.decryptPrivateKeyInfo = decryptPrivateKeyInfo
    pbe.getCipher = getCipher
  }
}

/** A forge error (whose messages are fixed texts, never a password) as a message fit for a user. */
function explain (error: unknown, password: string | undefined, keyPassword: string | undefined): Pkcs12Error {
  if (error instanceof Pkcs12Error) return error
  const message = error instanceof Error ? error.message : String(error)
  const oid = (error as { oid?: unknown }).oid
  const name = typeof oid === 'string' && /^\d+(\.\d+)+$/.test(oid) ? forge.pki.oids[oid] ?? oid : 'an unknown algorithm'
  if (/MAC could not be verified/.test(message)) return new Pkcs12Error('the password is wrong (the store\'s integrity check fails with it)')
  const cannotDecrypt = (what: 'store' | 'private key', given: string | undefined): Pkcs12Error =>
    new Pkcs12Error(given === undefined ? `the ${what} is encrypted and no password was given` : `the password is wrong (the ${what} cannot be decrypted with it)`)
  if (/Failed to decrypt PKCS#12 SafeContents/.test(message)) return cannotDecrypt('store', password)
  if (/Unable to decrypt PKCS#8 ShroudedKeyBag/.test(message)) return cannotDecrypt('private key', keyPassword)
  if (/password integrity mode/.test(message)) return new Pkcs12Error('the store is signed with a public key, which kafka-mirror does not read; write it again with a password')
  if (/Unsupported PKCS#12 SafeBag type|Unsupported certificate type|Unsupported PKCS#12 contentType/.test(message)) {
    return new Pkcs12Error(`the store holds an entry of type ${name}, which kafka-mirror does not read`)
  }
  if (/Unsupported|PBE data block/.test(message)) {
    return new Pkcs12Error(`the store is protected with ${name}, which kafka-mirror does not read: write the store again with a modern algorithm (keytool -importkeystore -deststoretype PKCS12 on JDK 11.0.12 or later, or openssl pkcs12 -export without -legacy), or give it as PEM`)
  }
  // RC2 barely checks its padding, so a wrong password there shows as garbage after decrypting. (With
  // a password, the integrity check has already vouched for the file.)
  const decrypted = (error as { decrypted?: Decrypted }).decrypted
  if (decrypted !== undefined) return cannotDecrypt(decrypted, decrypted === 'store' ? password : keyPassword)
  return new Pkcs12Error(`not a PKCS12 file (${message.replace(/\.$/, '')})`)
}

/** DER bytes (a forge binary string) as node:crypto objects. */
const der = (node: forge.asn1.Asn1): Buffer => Buffer.from(forge.asn1.toDer(node).getBytes(), 'binary')

function contentsOf (pfx: forge.pkcs12.Pkcs12Pfx): Pkcs12Contents {
  const out: Pkcs12Contents = { certificates: [], keys: [] }
  for (const safe of pfx.safeContents) {
    for (const bag of safe.safeBags) {
      // forge parses RSA keys and certificates itself; others (EC) it leaves as ASN.1.
      if (bag.type === forge.pki.oids.certBag) {
        const node = bag.cert != null ? forge.pki.certificateToAsn1(bag.cert) : bag.asn1
        out.certificates.push(new X509Certificate(der(node)).toString())
      } else if (bag.type === forge.pki.oids.keyBag || bag.type === forge.pki.oids.pkcs8ShroudedKeyBag) {
        const node = bag.key != null ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key)) : bag.asn1
        out.keys.push(createPrivateKey({ key: der(node), format: 'der', type: 'pkcs8' }))
      }
    }
  }
  return out
}

/**
 * Reads a PKCS12 file. `password` protects the store (and its encrypted certificates);
 * `keyPassword` the private keys, defaulting to `password` as in keytool-made stores.
 * Throws Pkcs12Error with a message fit for a user: not PKCS12, wrong password, unsupported cipher.
 */
export function readPkcs12 (data: Buffer, password: string | undefined, keyPassword = password): Pkcs12Contents {
  let pfx: forge.asn1.Asn1
  try {
    pfx = forge.asn1.fromDer(data.toString('binary'), true)
  } catch (error) {
    throw explain(error, password, keyPassword)
  }
  const dropMac = (): void => { if (Array.isArray(pfx.value)) pfx.value = pfx.value.slice(0, 2) }
  // Without a password, Kafka's Java client (KeyStore.load with none) skips the integrity check, and
  // so does this; forge checks it whenever the store has one, so it goes.
  if (password === undefined) dropMac()
  const read = (candidate: string | undefined): Pkcs12Contents =>
    contentsOf(withPasswords(keyPassword ?? candidate, () => forge.pkcs12.pkcs12FromAsn1(pfx, true, candidate)))
  const readLeniently = (candidate: string | undefined): Pkcs12Contents => {
    try {
      return read(candidate)
    } catch (error) {
      if (!(error instanceof Error && /unsupported MAC algorithm/.test(error.message))) throw error
      // A MAC forge does not compute (PBMAC1 of openssl 3.4) is left unchecked; decryption still
      // catches a wrong password.
      dropMac()
      return read(candidate)
    }
  }
  // Without a password, keytool and openssl stores sometimes use the empty one.
  const candidates = password === undefined ? [undefined, ''] : [password]
  let firstError: unknown
  for (const candidate of candidates) {
    try {
      return readLeniently(candidate)
    } catch (error) {
      firstError ??= error
    }
  }
  throw explain(firstError, password, keyPassword)
}

/** The key and its certificate chain (leaf first) of a keystore: what node:tls wants as key and cert. */
export function pkcs12KeyAndChain (contents: Pkcs12Contents): { key: string, cert: string } | undefined {
  const key = contents.keys[0]
  if (key === undefined) return undefined
  const certs = contents.certificates.map(text => ({ text, x509: new X509Certificate(text) }))
  const leaf = certs.find(c => c.x509.checkPrivateKey(key))
  if (leaf === undefined) return undefined
  const rest = certs.filter(c => c !== leaf)
  return { key: key.export({ format: 'pem', type: 'pkcs8' }) as string, cert: [leaf, ...rest].map(c => c.text).join('') }
}
