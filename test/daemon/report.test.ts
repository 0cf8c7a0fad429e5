import { test } from 'node:test'
import assert from 'node:assert/strict'
import { renderDemoReport, whyLine } from '../../src/swarm/report.js'

const peers = ['P0', 'P1', 'P2']

test('the demo report says who won each step, with scores, declines and failovers', () => {
  const ex: any = {
    step: 'summarize',
    bids: [
      { provider: 'P2', price: 1, score: 0.2, rank: 2, status: 'backup' },
      { provider: 'P1', price: 3, score: 1, rank: 1, status: 'won' }
    ],
    answers: [{ provider: 'P1', kind: 'bid' }, { provider: 'P2', kind: 'bid' }, { provider: 'PX', kind: 'decline', reason: 'policy', message: 'does not honour cid:pol' }],
    attempts: [{ provider: 'P1', outcome: 'failed', error: { name: 'RemoteStepFailedError', message: 'gone' } }, { provider: 'P2', outcome: 'ok' }]
  }
  const line = whyLine(ex, peers)
  assert.match(line, /^node 1 won score 1 \(price 3\), node 2 backup score 0.20 \(price 1\)/)
  assert.match(line, /PX decline policy: does not honour cid:pol/)
  assert.match(line, /re-awarded after node 1 failed \(RemoteStepFailedError\)/)
  assert.match(whyLine(undefined, peers), /ran on the requester/)
})

test('the demo report shows the result, fan-outs, step errors and a chain that did not verify', () => {
  const text = renderDemoReport({
    runId: 'r1',
    view: {
      run: { state: 'failed', error: { name: 'NoBidsError', message: 'nobody' } },
      steps: [
        { key: 'map', state: 'failed' },
        { key: 'map[0]', state: 'failed', executor: 'P1', error: { name: 'NoBidsError', message: 'nobody' } }
      ]
    },
    explanations: { steps: [] },
    chainError: 'ReceiptNotFoundError: no receipts for run r1',
    peers
  })
  assert.match(text, /run r1: failed — NoBidsError: nobody/)
  assert.match(text, /map {2,}failed {5,}fan-out over 1 item/)
  assert.match(text, /NoBidsError: nobody/)
  assert.match(text, /receipt chain did NOT verify: ReceiptNotFoundError/)
})
