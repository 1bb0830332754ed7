// The versions of Produce and InitProducerId the raw producer has, highest first; each target
// broker gets the highest it serves (versions.ts).
import { initProducerIdV0, initProducerIdV1, initProducerIdV2 } from '@platformatic/kafka'
import * as produceV3 from './produce-v3.ts'
import * as produceV7 from './produce-v7.ts'
import * as produceV9 from './produce-v9.ts'
import type { VersionedApi } from './versions.ts'

/** Each target broker gets the highest Produce version both sides have, answered in one shape. */
export const PRODUCE: VersionedApi<typeof produceV9.api> = {
  name: 'Produce',
  key: produceV9.PRODUCE_API_KEY,
  versions: [
    { version: produceV9.PRODUCE_VERSION, since: '2.8', api: produceV9.api },
    { version: produceV7.PRODUCE_VERSION, since: '2.1', api: produceV7.api },
    { version: produceV3.PRODUCE_VERSION, since: '0.11', api: produceV3.api }
  ]
}

type InitProducerIdApi = typeof initProducerIdV2.api

/** The library's own InitProducerId requests, which take the same arguments: a new id each time. */
export const INIT_PRODUCER_ID: VersionedApi<InitProducerIdApi> = {
  name: 'InitProducerId',
  key: 22,
  versions: [
    { version: 2, since: '2.4', api: initProducerIdV2.api },
    { version: 1, since: '2.0', api: initProducerIdV1.api as unknown as InitProducerIdApi },
    { version: 0, since: '0.11', api: initProducerIdV0.api as unknown as InitProducerIdApi }
  ]
}
