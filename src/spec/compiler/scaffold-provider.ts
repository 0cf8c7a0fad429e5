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
import { goCapabilityStems, goParam } from './emit/go-provider.js'
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
  return `# Attaches this provider to a pl-node gateway and serves ${cap.info.name} ${commentText(cap.info.version)}, connecting again when the node restarts, until stopped.
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
    try:
        p.run()
    except KeyboardInterrupt:
        p.close()


if __name__ == "__main__":
    main()
`
}

/** The Go module path of a scaffolded provider project (`summarize-provider`). */
export function goModulePath (cap: CapabilityEntry): string {
  return `${cap.info.name.toLowerCase().replace(/[^a-z0-9._-]/g, '-')}-provider`
}

function goStem (ctx: CompileContext, cap: CapabilityEntry): string {
  return goCapabilityStems(ctx)[ctx.capabilities.indexOf(cap)]
}

function goHandler (ctx: CompileContext, cap: CapabilityEntry, pkg: string): string {
  const stem = goStem(ctx, cap)
  const inT = goParam(ctx, cap.input.type, pkg)
  const outT = goParam(ctx, cap.output.type, pkg)
  return `// ${cap.info.name} ${commentText(cap.info.version)} — the handler of an attached provider, written by \`pl spec scaffold --provider --lang go\` from spec ${cap.specCid}.
// Write handle${stem}(); the router validates its input before and its output after (a violation never leaves the process).

package main

import (
	"errors"

	"${goModulePath(cap)}/${pkg}"
)

// handle${stem} serves one call; ctx is done when the node cancels it (the award's wall limit passed).
func handle${stem}(ctx *${pkg}.CallContext, input ${inT}) (${outT}, error) {
	return nil, errors.New("handle${stem}() is not written yet: implement it in handler.go")
}

// bid is asked when a call for proposals arrives: ${pkg}.Offer() (or a BidAnswer
// with Offer: &${pkg}.BidOffer{Price, EtaMs, Attrs}) or ${pkg}.Decline(reason, message).
func bid(cfp map[string]any, ctx ${pkg}.BidContext) ${pkg}.BidAnswer {
	return ${pkg}.DefaultBid${stem}(cfp, ctx)
}
`
}

function goMain (ctx: CompileContext, cap: CapabilityEntry, pkg: string): string {
  const stem = goStem(ctx, cap)
  return `// Attaches this provider to a pl-node gateway and serves ${cap.info.name} ${commentText(cap.info.version)}, connecting again when the node restarts, until interrupted.
//
//	go build -o provider . && PL_GATEWAY=http://127.0.0.1:8080 PL_API_KEY=<key with the publish scope> ./provider
//
// \`./provider verify run.json\` checks the receipts of a run export (pl receipts export) with the generated checker.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"${goModulePath(cap)}/${pkg}"
)

// verify checks every receipt of a run export with the generated checker (countersignature required).
func verify(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	doc, err := ${pkg}.DecodeDagJSON(data)
	if err != nil {
		return err
	}
	export, _ := doc.(map[string]any)
	receipts, _ := export["receipts"].([]any)
	if len(receipts) == 0 {
		return fmt.Errorf("%s holds no receipts", file)
	}
	for i, signed := range receipts {
		if _, err := ${pkg}.CheckReceipt(signed, ${pkg}.CheckReceiptOptions{RequireRequester: true}); err != nil {
			return fmt.Errorf("receipt %d: %w", i, err)
		}
	}
	fmt.Printf("ok: %d receipts verify with the generated Go checker\\n", len(receipts))
	return nil
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "verify" {
		if err := verify(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	gateway := os.Getenv("PL_GATEWAY")
	if gateway == "" {
		gateway = "http://127.0.0.1:8080"
	}
	key := os.Getenv("PL_API_KEY")
	if key == "" {
		fmt.Fprintln(os.Stderr, "set PL_API_KEY to an API key with the publish scope (pl api-key create --name provider --scopes publish)")
		os.Exit(2)
	}
	opts := ${pkg}.ProviderOptions{OnRegistered: func(r map[string]any) {
		line, _ := json.Marshal(map[string]any{"registered": r})
		fmt.Println(string(line))
	}}
	if text := os.Getenv("PL_PRICE"); text != "" {
		price, err := strconv.ParseFloat(text, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "PL_PRICE is not a number: "+text)
			os.Exit(2)
		}
		opts.Price = &price
	}
	router := ${pkg}.NewRouter(${pkg}.${stem}Route(${pkg}.${stem}HandlerFunc(handle${stem}), bid))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := ${pkg}.NewProvider(gateway, key, router, opts).Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`
}

