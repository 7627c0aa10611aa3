import type { EvalRun } from "../../api/client";
import { interval, percent, STATUS_BADGE, STATUS_TEXT } from "./model";

/** How many of a run's answers are in, as a progress bar screen readers announce. */
export function RunProgress({ run, label }: { run: EvalRun; label: string }) {
  const share = run.total > 0 ? Math.min(1, run.done / run.total) : 0;
  return (
    <div
      className="eval-progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={run.total}
      aria-valuenow={run.done}
      aria-valuetext={`${run.done} of ${run.total} answers`}
    >
      <span style={{ width: `${share * 100}%` }} />
    </div>
  );
}

/** A pass rate as a bar with its 95% interval drawn across it; the numbers beside it say the
 *  same in words, so the drawing is hidden from screen readers. */
export function PassRateBar(props: { rate: number; low: number; high: number }) {
  return (
    <span className="pass-rate">
      <span className="pass-rate-bar" aria-hidden="true">
        <span className="pass-rate-fill" style={{ width: `${props.rate * 100}%` }} />
        <span
          className="pass-rate-ci"
          style={{ left: `${props.low * 100}%`, width: `${(props.high - props.low) * 100}%` }}
        />
      </span>
      <span className="pass-rate-text">
        <strong>{percent(props.rate)}</strong>{" "}
        <span className="hint">
          <span className="visually-hidden">95% interval </span>
          {interval(props.low, props.high)}
        </span>
      </span>
    </span>
  );
}

export function StatusBadge({ run }: { run: EvalRun }) {
  return <span className={`badge ${STATUS_BADGE[run.status]}`}>{STATUS_TEXT[run.status]}</span>;
}

export function DraftBadge() {
  return (
    <span className="badge draft" title="Made by an eval: answers only when named by number">
      Draft
    </span>
  );
}
