/**
 * `pl spec scaffold --provider`: a runnable provider project for a
 * capability spec — the generated provider SDK (handlers, router, attach
 * client), a handler stub and bid policy to write, a `main` that reads the
 * gateway URL and API key from the environment and attaches, and a README.
 *
 * @example
 * await scaffoldProvider(ctx, cap, 'py', 'summarize_spec') // Map of relative path → text
 */
import type { CapabilityEntry, CompileContext } from './context.js'
import { pyType } from './emit/py-models.js'
import { commentText, snake } from './emit/literals.js'

function pyHandler (ctx: CompileContext, cap: CapabilityEntry, pkg: string): string {
  const fn = snake(cap.info.name)
  const inT = pyType(cap.input.type, false, 'models.')
  const outT = pyType(cap.output.type, false, 'models.')
  return `# ${cap.info.name} ${commentText(cap.info.version)} — the handler of an attached provider, written by \`pl spec scaffold --provider\` from spec ${cap.specCid}.
# Write ${fn}(); the router validates its input before and its output after (a violation never leaves the process).
from __future__ import annotations

from typing import Any, Dict

from ${pkg} import models
from ${pkg}.provider import BidContext, CallContext, default_bid_${fn}


def ${fn}(input: ${inT}, ctx: CallContext) -> ${outT}:
    raise NotImplementedError("${fn}() is not written yet: implement it in handler.py")


def bid(cfp: Dict[str, Any], ctx: BidContext) -> Dict[str, Any]:
    """Asked when a call for proposals arrives: {"offer": {"price"?, "eta_ms"?, "attrs"?}} or {"decline": {"reason", "message"}}."""
    return default_bid_${fn}(cfp, ctx)
`
}

function pyMain (cap: CapabilityEntry, pkg: string): string {
  const fn = snake(cap.info.name)
  return `# Attaches this provider to a pl-node gateway and serves ${cap.info.name} ${commentText(cap.info.version)} until the node closes the connection.
#   PL_GATEWAY=http://127.0.0.1:8080 PL_API_KEY=<key with the publish scope> python3 main.py
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import handler  # noqa: E402
from ${pkg}.provider import provider  # noqa: E402


def main() -> None:
    options = {}
    if os.environ.get("PL_PRICE"):
        options["price"] = float(os.environ["PL_PRICE"])
    p = provider(os.environ.get("PL_GATEWAY", "http://127.0.0.1:8080"), os.environ["PL_API_KEY"],
                 ${fn}=handler.${fn}, bid_${fn}=handler.bid,
                 on_registered=lambda r: print(json.dumps({"registered": r}), flush=True), **options)
    p.serve_forever()


if __name__ == "__main__":
    main()
`
}

function readme (cap: CapabilityEntry, lang: 'py'): string {
  return `# ${cap.info.name} ${cap.info.version} — attached provider

Written by \`pl spec scaffold --provider --lang ${lang}\` from spec \`${cap.specCid}\` (spec.json).

1. Implement the handler in \`handler.py\` (and, if you like, the bid policy).
2. Create an API key with the publish scope on the node: \`pl api-key create provider --scopes publish\`.
3. Run: \`PL_GATEWAY=http://127.0.0.1:8080 PL_API_KEY=<key> python3 main.py\` (optional \`PL_PRICE\`).

The node publishes ${cap.info.name} ${cap.info.version} while this process is attached, forwards the steps it wins
and signs their receipts (\`via: {kind: 'attached'}\`). Verify them with the generated checker:
\`python3 -c "import json,sys; from ${'${pkg}'}.receipt import check_receipt; ..."\` or \`pl receipts verify\`.
`
}

/** The files of the provider project (relative path → text), beside the generated package. */
export function scaffoldProvider (ctx: CompileContext, cap: CapabilityEntry, lang: 'py', pkg: string): Map<string, string> {
  return new Map([
    ['handler.py', pyHandler(ctx, cap, pkg)],
    ['main.py', pyMain(cap, pkg)],
    ['README.md', readme(cap, lang).replace('${pkg}', pkg)]
  ])
}
