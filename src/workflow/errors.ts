/**
 * Errors of the workflow area: one class per condition, discriminated by
 * `.name`. Every class has a row in docs/errors/workflow.md.
 */
import { PlError } from '../core/errors.js'

// ── Task DAG validation (validateDag) ───────────────────────────────────────

/** Base of the DAG validation family; also thrown for a malformed DAG shape. */
export class InvalidDagError extends PlError {
  override name = 'InvalidDagError'
}

export class DuplicateStepError extends InvalidDagError {
  override name = 'DuplicateStepError'
}

export class DanglingReferenceError extends InvalidDagError {
  override name = 'DanglingReferenceError'
}

export class DagCycleError extends InvalidDagError {
  override name = 'DagCycleError'
}

export class LoopBoundError extends InvalidDagError {
  override name = 'LoopBoundError'
}

export class InvalidLimitError extends InvalidDagError {
  override name = 'InvalidLimitError'
}

// ── small languages: durations, expressions ─────────────────────────────────

export class InvalidDurationError extends PlError {
  override name = 'InvalidDurationError'
}

export class ExprSyntaxError extends PlError {
  override name = 'ExprSyntaxError'
}

export class ExprTypeError extends PlError {
  override name = 'ExprTypeError'
}

// ── workflow.json front end ─────────────────────────────────────────────────

export class WorkflowNotFoundError extends PlError {
  override name = 'WorkflowNotFoundError'
}

export class WorkflowParseError extends PlError {
  override name = 'WorkflowParseError'
}

export class WorkflowSchemaError extends PlError {
  override name = 'WorkflowSchemaError'
}

export class UnknownGraphKeyError extends PlError {
  override name = 'UnknownGraphKeyError'
}

export class UnknownDownstreamError extends PlError {
  override name = 'UnknownDownstreamError'
}

export class ModuleNotInGraphError extends PlError {
  override name = 'ModuleNotInGraphError'
}

export class ModuleFolderMissingError extends PlError {
  override name = 'ModuleFolderMissingError'
}

export class ModuleEntryMissingError extends PlError {
  override name = 'ModuleEntryMissingError'
}

export class CodePathEscapeError extends PlError {
  override name = 'CodePathEscapeError'
}

export class ResourceRequirementError extends PlError {
  override name = 'ResourceRequirementError'
}

// ── DSL front end ───────────────────────────────────────────────────────────

export class DslSyntaxError extends PlError {
  override name = 'DslSyntaxError'
}

export class DslSchemaError extends PlError {
  override name = 'DslSchemaError'
}

export class UnknownStepKindError extends PlError {
  override name = 'UnknownStepKindError'
}

export class CallSyntaxError extends PlError {
  override name = 'CallSyntaxError'
}

export class UnknownReferenceError extends PlError {
  override name = 'UnknownReferenceError'
}

export class DuplicateNameError extends PlError {
  override name = 'DuplicateNameError'
}

export class InvalidSelectWeightError extends PlError {
  override name = 'InvalidSelectWeightError'
}

// ── bundles (ZIP) ───────────────────────────────────────────────────────────

export class BundleSymlinkError extends PlError {
  override name = 'BundleSymlinkError'
}

export class ZipFormatError extends PlError {
  override name = 'ZipFormatError'
}

export class UnsafeZipPathError extends PlError {
  override name = 'UnsafeZipPathError'
}

export class ZipSymlinkError extends PlError {
  override name = 'ZipSymlinkError'
}

export class ZipDuplicateEntryError extends PlError {
  override name = 'ZipDuplicateEntryError'
}

export class ZipEntryTooLargeError extends PlError {
  override name = 'ZipEntryTooLargeError'
}

export class ZipTooLargeError extends PlError {
  override name = 'ZipTooLargeError'
}

export class ZipSizeMismatchError extends PlError {
  override name = 'ZipSizeMismatchError'
}

export class UnpackTargetError extends PlError {
  override name = 'UnpackTargetError'
}

export class ManifestMismatchError extends PlError {
  override name = 'ManifestMismatchError'
}
