// The dashboard at / of the HTTP listener, in a real browser (Debian's chromium, driven by
// playwright-core): first against the stand-in server (dashboard-stub.ts, no Kafka), for what the
// page does with what /api/status says; then against a real mirror copying records, for the
// mirrored topic, throughput above 0 and a canary secret that must appear nowhere in the page.
// Screenshots go to test-output/dashboard/.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Producer } from '@platformatic/kafka'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startCli } from '../helpers/cli.ts'
import { createTestTopic, testClusters, waitForRecords } from '../helpers/clusters.ts'
import { kcatConsume } from '../helpers/kcat.ts'
import { assertMirrored, makeRecords, writeTutorialConfigs, type TestRecord } from '../helpers/records.ts'
import { startDashboardStub } from './dashboard-stub.ts'
import { freePort } from './helpers.ts'

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const outputDir = fileURLToPath(new URL('../../test-output/dashboard/', import.meta.url))
mkdirSync(outputDir, { recursive: true })

let browser: Browser

before(async () => {
  assert.ok(existsSync(chromiumPath), `${chromiumPath} is missing: apt-get install -y chromium (.ci/run does), or set CHROMIUM_PATH`)
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
})

after(async () => {
  await browser?.close()
})

/** A page that records what it loads and what goes wrong in it. */
async function openPage (url: string, viewport = { width: 1280, height: 800 }): Promise<{ page: Page, problems: string[], requests: string[] }> {
  const page = await browser.newPage({ viewport })
  const problems: string[] = []
  const requests: string[] = []
  page.on('pageerror', error => problems.push(`page error: ${error.message}`))
  page.on('console', message => { if (message.type() === 'error') problems.push(`console: ${message.text()}`) })
  page.on('request', request => requests.push(request.url()))
  await page.goto(url)
  return { page, problems, requests }
}

/** The number the page shows for records/s, as it has it (data-value), or NaN before the first answer. */
async function recordsPerSecond (page: Page): Promise<number> {
  return Number(await page.locator('#records-per-second').getAttribute('data-value') ?? NaN)
}

test('the dashboard shows what /api/status says, live; values are text, never HTML; a mirror that stops answering is shown', async () => {
  // Given a stand-in whose status has a topic name and an error message that look like HTML
  const stub = await startDashboardStub({
    edit: status => {
      status.partitions.push({ topic: 'evil<b>bold</b>', partition: 0, records: 5, bytes: 50, sourceEndOffset: '9', committedOffset: '5', position: '5', lagRecords: 4, lagSeconds: null })
      status.errors.push({ at: status.now, level: 'error', message: '<img src=x onerror="window.injected=1">send refused' })
      return status
    }
  })
  try {
    // When the page is open for a few polls
    const { page, problems, requests } = await openPage(stub.url)
    await page.locator('#partitions tbody tr').nth(1).waitFor()
    await page.waitForTimeout(2500)
    // Then it shows the state, throughput, every topic and partition, the errors and the config
    assert.equal(await page.locator('#state').textContent(), 'running')
    assert.ok(await recordsPerSecond(page) > 0)
    const topics = await page.locator('#topics tbody td.name').allTextContents()
    assert.deepEqual([...topics].sort(), ['clickstream', 'evil<b>bold</b>', 'orders', 'payments.eu-west-1'])
    assert.equal(await page.locator('#partitions tbody tr').count(), 24)
    // highest lag first
    const lags = (await page.locator('#partitions tbody tr td:nth-child(3)').allTextContents()).map(t => Number(t.replace(/,/g, '')))
    assert.deepEqual(lags, [...lags].sort((a, b) => b - a))
    assert.ok(await page.locator('#chart canvas').count() > 0, 'the throughput chart is drawn')
    assert.equal(await page.locator('#config td.hidden').count(), 2)
    // And what the mirror sent is shown as text: no element or script came from it
    assert.equal(await page.locator('#errors td.message', { hasText: '<img src=x onerror="window.injected=1">send refused' }).count(), 1)
    assert.equal(await page.locator('img, b:text("bold")').count(), 0)
    assert.equal(await page.evaluate('window.injected'), undefined)
    // And it works offline: everything it loaded came from the mirror's listener
    assert.deepEqual(requests.filter(r => !r.startsWith(stub.url)), [])
    assert.ok(requests.includes(`${stub.url}assets/uPlot.iife.min.js`))
    assert.deepEqual(problems, [])
    await page.screenshot({ path: `${outputDir}stub-1280x800.png` })

    // When the mirror stops answering, the page says so
    stub.down = true
    await page.locator('#offline').waitFor({ state: 'visible', timeout: 5000 })
    assert.equal(await page.locator('#state').textContent(), 'unreachable')
    assert.equal(await page.locator('body').getAttribute('data-stale'), 'true', 'what is left on the page is marked stale')
    await page.close()

    // And on a narrow screen nothing is wider than the screen
    const narrow = await openPage(stub.url, { width: 390, height: 844 })
    stub.down = false
    await narrow.page.locator('#partitions tbody tr').nth(1).waitFor()
    assert.ok(Number(await narrow.page.evaluate('document.documentElement.scrollWidth')) <= 390)
    await narrow.page.screenshot({ path: `${outputDir}stub-390-wide.png`, fullPage: true })
    await narrow.page.close()
  } finally {
    await stub.close()
  }
})

