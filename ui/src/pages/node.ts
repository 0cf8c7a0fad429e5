import { useEffect, useRef, useState } from 'preact/hooks'
import uPlot from 'uplot'
import { html, ms, short, ErrorNote } from '../html.js'
import { usePoll } from '../poll.js'

const KEEP = 120

function total (info: any, name: string): number {
  return (info.metrics.find((m: any) => m.name === name)?.values ?? []).reduce((s: number, v: any) => s + Number(v.value), 0)
}

/** A tiny line chart of one series over the samples taken while the page is open. */
function Spark ({ label, times, values }: { label: string, times: number[], values: number[] }): any {
  const el = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | undefined>(undefined)
  useEffect(() => {
    if (el.current == null) return
    plot.current = new uPlot({ width: 260, height: 90, legend: { show: false }, scales: { x: { time: true } }, axes: [{ show: false }, { size: 40 }], series: [{}, { label, stroke: '#2b6cb0', width: 1.5 }] }, [times, values], el.current)
    return () => { plot.current?.destroy() }
  }, [])
  useEffect(() => { plot.current?.setData([times, values]) }, [times.length, values[values.length - 1]])
  return html`<figure class="spark"><figcaption>${label}: <strong>${values[values.length - 1] ?? 0}</strong></figcaption><div ref=${el} aria-hidden="true" /></figure>`
}

export function NodePage (): any {
  const { data: info, error } = usePoll<any>('/node', 3000)
  const [series, setSeries] = useState<{ t: number[], peers: number[], rpc: number[], gossip: number[], rejected: number[], steps: number[] }>({ t: [], peers: [], rpc: [], gossip: [], rejected: [], steps: [] })
  useEffect(() => {
    if (info == null) return
    setSeries(s => {
      const push = (a: number[], v: number): number[] => [...a, v].slice(-KEEP)
      return {
        t: push(s.t, Date.now() / 1000),
        peers: push(s.peers, info.connections.length),
        rpc: push(s.rpc, total(info, 'pl_rpc_total')),
        gossip: push(s.gossip, total(info, 'pl_gossip_messages_total')),
        rejected: push(s.rejected, total(info, 'pl_rejected_total')),
        steps: push(s.steps, total(info, 'pl_exec_steps_total'))
      }
    })
  }, [info])
  if (info == null) return html`<h1>Node</h1><${ErrorNote} error=${error} /><p>Loading…</p>`
  const rejected = Object.entries(info.rejected as Record<string, number>)
  return html`<h1>Node</h1>
    <${ErrorNote} error=${error} />
    <dl class="facts">
      <dt>Peer id</dt><dd><code data-testid="peer-id">${info.peerId}</code></dd>
      <dt>Uptime</dt><dd>${ms(info.uptimeMs)}</dd>
      <dt>Addresses</dt><dd>${info.addrs.map((a: string) => html`<code class="block">${a}</code>`)}</dd>
      <dt>DHT routing table</dt><dd>${info.dht.routingTable} peers${info.dht.mode != null ? ` (${info.dht.mode} mode)` : ''}</dd>
    </dl>
    <section aria-labelledby="charts-h"><h2 id="charts-h">Live</h2>
      <div class="charts">
        <${Spark} label="connections" times=${series.t} values=${series.peers} />
        <${Spark} label="RPC calls" times=${series.t} values=${series.rpc} />
        <${Spark} label="gossip messages" times=${series.t} values=${series.gossip} />
        <${Spark} label="rejected inputs" times=${series.t} values=${series.rejected} />
        <${Spark} label="step attempts" times=${series.t} values=${series.steps} />
      </div>
    </section>
    <section aria-labelledby="conn-h"><h2 id="conn-h">Connections (${info.connections.length})</h2>
      <table><thead><tr><th scope="col">Peer</th><th scope="col">Address</th><th scope="col">Direction</th><th scope="col">Latency</th><th scope="col">Streams</th></tr></thead>
      <tbody>${info.connections.map((c: any) => html`<tr><td><code title=${c.peer}>${short(c.peer)}</code></td><td><code>${c.addr}</code></td><td>${c.direction}</td><td>${c.latencyMs != null ? `${c.latencyMs} ms` : '–'}</td><td>${c.streams}</td></tr>`)}</tbody></table>
    </section>
    <section aria-labelledby="gossip-h"><h2 id="gossip-h">Gossip topics</h2>
      <table><thead><tr><th scope="col">Topic</th><th scope="col">Mesh peers</th><th scope="col">Subscribers</th></tr></thead>
      <tbody>${info.gossip.topics.map((t: any) => html`<tr><td><code>${t.topic}</code></td><td>${t.meshPeers}</td><td>${t.subscribers}</td></tr>`)}</tbody></table>
    </section>
    <section aria-labelledby="rej-h"><h2 id="rej-h">Rejected inputs</h2>
      ${rejected.length === 0 ? html`<p>None so far.</p>` : html`<table><thead><tr><th scope="col">Area / error</th><th scope="col">Count</th></tr></thead><tbody>${rejected.map(([k, v]) => html`<tr><td><code>${k}</code></td><td>${v}</td></tr>`)}</tbody></table>`}
    </section>`
}
