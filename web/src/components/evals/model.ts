// What an eval run's free-form parts hold (the API sends `results` and `comparison` as plain
// objects; see homeport.evals.runner and homeport.evals.stats), and how the UI words numbers.
import type { EvalRun } from "../../api/client";

/** How often the UI asks again while a run is queued or running. */
export const POLL_MS = 1500;

export type RunStatus = EvalRun["status"];

/** One check of one answer: `detail` says why it failed (or what it found). */
export interface EvalAssertion {
  type: string;
  name: string;
  passed: boolean;
  detail: string | null;
  score: number | null;
}

export interface EvalApiCall {
  api: string;
  operation: string;
  status: number | null;
  error: string | null;
}

/** One turn of a test: the prompt, the app's answer (untrusted text) and its checks. */
export interface EvalStep {
  prompt: string;
  answer: string | null;
  latency_ms: number | null;
  prompt_tokens: number;
  completion_tokens: number;
  api_calls: EvalApiCall[];
  error: string | null;
  passed: boolean;
  assertions: EvalAssertion[];
}

/** One sample: one run of one case, every step of it. */
export interface EvalResult {
  case: string;
  sample: number;
  passed: boolean;
  steps: EvalStep[];
}

interface Counts {
  base_passed: number;
  base_total: number;
  head_passed: number;
  head_total: number;
  /** The head's pass rate minus the baseline's (-1 to 1). */
  difference: number;
  p_value: number;
  significant: boolean;
}

export interface CaseDifference extends Counts {
  name: string;
  /** Holm-adjusted over the cases. */
  p_adjusted: number;
}

/** This run (head) against a baseline run, case by case and overall. */
export interface EvalComparison {
  alpha: number;
  baseline: string;
  baseline_version: number;
  overall: Counts;
  cases: CaseDifference[];
  only_base: string[];
  only_head: string[];
  worse: boolean;
}

export function resultsOf(run: EvalRun): EvalResult[] {
  return run.results as unknown as EvalResult[];
}

export function comparisonOf(run: EvalRun): EvalComparison | null {
  return run.comparison as unknown as EvalComparison | null;
}

export function isActive(run: Pick<EvalRun, "status">): boolean {
  return run.status === "queued" || run.status === "running";
}

/** A difference that counts: significant, and for the worse. */
export function significantlyWorse(counts: Pick<Counts, "significant" | "difference">): boolean {
  return counts.significant && counts.difference < 0;
}

export function percent(rate: number): string {
  return `${Math.round(rate * 100)}%`;
}

/** A 95% interval, as "57–100%". */
export function interval(low: number, high: number): string {
  return `${Math.round(low * 100)}–${Math.round(high * 100)}%`;
}

/** A difference of pass rates in percentage points, signed: "+12 pts", "−33 pts". */
export function points(difference: number): string {
  const rounded = Math.round(difference * 100);
  if (rounded === 0) return "±0 pts";
  return `${rounded > 0 ? "+" : "−"}${Math.abs(rounded)} pts`;
}

export function pValue(p: number): string {
  return p < 0.001 ? "< 0.001" : p.toFixed(3);
}

export function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

/** How long a run took (or has taken so far). */
export function duration(run: EvalRun): string | null {
  if (!run.started_at) return null;
  const end = run.finished_at ? new Date(run.finished_at) : new Date();
  const seconds = Math.max(0, (end.getTime() - new Date(run.started_at).getTime()) / 1000);
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

export const STATUS_TEXT: Record<RunStatus, string> = {
  queued: "Queued",
  running: "Running",
  succeeded: "Finished",
  failed: "Failed",
  cancelled: "Cancelled",
};

/** The badge class each status shows with (the runners page's colours). */
export const STATUS_BADGE: Record<RunStatus, string> = {
  queued: "unloading",
  running: "loading",
  succeeded: "ok",
  failed: "failed",
  cancelled: "unloading",
};