test('a real mirror: the dashboard shows the mirrored topic and throughput above 0 while records flow; a canary secret is nowhere in the page', async () => {
  const { source, target } = await testClusters()
  const canary = `canary-${Math.random().toString(36).slice(2)}-Pw`
  // Given a mirror with --http.listener whose properties carry secrets
  const topic = await createTestTopic(source, { prefix: 'dashboard', partitions: 3, replicas: 1 })
  const files = writeTutorialConfigs(source, target, {
    consumer: { 'sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required username="mirror" password="${canary}";` },
    producer: { 'ssl.key.password': `${canary}-key` }
  })
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/`
  const mirror = startCli(['--consumer.config', files.consumer, '--producer.config', files.producer, '--include', topic, '--http.listener', `127.0.0.1:${port}`, '--status.interval.ms', '0', '--offset.commit.interval.ms', '1000'])
  // And records written to the source all along, in small batches
  const written: TestRecord[] = []
  let writing = true
  const producer = new Producer({ clientId: 'dashboard-test', bootstrapBrokers: source.split(','), idempotent: true })
  const writer = (async () => {
    let batch = 0
    while (writing) {
      const records = makeRecords(200, { keys: 20, valueBytes: 200 }).map(r => ({ ...r, key: Buffer.from(`${batch}-${r.key!.toString()}`) }))
      await producer.send({ acks: -1, messages: records.map(r => ({ topic, key: r.key!, value: r.value!, headers: new Map(r.headers.map(([k, v]) => [Buffer.from(k), Buffer.from(v, 'latin1')])), timestamp: r.timestamp })) })
      written.push(...records)
      batch++
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  })()
  try {
    await waitForStatus(url, s => s.state === 'running', 60_000)
    // When the dashboard is open while records flow
    const { page, problems, requests } = await openPage(url)
    await page.locator('#topics td.name', { hasText: topic }).waitFor({ timeout: 30_000 })
    await page.waitForFunction('Number(document.querySelector("#records-per-second").dataset.value) > 0', undefined, { timeout: 30_000 })
    // A few more seconds of history for the chart in the screenshot
    await page.waitForTimeout(4000)
    // Then it shows the topic, its partitions and throughput above 0
    assert.ok(await recordsPerSecond(page) > 0)
    assert.equal(await page.locator('#partitions td.name', { hasText: topic }).count(), 3)
    assert.equal(await page.locator('#state').textContent(), 'running')
    assert.ok(Number(await page.locator('#records').getAttribute('data-value')) > 0)
    // And the canary is nowhere: not in the HTML, the text, or the JSON the page read
    const html = await page.content()
    const text = await page.locator('body').innerText()
    assert.ok(!html.includes(canary) && !text.includes(canary), 'the canary secret is in the page')
    assert.ok(text.includes('[hidden]'), 'the configuration shows hidden secrets as [hidden]')
    const status = await (await fetch(`${url}api/status`)).text()
    assert.ok(!status.includes(canary), 'the canary secret is in /api/status')
    assert.deepEqual(requests.filter(r => !r.startsWith(url)), [])
    assert.deepEqual(problems, [])
    await page.screenshot({ path: `${outputDir}mirror-1280x800.png` })
    await page.close()
  } finally {
    writing = false
    await writer.catch(() => {})
    await producer.close()
  }
  // And the records the page counted reached the target, each once
  await waitForRecords(target, topic, written.length)
  mirror.interrupt()
  const run = await mirror.finished
  assert.equal(run.code, 0, run.stderr)
  assertMirrored(written, await kcatConsume(target, topic))
})

async function waitForStatus (url: string, ready: (status: { state?: string }) => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}api/status`)
      last = await response.text()
      if (response.ok && ready(JSON.parse(last) as { state?: string })) return
    } catch (error) {
      last = String(error)
    }
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  throw new Error(`the mirror's /api/status did not become ready: ${last.slice(0, 500)}`)
}
