// The dashboard of kafka-mirror's HTTP listener. Plain browser JavaScript, no build step: the
// process serves this folder as it is. It polls GET /api/status every second and keeps the
// throughput history itself, so the mirror holds no per-viewer state. Every value from the mirror
// reaches the page through textContent, never as HTML: topic names and error messages are data.
'use strict'

;(() => {
  const POLL_MS = 1000
  const HISTORY_SECONDS = 600
  // Per-topic records/s is the change in copied records over this many seconds of samples.
  const TOPIC_RATE_SECONDS = 5
  const MAX_PARTITION_ROWS = 200
  // The same megabyte as the mirror's status line and summary.
  const MB = 1024 * 1024

  const $ = id => document.getElementById(id)
  const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
  const oneDecimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 })
  const twoDecimals = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })
  const NONE = '–'

  /** Throughput samples for the chart: unix seconds, records/s, MB/s (null draws a gap). */
  const history = { t: [], records: [], megabytes: [] }
  /** Copied records per topic at recent polls, for per-topic records/s. */
  const topicSamples = []
  let chart
  let lastStatus
  let lastAnswerAt

  function formatCount (n) {
    return n === null || n === undefined ? NONE : integer.format(n)
  }

  function formatRate (n) {
    if (n === null || n === undefined) return NONE
    return n > 0 && n < 10 ? oneDecimal.format(n) : integer.format(n)
  }

  function formatBytes (n) {
    if (n === null || n === undefined) return NONE
    const units = ['B', 'KB', 'MB', 'GB', 'TB']
    let i = 0
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
    return `${i === 0 ? integer.format(n) : oneDecimal.format(n)} ${units[i]}`
  }

  function formatSeconds (s) {
    if (s === null || s === undefined) return NONE
    if (s < 10) return `${oneDecimal.format(s)} s`
    if (s < 120) return `${integer.format(s)} s`
    if (s < 7200) return `${integer.format(s / 60)} min`
    if (s < 172800) return `${oneDecimal.format(s / 3600)} h`
    return `${oneDecimal.format(s / 86400)} d`
  }

  function formatOffset (offset) {
    if (offset === null || offset === undefined) return NONE
    try { return BigInt(offset).toLocaleString('en-US') } catch { return String(offset) }
  }

  function pad (n) {
    return String(n).padStart(2, '0')
  }

  /** Unix seconds as the local HH:MM:SS, for the chart's time axis. */
  function clock (seconds) {
    const d = new Date(seconds * 1000)
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  }

  function formatTime (iso) {
    const d = new Date(iso)
    if (Number.isNaN(d.getTime())) return String(iso)
    const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
    const today = new Date()
    if (d.toDateString() === today.toDateString()) return time
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`
  }

  function setText (id, text, value) {
    const el = $(id)
    el.textContent = text
    if (value !== undefined) el.dataset.value = value === null ? '' : String(value)
  }

  function cell (text, className) {
    const td = document.createElement('td')
    td.textContent = text
    if (className) td.className = className
    return td
  }

  function row (cells) {
    const tr = document.createElement('tr')
    tr.append(...cells)
    return tr
  }

  function emptyRow (columns, text) {
    const td = cell(text, 'empty')
    td.colSpan = columns
    return row([td])
  }

  function fillTable (id, rows, columns, emptyText) {
    $(id).tBodies[0].replaceChildren(...(rows.length > 0 ? rows : [emptyRow(columns, emptyText)]))
  }

  // ---- header and totals

  function showCluster (name, cluster) {
    setText(`${name}-bootstrap`, cluster?.bootstrap ?? NONE)
    const dot = $(`${name}-connected`)
    const connected = cluster?.connected
    dot.dataset.connected = connected === true ? 'yes' : connected === false ? 'no' : 'unknown'
    dot.title = connected === true ? 'connected' : connected === false ? 'not connected' : 'unknown'
    dot.setAttribute('aria-label', `${name} ${dot.title}`)
  }

  function showHeader (s) {
    setText('version', s.version ? `v${s.version}` : '')
    const state = $('state')
    state.textContent = s.state ?? 'unknown'
    state.dataset.state = s.state ?? 'unknown'
    showCluster('source', s.source)
    showCluster('target', s.target)
    setText('group', s.group ?? NONE)
    setText('partitioning', s.partitioning ?? NONE)
    const up = (Date.parse(s.now) - Date.parse(s.startedAt)) / 1000
    setText('uptime', Number.isFinite(up) ? formatSeconds(Math.max(0, up)) : NONE)
  }

  function showTotals (t) {
    t = t ?? {}
    setText('records-per-second', formatRate(t.recordsPerSecond), t.recordsPerSecond)
    const mbps = typeof t.bytesPerSecond === 'number' ? t.bytesPerSecond / MB : null
    setText('megabytes-per-second', mbps === null ? NONE : twoDecimals.format(mbps), mbps)
    setText('lag-records', formatCount(t.lagRecords), t.lagRecords)
    setText('lag-seconds', formatSeconds(t.lagSeconds), t.lagSeconds)
    setText('records', formatCount(t.records), t.records)
    setText('bytes', formatBytes(t.bytes), t.bytes)
    setText('error-counts', `${formatCount(t.sendErrors)} / ${formatCount(t.fetchErrors)}`)
    setText('rebalances-gaps', `${formatCount(t.rebalances)} · ${formatCount(t.gaps)}`)
    $('error-counts').closest('.tile').classList.toggle('bad', (t.sendErrors ?? 0) + (t.fetchErrors ?? 0) > 0)
    $('rebalances-gaps').closest('.tile').classList.toggle('bad', (t.gaps ?? 0) > 0)
    document.title = `kafka-mirror · ${lastStatus?.state ?? 'unknown'} · ${formatRate(t.recordsPerSecond)} records/s`
  }

  // ---- chart

  function chartSize () {
    const el = $('chart')
    return { width: Math.max(200, el.clientWidth), height: window.innerWidth < 700 ? 180 : 240 }
  }

  function makeChart () {
    if (typeof window.uPlot !== 'function') {
      $('chart').textContent = 'The chart library (/assets/uPlot.iife.min.js) did not load.'
      return undefined
    }
    const styles = getComputedStyle(document.documentElement)
    const color = name => styles.getPropertyValue(name).trim()
    const axis = { stroke: color('--muted'), grid: { stroke: color('--grid'), width: 1 }, ticks: { stroke: color('--grid'), width: 1 } }
    const options = {
      ...chartSize(),
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      // At least a minute wide, so that the first seconds do not get sub-second ticks.
      scales: { x: { time: true, range: (u, min, max) => [Math.min(min ?? max, max - 60), max] }, records: { range: (u, min, max) => [0, Math.max(10, (max ?? 0) * 1.1)] }, megabytes: { range: (u, min, max) => [0, Math.max(0.1, (max ?? 0) * 1.1)] } },
      series: [
        { label: 'time', value: (u, v) => v === null ? NONE : clock(v) },
        { label: 'records/s', scale: 'records', stroke: color('--records'), fill: color('--records-fill'), width: 2, points: { space: 40 }, value: (u, v) => formatRate(v), spanGaps: false },
        { label: 'MB/s', scale: 'megabytes', stroke: color('--megabytes'), width: 2, dash: [6, 4], points: { space: 40 }, value: (u, v) => v === null ? NONE : twoDecimals.format(v), spanGaps: false }
      ],
      axes: [
        { ...axis, values: (u, ticks) => ticks.map(clock) },
        { ...axis, scale: 'records', label: 'records/s', size: 64, values: (u, ticks) => ticks.map(v => compact(v)) },
        { ...axis, scale: 'megabytes', label: 'MB/s', side: 1, size: 56, grid: { show: false } }
      ]
    }
    const c = new window.uPlot(options, [history.t, history.records, history.megabytes], $('chart'))
    new ResizeObserver(() => c.setSize(chartSize())).observe($('chart'))
    return c
  }

  function compact (v) {
    if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`
    if (v >= 1e3) return `${+(v / 1e3).toFixed(1)}k`
    return String(+v.toFixed(1))
  }

  function addSample (t, records, megabytes) {
    history.t.push(t)
    history.records.push(records)
    history.megabytes.push(megabytes)
    while (history.t.length > 0 && history.t[0] < t - HISTORY_SECONDS) {
      history.t.shift(); history.records.shift(); history.megabytes.shift()
    }
    chart ??= makeChart()
    chart?.setData([history.t, history.records, history.megabytes])
    // The legend shows the newest values unless the pointer is on the chart.
    if (chart !== undefined && !(chart.cursor.left >= 0)) chart.setLegend({ idx: history.t.length - 1 })
  }

  // ---- topics and partitions

  function showTopics (s) {
    const partitions = Array.isArray(s.partitions) ? s.partitions : []
    const byTopic = new Map()
    for (const p of partitions) {
      const t = byTopic.get(p.topic) ?? { topic: p.topic, partitions: 0, records: 0, lagRecords: null, lagSeconds: null }
      t.partitions++
      t.records += p.records ?? 0
      if (p.lagRecords !== null && p.lagRecords !== undefined) t.lagRecords = (t.lagRecords ?? 0) + p.lagRecords
      if (p.lagSeconds !== null && p.lagSeconds !== undefined) t.lagSeconds = Math.max(t.lagSeconds ?? 0, p.lagSeconds)
      byTopic.set(p.topic, t)
    }
    // The mirror's clock: the records counts are the mirror's at that moment.
    const at = (Number.isFinite(Date.parse(s.now)) ? Date.parse(s.now) : Date.now()) / 1000
    topicSamples.push({ at, records: new Map([...byTopic].map(([k, v]) => [k, v.records])) })
    while (topicSamples.length > 2 && topicSamples[1].at <= at - TOPIC_RATE_SECONDS) topicSamples.shift()
    const oldest = topicSamples[0]
    const topics = [...byTopic.values()].sort((a, b) => (b.lagRecords ?? -1) - (a.lagRecords ?? -1) || a.topic.localeCompare(b.topic))
    const rows = topics.map(t => {
      const before = oldest.records.get(t.topic)
      const seconds = at - oldest.at
      const rate = before !== undefined && seconds > 0 ? Math.max(0, (t.records - before) / seconds) : null
      return row([cell(t.topic, 'name'), cell(formatCount(t.partitions), 'num opt'), cell(formatRate(rate), 'num'), cell(formatCount(t.records), 'num opt'), cell(formatCount(t.lagRecords), 'num'), cell(formatSeconds(t.lagSeconds), 'num')])
    })
    setText('topic-count', topics.length === 1 ? '1 topic' : `${topics.length} topics`)
    fillTable('topics', rows, 6, 'No topic assigned to this process yet.')
    showPartitions(partitions)
  }

  function showPartitions (partitions) {
    const filter = $('partition-filter').value.trim().toLowerCase()
    const shown = partitions
      .filter(p => filter === '' || String(p.topic).toLowerCase().includes(filter))
      .sort((a, b) => (b.lagRecords ?? -1) - (a.lagRecords ?? -1) || (b.lagSeconds ?? -1) - (a.lagSeconds ?? -1) || String(a.topic).localeCompare(String(b.topic)) || a.partition - b.partition)
    const rows = shown.slice(0, MAX_PARTITION_ROWS).map(p => row([
      cell(p.topic, 'name'), cell(String(p.partition), 'num'),
      cell(formatCount(p.lagRecords), 'num'), cell(formatSeconds(p.lagSeconds), 'num'),
      cell(formatOffset(p.committedOffset), 'num opt'), cell(formatOffset(p.sourceEndOffset), 'num opt'), cell(formatCount(p.records), 'num opt')
    ]))
    let count = `${partitions.length} partition${partitions.length === 1 ? '' : 's'}, highest lag first`
    if (shown.length > MAX_PARTITION_ROWS) count = `${MAX_PARTITION_ROWS} of ${shown.length} shown, highest lag first`
    setText('partition-count', count)
    fillTable('partitions', rows, 7, filter === '' ? 'No partition assigned to this process yet.' : 'No partition of a matching topic.')
  }

  // ---- errors and configuration

  function showErrors (errors) {
    errors = Array.isArray(errors) ? errors : []
    // Newest first: what an operator looks for.
    const rows = [...errors].reverse().map(e => {
      const time = cell(formatTime(e.at), 'time')
      time.title = String(e.at)
      const level = cell(String(e.level ?? ''), `level ${e.level === 'error' ? 'bad' : 'warn'}`)
      return row([time, level, cell(String(e.message ?? ''), 'message')])
    })
    setText('error-count', errors.length === 0 ? '' : `last ${errors.length}`)
    fillTable('errors', rows, 3, 'No errors or warnings.')
  }

  function showConfig (config) {
    const entries = config !== null && typeof config === 'object' ? Object.entries(config) : []
    // As given: the order of the command line and the properties files.
    const rows = entries.map(([key, value]) => row([cell(key, 'name'), cell(String(value), String(value) === '[hidden]' ? 'value hidden' : 'value')]))
    fillTable('config', rows, 2, 'No configuration reported.')
  }

  // ---- polling

  function show (s) {
    lastStatus = s
    showHeader(s)
    showTotals(s.totals)
    const rps = typeof s.totals?.recordsPerSecond === 'number' ? s.totals.recordsPerSecond : null
    const mbps = typeof s.totals?.bytesPerSecond === 'number' ? s.totals.bytesPerSecond / MB : null
    // The browser's clock, as for the gaps while the mirror does not answer: one clock keeps the
    // chart's times in order whatever the mirror's host says.
    addSample(Date.now() / 1000, rps, mbps)
    showTopics(s)
    showErrors(s.errors)
    showConfig(s.config)
  }

  function showUnreachable (reason) {
    const offline = $('offline')
    const since = lastAnswerAt === undefined ? 'yet' : `since ${formatTime(lastAnswerAt.toISOString())}`
    offline.textContent = `No answer from the mirror ${since} (${reason}); trying again every second.`
    offline.hidden = false
    const state = $('state')
    state.textContent = 'unreachable'
    state.dataset.state = 'unreachable'
    // What is still shown is the last answer: dimmed, and the clusters' state unknown.
    document.body.dataset.stale = 'true'
    showCluster('source', { bootstrap: lastStatus?.source?.bootstrap })
    showCluster('target', { bootstrap: lastStatus?.target?.bootstrap })
    // A gap in the chart rather than a line drawn through the silence.
    addSample(Date.now() / 1000, null, null)
  }

  async function poll () {
    try {
      const response = await fetch('/api/status', { cache: 'no-store', signal: AbortSignal.timeout(5000) })
      if (!response.ok) throw new Error(`HTTP ${response.status}`)
      const status = await response.json()
      lastAnswerAt = new Date()
      $('offline').hidden = true
      delete document.body.dataset.stale
      show(status)
    } catch (error) {
      showUnreachable(error instanceof Error ? error.message : String(error))
    } finally {
      setTimeout(poll, POLL_MS)
    }
  }

  $('partition-filter').addEventListener('input', () => { if (lastStatus) showPartitions(lastStatus.partitions ?? []) })
  poll()
})()
