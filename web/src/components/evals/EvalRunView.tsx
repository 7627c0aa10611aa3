import { useCallback, useEffect, useRef, useState } from "react";
import { call, type ApiClient, type EvalRun } from "../../api/client";
import { appsPath, evalRunPath, followLink } from "../../router";
import { ErrorMessage } from "../ErrorMessage";
import { useAdminList } from "../admin/useAdminList";
import { DraftBadge, PassRateBar, RunProgress, StatusBadge } from "./Bars";
import { CaseTable } from "./CaseTable";
import {
  comparisonOf,
  duration,
  isActive,
  percent,
  points,
  POLL_MS,
  pValue,
  resultsOf,
  significantlyWorse,
  when,
  type EvalComparison,
} from "./model";
import { RunSamples } from "./RunSamples";

interface Props {
  app: string;
  runId: string;
  client: ApiClient;
  onUnauthorized: (message: string) => void;
}

/** One eval run (/apps/<name>/evals/<run id>): its summary, each case's pass rate (against a
 *  baseline run when there is one), and every sample's answers and verdicts. While it runs,
 *  only its progress and statistics are fetched, every POLL_MS; the answers once it ends. */
export function EvalRunView({ app, runId, client, onUnauthorized }: Props) {
  const [baseline, setBaseline] = useState<string | null>(null);
  const wasActive = useRef(false);
  const fetchRun = useCallback(async (): Promise<EvalRun> => {
    const get = (results: boolean) => {
      const query = baseline ? { results, baseline } : { results };
      const params = { path: { run_id: runId }, query };
      return call(client.GET("/api/v1/evals/{run_id}", { params }));
    };
    const following = wasActive.current;
    let run = await get(!following);
    if (following && !isActive(run)) run = await get(true);
    wasActive.current = isActive(run);
    return run;
  }, [client, runId, baseline]);
  const { data: run, error, setError, notice, act } = useAdminList(fetchRun, {
    refreshMs: POLL_MS,
    refreshWhile: (shown) => shown !== null && isActive(shown),
    onUnauthorized,
  });
  const others = useOtherRuns(client, app, runId);
  const heading = useRef<HTMLHeadingElement>(null);
  const loaded = run !== null;
  useEffect(() => {
    if (loaded) heading.current?.focus();
  }, [loaded]);

  if (run === null) {
    return (
      <section className="eval-run" aria-labelledby="run-title">
        <BackLink app={app} />
        <h1 id="run-title">Eval run</h1>
        {error ? <ErrorMessage>{error}</ErrorMessage> : <p aria-busy="true">Loading the run…</p>}
      </section>
    );
  }

  function cancel() {
    void act(
      () => {
        const params = { path: { run_id: runId } };
        return call(client.POST("/api/v1/evals/{run_id}/cancel", { params }));
      },
      "The run is cancelled (the answers it has kept stay).",
    );
  }

  const comparison = comparisonOf(run);
  return (
    <section className="eval-run" aria-labelledby="run-title">
      <BackLink app={app} />
      <header className="app-part-head">
        <h1 id="run-title" ref={heading} tabIndex={-1}>
          Eval of {app}, version {run.version}
        </h1>
        {run.draft && <DraftBadge />}
        <StatusBadge run={run} />
        {isActive(run) && (
          <button type="button" className="secondary" onClick={cancel}>
            Cancel run
          </button>
        )}
      </header>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
      {run.error && <ErrorMessage>The run failed: {run.error}</ErrorMessage>}
      {isActive(run) && (
        <div className="eval-run-progress">
          <RunProgress run={run} label="Answers in" />
          <span className="hint">
            {run.done} of {run.total} answers
          </span>
        </div>
      )}
      <RunSummary run={run} />
      <section className="app-part" aria-labelledby="cases-title">
        <div className="app-part-head">
          <h2 id="cases-title">Cases</h2>
          <BaselinePicker run={run} others={others} value={baseline} onChange={setBaseline} />
        </div>
        {comparison && <ComparisonSummary app={app} comparison={comparison} />}
        {run.cases.length === 0 ? (
          <p className="hint">No case has an answer yet.</p>
        ) : (
          <CaseTable cases={run.cases} comparison={comparison} label="Pass rate of each case" />
        )}
      </section>
      <section className="app-part" aria-labelledby="answers-title">
        <h2 id="answers-title">Answers</h2>
        {isActive(run) ? (
          <p className="hint">Every sample's answers show here once the run has ended.</p>
        ) : (
          <RunSamples cases={run.cases} results={resultsOf(run)} />
        )}
      </section>
    </section>
  );
}

function BackLink({ app }: { app: string }) {
  const path = appsPath(app);
  return (
    <a className="back-link" href={path} onClick={(event) => followLink(event, path)}>
      ← {app}
    </a>
  );
}

