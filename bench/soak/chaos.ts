#!/usr/bin/env node
/**
 * `npm run chaos -- --nodes N --minutes M [--seed S]`: the soak with a
 * seeded fault schedule and the invariant checks (see docs/SOAK.md).
 */
import { soakCommand } from './cli.js'

await soakCommand('chaos').parseAsync(process.argv)
