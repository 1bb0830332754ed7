// Reads JKS key and trust stores, Java's own format and Kafka's default ssl.*.type, into what
// node:tls takes. jks-js parses the file and undoes keytool's key protection (Sun's SHA-1 stream
// cipher, which no standard library has); the certificates come out as PEM through node:crypto.
// JCEKS (keytool -storetype JCEKS) is another format: readStore names it with the conversion command.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'
import { decrypt, parseJks } from 'jks-js'
import type { Pkcs12Contents } from './pkcs12.ts'

export class JksError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'JksError'
  }
}

/** A JKS entry as jks-js gives it: a trusted certificate, or a private key with its chain. */
interface Entry {
  alias: string
  cert?: { value: Buffer }
  chain?: Array<{ value: Buffer }>
  protectedPrivateKey?: Buffer
}

/** A DER certificate as PEM; a JKS file holds X.509 certificates only in practice. */
function pem (der: Buffer, alias: string): string {
  try {
    return new X509Certificate(der).toString()
  } catch (error) {
    throw new JksError(`the entry "${alias}" holds a certificate that cannot be read (${(error as Error).message})`)
  }
}

/**
 * Reads a JKS file. `password` checks the store's integrity (without one the check is skipped, as
 * Java's KeyStore.load does); `keyPassword` (Kafka's ssl.key.password) opens the private keys,
 * defaulting to `password` as keytool makes them. Certificates come in store order, each key's
 * chain leaf first, so pkcs12KeyAndChain serves both formats.
 * Throws JksError with a message fit for a user: not JKS, wrong password, no key password.
 */
export function readJks (data: Buffer, password: string | undefined, keyPassword = password): Pkcs12Contents {
  let entries: Entry[]
  try {
    entries = parseJks(data, password ?? '') as Entry[]
  } catch (error) {
    const message = (error as Error).message
    if (/Password verification failed/.test(message)) throw new JksError('the password is wrong (the store\'s integrity check fails with it)')
    throw new JksError(`not a JKS file (${message.replace(/\.$/, '')})`)
  }
  const out: Pkcs12Contents = { certificates: [], keys: [] }
  for (const entry of entries) {
    if (entry.protectedPrivateKey !== undefined) {
      if (keyPassword === undefined) throw new JksError(`the private key "${entry.alias}" is encrypted and no password was given`)
      let key: KeyObject
      try {
        key = createPrivateKey(decrypt(entry.protectedPrivateKey, keyPassword))
      } catch (error) {
        const message = (error as Error).message
        throw new JksError(/Cannot recover key/.test(message)
          ? `the password is wrong (the private key "${entry.alias}" cannot be decrypted with it)`
          : `the private key "${entry.alias}" cannot be read (${message.replace(/\.$/, '')})`)
      }
      out.keys.push(key)
      for (const cert of entry.chain ?? []) out.certificates.push(pem(cert.value, entry.alias))
    } else if (entry.cert !== undefined) {
      out.certificates.push(pem(entry.cert.value, entry.alias))
    }
  }
  return out
}
