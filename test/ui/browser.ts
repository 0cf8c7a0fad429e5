/**
 * The system Chromium (Debian `chromium`, installed by scripts/setup-ci.sh)
 * driven by playwright-core — no browser download. A fresh profile per
 * launch; `close()` ends the browser process and removes the profile.
 */
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tempDir } from '../helpers/tmp.js'

export const CHROMIUM = process.env.PL_CHROMIUM ?? '/usr/bin/chromium'

export async function launchChromium (): Promise<{ context: BrowserContext, close: () => Promise<void> }> {
  const profile = await tempDir('pl-ui-profile-')
  let context: BrowserContext
  try {
    // playwright adds --headless and passes the profile as --user-data-dir itself
    context = await chromium.launchPersistentContext(profile.dir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
      timeout: 120_000
    })
  } catch (err) {
    await profile.cleanup()
    throw err
  }
  return {
    context,
    close: async () => {
      await context.close().catch(() => {})
      await profile.cleanup()
    }
  }
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/** axe-core's serious and critical violations on the page as it is now. */
export async function axeViolations (page: Page): Promise<Array<{ id: string, impact: string, help: string, nodes: string[] }>> {
  // evaluated over the DevTools protocol: the console's CSP (no inline scripts) does not apply
  await page.evaluate(axeSource)
  const result = await page.evaluate(async () => await (globalThis as any).axe.run((globalThis as any).document, { resultTypes: ['violations'] }))
  return (result.violations as any[])
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n: any) => String(n.target)) }))
}

/** Tabs through the page from the top; every visible control must take the focus at some point. */
export async function unreachableByKeyboard (page: Page, maxTabs = 200): Promise<string[]> {
  // these functions run in the page (this file is compiled without DOM types)
  const controls: string[] = await page.evaluate(() => {
    const doc = (globalThis as any).document
    const els = [...doc.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex="0"]')] as any[]
    return els.filter(e => e.checkVisibility() === true && e.disabled !== true).map((e, i) => { e.dataset.kbd = String(i); return String(i) })
  })
  const reached = new Set<string>()
  await page.evaluate(() => { (globalThis as any).document.activeElement?.blur(); (globalThis as any).scrollTo(0, 0) })
  for (let i = 0; i < maxTabs && reached.size < controls.length; i++) {
    await page.keyboard.press('Tab')
    const k = await page.evaluate(() => (globalThis as any).document.activeElement?.dataset?.kbd as string | undefined)
    if (k != null) reached.add(k)
  }
  return await page.evaluate((missing) => missing.map(k => {
    const e = (globalThis as any).document.querySelector(`[data-kbd="${k}"]`)
    return `${String(e?.tagName ?? '?')} ${String(e?.textContent ?? '').trim().slice(0, 30)}`
  }), controls.filter(k => !reached.has(k)))
}
