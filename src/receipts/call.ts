/**
 * The step call document: everything a step computes on, as data. A remote
 * requester stores it as a block and sends its CID (the receipt's `input`);
 * a local step's receipt names the CID of the same document, so local and
 * remote receipts mean the same thing.
 *
 *   { input_data, parameters, settings, global_settings, global_parameters }
 */
import type { Json } from '../core/encoding.js'
import type { Step, TaskDag } from '../workflow/index.js'

export interface StepCall {
  input_data: Record<string, unknown>
  parameters: Record<string, Json>
  settings: Record<string, Json>
  global_settings: Record<string, Json>
  global_parameters: Record<string, Json>
}

export function stepCallDocument (step: Step, inputData: Record<string, unknown>, dag: TaskDag): StepCall {
  return {
    input_data: inputData,
    parameters: step.parameters ?? {},
    settings: step.settings ?? {},
    global_settings: dag.globalSettings ?? {},
    global_parameters: dag.globalParameters ?? {}
  }
}

/** True when `value` has the shape of a StepCall (checked by providers before running it). */
export function isStepCall (value: unknown): value is StepCall {
  if (value == null || typeof value !== 'object' || Array.isArray(value)) return false
  const v = value as Record<string, unknown>
  const isMap = (x: unknown): boolean => x != null && typeof x === 'object' && !Array.isArray(x)
  return isMap(v.input_data) && isMap(v.parameters) && isMap(v.settings) && isMap(v.global_settings) && isMap(v.global_parameters)
}