function RunSummary({ run }: { run: EvalRun }) {
  const took = duration(run);
  return (
    <dl className="eval-summary">
      <div>
        <dt>Pass rate</dt>
        <dd>
          {run.summary && run.summary.total > 0 ? (
            <>
              <PassRateBar
                rate={run.summary.pass_rate}
                low={run.summary.low}
                high={run.summary.high}
              />{" "}
              <span className="hint">
                ({run.summary.passed} of {run.summary.total} samples)
              </span>
            </>
          ) : (
            <span className="hint">No answers yet</span>
          )}
        </dd>
      </div>
      <div>
        <dt>Model</dt>
        <dd>
          <code>{run.model}</code>
        </dd>
      </div>
      <div>
        <dt>Judge</dt>
        <dd>
          {run.judge_model ? (
            <>
              <code>{run.judge_model}</code>
              {run.judge_prompt && <span className="hint"> (prompt {run.judge_prompt})</span>}
            </>
          ) : (
            <span className="hint">None (no test needs one)</span>
          )}
        </dd>
      </div>
      <div>
        <dt>Samples</dt>
        <dd>{run.samples} per test</dd>
      </div>
      <div>
        <dt>Tests</dt>
        <dd>of version {run.tests_version}</dd>
      </div>
      {run.label && (
        <div>
          <dt>Label</dt>
          <dd className="eval-label">{run.label}</dd>
        </div>
      )}
      <div>
        <dt>Started</dt>
        <dd>
          <time dateTime={run.started_at ?? run.created_at}>
            {when(run.started_at ?? run.created_at)}
          </time>
          {took && <span className="hint"> ({run.finished_at ? "took" : "so far"} {took})</span>}
        </dd>
      </div>
      <div>
        <dt>Run</dt>
        <dd>
          <code>{run.id}</code>
        </dd>
      </div>
    </dl>
  );
}

function ComparisonSummary({ app, comparison }: { app: string; comparison: EvalComparison }) {
  const { overall } = comparison;
  const worse = significantlyWorse(overall);
  const baseRate = overall.base_total ? overall.base_passed / overall.base_total : 0;
  const headRate = overall.head_total ? overall.head_passed / overall.head_total : 0;
  const path = evalRunPath(app, comparison.baseline);
  return (
    <div className={comparison.worse ? "eval-verdict worse" : "eval-verdict"}>
      <p>
        {worse ? (
          <strong>Significantly worse than version {comparison.baseline_version}</strong>
        ) : comparison.worse ? (
          <strong>
            Significantly worse on some cases than version {comparison.baseline_version}
          </strong>
        ) : overall.significant ? (
          <strong>Significantly better than version {comparison.baseline_version}</strong>
        ) : (
          <strong>No significant difference from version {comparison.baseline_version}</strong>
        )}
        {": "}
        {percent(headRate)} against {percent(baseRate)} ({points(overall.difference)}, p ={" "}
        {pValue(overall.p_value)}, α = {comparison.alpha}).{" "}
        <a href={path} onClick={(event) => followLink(event, path)}>
          Open the baseline run
        </a>
      </p>
      {comparison.only_head.length > 0 && (
        <p className="hint">New cases (not compared): {comparison.only_head.join(", ")}</p>
      )}
      {comparison.only_base.length > 0 && (
        <p className="hint">Cases only the baseline has: {comparison.only_base.join(", ")}</p>
      )}
    </div>
  );
}

/** The app's other finished runs, to compare with (none when they cannot be listed). */
function useOtherRuns(client: ApiClient, app: string, runId: string): EvalRun[] {
  const [runs, setRuns] = useState<EvalRun[]>([]);
  useEffect(() => {
    let current = true;
    call(client.GET("/api/v1/evals", { params: { query: { app, limit: 50 } } }))
      .then((page) => {
        if (current) setRuns(page.data.filter((r) => r.id !== runId && r.status === "succeeded"));
      })
      .catch(() => {
        // The picker only offers the run's own baseline then.
      });
    return () => {
      current = false;
    };
  }, [client, app, runId]);
  return runs;
}

function BaselinePicker(props: {
  run: EvalRun;
  others: EvalRun[];
  value: string | null;
  onChange: (baseline: string | null) => void;
}) {
  const { run, others } = props;
  if (others.length === 0 || run.status !== "succeeded") return null; // both must have ended
  return (
    <div className="baseline-picker">
      <label htmlFor="eval-baseline">Compare with</label>
      <select
        id="eval-baseline"
        value={props.value ?? ""}
        onChange={(event) => props.onChange(event.target.value || null)}
      >
        <option value="">{run.baseline ? "Its baseline run" : "No other run"}</option>
        {others.map((other) => (
          <option key={other.id} value={other.id}>
            Version {other.version}
            {other.draft ? " (draft)" : ""}
            {other.label ? ` · ${other.label}` : ""} · {when(other.created_at)}
          </option>
        ))}
      </select>
    </div>
  );
}
