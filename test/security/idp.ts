// A small OAuth identity provider on loopback, for OAUTHBEARER tests against a real broker: a token
// endpoint (client credentials grant, Basic authentication) that issues RS256 JWTs signed by a key
// made here, and the JWKS endpoint that Kafka's OAuthBearerValidatorCallbackHandler checks them with.
import { createSign, generateKeyPairSync, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'

export interface IdentityProvider {
  tokenUrl: string
  jwksUrl: string
  /** The iss claim of every token. */
  issuer: string
  /** The aud claim of every token. */
  audience: string
  /** Tokens issued so far, with the time each was issued. */
  issued: Array<{ subject: string, at: number, expiresAt: number, scope: string | undefined, token: string }>
  /** Token requests refused (wrong client id or secret). */
  refused: number
  /** Every token request's form body, for checks of what the client sends. */
  forms: string[]
  close: () => Promise<void>
}

const b64 = (value: object | Buffer): string => (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString('base64url')

async function body (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** Starts the provider. `clients` maps client ids to secrets; tokens live `lifetimeSeconds`. */
export async function startIdentityProvider (options: { clients: Record<string, string>, lifetimeSeconds: number, audience?: string }): Promise<IdentityProvider> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const kid = randomBytes(8).toString('hex')
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' }
  const server: Server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  const idp: IdentityProvider = {
    tokenUrl: `${base}/oauth2/token`,
    jwksUrl: `${base}/oauth2/jwks`,
    issuer: base,
    audience: options.audience ?? 'kafka',
    issued: [],
    refused: 0,
    forms: [],
    close: async () => await new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) })
  }
  server.on('request', (req, res) => {
    void (async () => {
      const send = (status: number, json: object): void => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json)) }
      if (req.method === 'GET' && req.url === '/oauth2/jwks') return send(200, { keys: [jwk] })
      if (req.method !== 'POST' || req.url !== '/oauth2/token') return send(404, { error: 'not_found' })
      const form = await body(req)
      idp.forms.push(form)
      const params = new URLSearchParams(form)
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1]
      const [id, secret] = basic !== undefined ? Buffer.from(basic, 'base64').toString('utf8').split(/:(.*)/s) : []
      if (params.get('grant_type') !== 'client_credentials') return send(400, { error: 'unsupported_grant_type' })
      if (id === undefined || options.clients[id] === undefined || options.clients[id] !== secret) {
        idp.refused++
        return send(401, { error: 'invalid_client', error_description: 'Client authentication failed' })
      }
      const now = Math.floor(Date.now() / 1000)
      const scope = params.get('scope') ?? undefined
      const claims = { iss: idp.issuer, sub: id, aud: idp.audience, iat: now, nbf: now, exp: now + options.lifetimeSeconds, jti: randomBytes(8).toString('hex'), ...(scope !== undefined ? { scope } : {}) }
      const signing = `${b64({ alg: 'RS256', typ: 'JWT', kid })}.${b64(claims)}`
      const signature = createSign('RSA-SHA256').update(signing).sign(privateKey)
      const token = `${signing}.${b64(signature)}`
      idp.issued.push({ subject: id, at: Date.now(), expiresAt: claims.exp * 1000, scope, token })
      send(200, { access_token: token, token_type: 'Bearer', expires_in: options.lifetimeSeconds })
    })()
  })
  return idp
}

/**
 * server.properties that make a SASL listener check OAUTHBEARER tokens with Kafka's own OIDC
 * validator against `idp`, and the JVM option Kafka 4 needs before it may fetch the JWKS.
 */
export function oauthBrokerConfig (idp: IdentityProvider, listeners: string[], reauthMs: number): { serverProperties: Record<string, string | number>, jvmOptions: string[] } {
  const perListener: Record<string, string> = {}
  for (const listener of listeners) {
    const prefix = `listener.name.${listener.toLowerCase()}.oauthbearer`
    perListener[`${prefix}.sasl.jaas.config`] = 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;'
    perListener[`${prefix}.sasl.server.callback.handler.class`] = 'org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler'
  }
  return {
    serverProperties: {
      ...perListener,
      'sasl.oauthbearer.jwks.endpoint.url': idp.jwksUrl,
      'sasl.oauthbearer.expected.audience': idp.audience,
      'sasl.oauthbearer.expected.issuer': idp.issuer,
      // Sessions end with the token (or sooner): the client must re-authenticate with a fresh one.
      'connections.max.reauth.ms': reauthMs
    },
    jvmOptions: [`-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=${idp.jwksUrl},${idp.tokenUrl}`]
  }
}
