#!/usr/bin/env node
/**
 * `npm run soak -- --nodes N --minutes M [--rate runs/s] [--seed S] [--json]`
 * (see docs/SOAK.md). Exit 0 when no run was lost and every invariant holds.
 */
import { soakCommand } from './cli.js'

await soakCommand('soak').parseAsync(process.argv)