function goReadme (ctx: CompileContext, cap: CapabilityEntry, pkg: string): string {
  const stem = goStem(ctx, cap)
  return `# ${cap.info.name} ${cap.info.version} — attached provider (Go)

Written by \`pl spec scaffold --provider --lang go\` from spec \`${cap.specCid}\` (spec.json).
Standard library only (Go ≥ 1.19); the generated package \`${pkg}/\` holds the types,
validators, the provider SDK (\`${stem}Handler\`, \`${stem}Route\`, \`DefaultBid${stem}\`,
\`Router\`, \`Provider\`, an RFC 6455 client) and the receipt checker (\`CheckReceipt\`).

1. Implement \`handle${stem}\` in \`handler.go\` (and, if you like, the bid policy \`bid\`).
2. Create an API key with the publish scope on the node: \`pl api-key create --name provider --scopes publish\`.
3. Build and run: \`go build -o provider . && PL_GATEWAY=http://127.0.0.1:8080 PL_API_KEY=<key> ./provider\` (optional \`PL_PRICE\`).

The node publishes ${cap.info.name} ${cap.info.version} while this process is attached, forwards the steps it wins
and signs their receipts (\`via: {kind: 'attached'}\`). Verify an export (\`pl receipts export <run> -o run.json\`)
with \`pl receipts verify run.json\` or with the generated Go checker: \`./provider verify run.json\`
(\`${pkg}.CheckReceipt\`).
`
}

function readme (cap: CapabilityEntry, lang: 'py'): string {
  return `# ${cap.info.name} ${cap.info.version} — attached provider

Written by \`pl spec scaffold --provider --lang ${lang}\` from spec \`${cap.specCid}\` (spec.json).

1. Implement the handler in \`handler.py\` (and, if you like, the bid policy).
2. Create an API key with the publish scope on the node: \`pl api-key create --name provider --scopes publish\`.
3. Run: \`PL_GATEWAY=http://127.0.0.1:8080 PL_API_KEY=<key> python3 main.py\` (optional \`PL_PRICE\`).

The node publishes ${cap.info.name} ${cap.info.version} while this process is attached, forwards the steps it wins
and signs their receipts (\`via: {kind: 'attached'}\`). Verify them with the generated checker:
\`python3 -c "import json,sys; from ${'${pkg}'}.receipt import check_receipt; ..."\` or \`pl receipts verify\`.
`
}

/** The files of the provider project (relative path → text), beside the generated package. */
export function scaffoldProvider (ctx: CompileContext, cap: CapabilityEntry, lang: 'py' | 'go', pkg: string): Map<string, string> {
  if (lang === 'go') {
    return new Map([
      ['go.mod', `module ${goModulePath(cap)}\n\ngo 1.19\n`],
      ['handler.go', goHandler(ctx, cap, pkg)],
      ['main.go', goMain(ctx, cap, pkg)],
      ['README.md', goReadme(ctx, cap, pkg)]
    ])
  }
  return new Map([
    ['handler.py', pyHandler(ctx, cap, pkg)],
    ['main.py', pyMain(cap, pkg)],
    ['README.md', readme(cap, lang).replace('${pkg}', pkg)]
  ])
}
