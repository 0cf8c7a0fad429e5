// A directed graph drawn as SVG, laid out by dagre (top to bottom). Used for
// a run's steps and for a run's receipt chain.
import dagre from '@dagrejs/dagre'
import { useMemo } from 'preact/hooks'
import { html } from './html.js'

export interface GraphNode { id: string, label: string, sub?: string, state?: string, title?: string }
export interface GraphEdge { from: string, to: string }

const W = 190
const H = 46

function layout (nodes: GraphNode[], edges: GraphEdge[]): { pos: Map<string, { x: number, y: number }>, width: number, height: number, paths: Array<{ key: string, d: string }> } {
  const g = new dagre.graphlib.Graph()
  g.setGraph({ rankdir: 'TB', nodesep: 24, ranksep: 36, marginx: 8, marginy: 8 })
  g.setDefaultEdgeLabel(() => ({}))
  for (const n of nodes) g.setNode(n.id, { width: W, height: H })
  for (const e of edges) if (g.hasNode(e.from) && g.hasNode(e.to)) g.setEdge(e.from, e.to)
  dagre.layout(g)
  const pos = new Map<string, { x: number, y: number }>()
  for (const id of g.nodes()) {
    const n = g.node(id)
    pos.set(id, { x: n.x, y: n.y })
  }
  const paths = g.edges().map(e => {
    const pts = g.edge(e).points as Array<{ x: number, y: number }>
    return { key: `${e.v}->${e.w}`, d: pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ') }
  })
  const gr = g.graph()
  return { pos, width: (gr.width ?? 0) + 16, height: (gr.height ?? 0) + 16, paths }
}

export function Graph ({ nodes, edges, label, onSelect }: { nodes: GraphNode[], edges: GraphEdge[], label: string, onSelect?: (id: string) => void }): any {
  // layout only when the structure changes: live state updates just recolour
  const shape = nodes.map(n => n.id).join('|') + '#' + edges.map(e => `${e.from}>${e.to}`).join('|')
  const l = useMemo(() => layout(nodes, edges), [shape])
  return html`<svg class="graph" role="img" aria-label=${label} width=${l.width} height=${l.height} viewBox=${`0 0 ${l.width} ${l.height}`}>
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead" /></marker></defs>
    ${l.paths.map(p => html`<path key=${p.key} d=${p.d} class="edge" marker-end="url(#arrow)" />`)}
    ${nodes.map(n => {
      const p = l.pos.get(n.id)
      if (p == null) return null
      return html`<g key=${n.id} class=${`node state-${n.state ?? 'pending'}`} data-node=${n.id} data-state=${n.state ?? 'pending'} transform=${`translate(${p.x - W / 2},${p.y - H / 2})`} onClick=${() => onSelect?.(n.id)}>
        <title>${n.title ?? n.id}</title>
        <rect width=${W} height=${H} rx="6" />
        <text x="10" y="19" class="label">${n.label}</text>
        <text x="10" y="36" class="sub">${n.sub ?? n.state ?? ''}</text>
      </g>`
    })}
  </svg>`
}
