import { useId, useState } from "react";
import type { EvalRun } from "../../api/client";
import type { EvalApiCall, EvalAssertion, EvalResult, EvalStep } from "./model";

type Case = EvalRun["cases"][number];

/** Every case's samples, step by step: the prompt, the answer (the app's text, shown as plain
 *  text: it is untrusted) and each assertion, a failed one with why. Cases with a failure
 *  start open; by default only failed samples show. */
export function RunSamples({ cases, results }: { cases: Case[]; results: EvalResult[] }) {
  const anyFailed = results.some((result) => !result.passed);
  const [onlyFailed, setOnlyFailed] = useState(anyFailed);
  const byCase = new Map<string, EvalResult[]>();
  for (const result of results) {
    const list = byCase.get(result.case) ?? [];
    list.push(result);
    byCase.set(result.case, list);
  }

  return (
    <>
      <label className="check-label">
        <input
          type="checkbox"
          checked={onlyFailed}
          onChange={(event) => setOnlyFailed(event.target.checked)}
        />
        Only failed samples
      </label>
      <ul className="eval-case-list">
        {cases.map((row) => (
          <CaseSamples
            key={row.name}
            row={row}
            samples={byCase.get(row.name) ?? []}
            onlyFailed={onlyFailed}
          />
        ))}
      </ul>
    </>
  );
}

function CaseSamples(props: { row: Case; samples: EvalResult[]; onlyFailed: boolean }) {
  const { row, samples } = props;
  const failed = samples.filter((sample) => !sample.passed).length;
  const [open, setOpen] = useState(failed > 0);
  const panel = useId();
  const shown = props.onlyFailed ? samples.filter((sample) => !sample.passed) : samples;
  return (
    <li className="eval-case">
      <h3>
        <button
          type="button"
          className="disclosure"
          aria-expanded={open}
          aria-controls={panel}
          onClick={() => setOpen(!open)}
        >
          <span aria-hidden="true" className="disclosure-mark">
            {open ? "▾" : "▸"}
          </span>
          <span className="case-name">{row.name}</span>
          <span className={failed > 0 ? "case-count failed" : "case-count"}>
            {row.passed}/{row.total} passed
          </span>
        </button>
      </h3>
      <div id={panel} hidden={!open}>
        {shown.length === 0 ? (
          <p className="hint">
            {samples.length === 0
              ? "No answers kept for this case."
              : "Every sample passed (clear “Only failed samples” to see them)."}
          </p>
        ) : (
          <ol className="eval-samples">
            {shown.map((sample) => (
              <Sample key={sample.sample} caseName={row.name} sample={sample} />
            ))}
          </ol>
        )}
      </div>
    </li>
  );
}

function Sample({ caseName, sample }: { caseName: string; sample: EvalResult }) {
  const title = `${caseName}, sample ${sample.sample + 1}`;
  return (
    <li className={sample.passed ? "eval-sample" : "eval-sample failed"} aria-label={title}>
      <p className="eval-sample-head">
        Sample {sample.sample + 1}{" "}
        <span className={`badge ${sample.passed ? "ok" : "error"}`}>
          {sample.passed ? "Passed" : "Failed"}
        </span>
      </p>
      <ol className="eval-steps">
        {sample.steps.map((step, index) => (
          <Step key={index} number={index + 1} count={sample.steps.length} step={step} />
        ))}
      </ol>
    </li>
  );
}

function Step({ number, count, step }: { number: number; count: number; step: EvalStep }) {
  const meta = [
    step.latency_ms !== null ? `${Math.round(step.latency_ms)} ms` : null,
    step.prompt_tokens || step.completion_tokens
      ? `${step.prompt_tokens} + ${step.completion_tokens} tokens`
      : null,
  ].filter(Boolean);
  return (
    <li className={step.passed ? "eval-step" : "eval-step failed"}>
      {count > 1 && <p className="eval-step-number">Step {number}</p>}
      <dl className="eval-turn">
        <dt>Prompt</dt>
        <dd className="eval-text">{step.prompt}</dd>
        <dt>Answer</dt>
        <dd className="eval-text eval-answer">
          {step.answer ?? <span className="hint">No answer</span>}
        </dd>
      </dl>
      {meta.length > 0 && <p className="hint eval-step-meta">{meta.join(" · ")}</p>}
      {step.error && <p className="eval-error">Error: {step.error}</p>}
      {step.api_calls.length > 0 && (
        <p className="hint">
          API calls:{" "}
          {step.api_calls.map(callText).join(", ")}
        </p>
      )}
      {step.assertions.length > 0 && (
        <ul className="eval-assertions" aria-label={`Assertions of step ${number}`}>
          {step.assertions.map((assertion, index) => (
            <Assertion key={index} assertion={assertion} />
          ))}
        </ul>
      )}
    </li>
  );
}

function callText(apiCall: EvalApiCall): string {
  return `${apiCall.api}.${apiCall.operation} → ${apiCall.status ?? "no answer"}`;
}

function Assertion({ assertion }: { assertion: EvalAssertion }) {
  return (
    <li className={assertion.passed ? "eval-assertion" : "eval-assertion failed"}>
      <span aria-hidden="true" className="eval-mark">
        {assertion.passed ? "✓" : "✗"}
      </span>
      <span className="visually-hidden">{assertion.passed ? "Passed:" : "Failed:"}</span>{" "}
      <span className="eval-assertion-name">{assertion.name}</span>
      {assertion.score !== null && <span className="hint"> (score {assertion.score})</span>}
      {assertion.detail && (
        <span className={assertion.passed ? "hint eval-detail" : "eval-detail"}>
          {" "}
          — {assertion.detail}
        </span>
      )}
    </li>
  );
}
