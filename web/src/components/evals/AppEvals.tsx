import { useCallback, useRef, useState, type FormEvent, type ReactNode } from "react";
import { ApiError, call, type ApiClient, type AppInfo, type EvalRun } from "../../api/client";
import type { components } from "../../api/schema";
import { evalRunPath, followLink } from "../../router";
import { ErrorMessage } from "../ErrorMessage";
import { useAdminList } from "../admin/useAdminList";
import { PassRateBar, RunProgress, StatusBadge, DraftBadge } from "./Bars";
import { CaseTable } from "./CaseTable";
import { isActive, POLL_MS, when } from "./model";

const LIMIT = 20;

type EvalIn = components["schemas"]["EvalIn"];

const NOT_EDITOR = "not an editor" as const;
/** The runs listed, each with its statistics (the list leaves them out); or that the caller
 *  may not edit the app (the list is refused), so there is nothing to show. */
type Loaded = { runs: EvalRun[]; more: boolean } | typeof NOT_EDITOR;

interface Props {
  client: ApiClient;
  app: AppInfo;
  spec: Record<string, unknown>;
  onUnauthorized: (message: string) => void;
}

/** The app's eval runs, for its editors: recent runs (followed while any is in progress), the
 *  cases of the latest one that finished, and a form that runs the current version's tests. */
export function AppEvals({ client, app, spec, onUnauthorized }: Props) {
  const name = app.name;
  // A finished run's statistics do not change: each is fetched once.
  const finished = useRef(new Map<string, EvalRun>());
  const fetchRuns = useCallback(async (): Promise<Loaded> => {
    let page;
    try {
      const params = { query: { app: name, limit: LIMIT } };
      page = await call(client.GET("/api/v1/evals", { params }));
    } catch (failure) {
      if (failure instanceof ApiError && (failure.status === 403 || failure.status === 404)) {
        return NOT_EDITOR;
      }
      throw failure;
    }
    const runs = await Promise.all(
      page.data.map((run) => withStatistics(client, run, finished.current)),
    );
    return { runs, more: page.has_more };
  }, [client, name]);
  const { data: loaded, error, setError, notice, act } = useAdminList(fetchRuns, {
    refreshMs: POLL_MS,
    refreshWhile: (shown) => typeof shown === "object" && shown?.runs.some(isActive) === true,
    onUnauthorized,
  });

  if (loaded === null) {
    // Loading (nothing shows yet), or the first load failed.
    return error ? (
      <Section>
        <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>
      </Section>
    ) : null;
  }
  if (loaded === NOT_EDITOR) return null;

  function start(samples: number) {
    return act(
      () => call(client.POST("/api/v1/evals", { body: startBody(name, samples) })),
      `Started a run of version ${app.version}'s tests, ${plural(samples, "sample")} each.`,
    );
  }

  function cancel(run: EvalRun) {
    void act(
      () => {
        const params = { path: { run_id: run.id } };
        return call(client.POST("/api/v1/evals/{run_id}/cancel", { params }));
      },
      "The run is cancelled (the answers it has kept stay).",
    );
  }

  const latest = loaded.runs.find((run) => run.status === "succeeded" && run.cases.length > 0);
  return (
    <Section>
      <StartForm version={app.version} tests={testCount(spec)} onStart={start} />
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
      {loaded.runs.length === 0 ? (
        <p>No eval runs yet.</p>
      ) : (
        <RunsTable app={name} runs={loaded.runs} more={loaded.more} onCancel={cancel} />
      )}
      {latest && (
        <>
          <h3 id="latest-run-title">
            Latest results: version {latest.version},{" "}
            {when(latest.finished_at ?? latest.created_at)}
          </h3>
          <CaseTable cases={latest.cases} label="Cases of the latest run" />
          <p className="hint">
            <a
              href={evalRunPath(name, latest.id)}
              onClick={(event) => followLink(event, evalRunPath(name, latest.id))}
            >
              See every answer of this run
            </a>
          </p>
        </>
      )}
    </Section>
  );
}

function Section({ children }: { children: ReactNode }) {
  return (
    <section className="app-part evals" aria-labelledby="evals-title">
      <h2 id="evals-title">Evals: test results</h2>
      {children}
    </section>
  );
}

/** A run of the current version's tests. The generated type makes every field with a server
 *  default required (`judge_prompt`); the server fills those in. */
function startBody(app: string, samples: number): EvalIn {
  return { app, samples } as EvalIn;
}

/** The run with its pass rates (fetched without answers); a finished run's from `cache`. */
async function withStatistics(
  client: ApiClient,
  run: EvalRun,
  cache: Map<string, EvalRun>,
): Promise<EvalRun> {
  const known = cache.get(run.id);
  if (known && !isActive(run)) return known;
  try {
    const params = { path: { run_id: run.id }, query: { results: false } };
    const full = await call(client.GET("/api/v1/evals/{run_id}", { params }));
    if (!isActive(full)) cache.set(run.id, full);
    return full;
  } catch (failure) {
    if (failure instanceof ApiError && failure.unauthorized) throw failure;
    return run; // deleted meanwhile, say: listed without its statistics
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** How many tests the app's assistants define (`tests:` in the spec). */
function testCount(spec: Record<string, unknown>): number {
  const assistants = Array.isArray(spec.assistants) ? (spec.assistants as unknown[]) : [];
  return assistants.reduce<number>((total, assistant) => {
    const tests =
      typeof assistant === "object" && assistant !== null && "tests" in assistant
        ? assistant.tests
        : null;
    return total + (Array.isArray(tests) ? tests.length : 0);
  }, 0);
}

function StartForm(props: {
  version: number;
  tests: number;
  onStart: (samples: number) => Promise<boolean>;
}) {
  const [samples, setSamples] = useState("3");
  const [starting, setStarting] = useState(false);
  const count = Number(samples);
  const valid = Number.isInteger(count) && count >= 1 && count <= 100;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!valid || starting) return;
    setStarting(true);
    try {
      await props.onStart(count);
    } finally {
      setStarting(false);
    }
  }

  return (
    <form className="eval-start" onSubmit={(event) => void submit(event)}>
      <div className="eval-start-field">
        <label htmlFor="eval-samples">Samples per test</label>
        <input
          id="eval-samples"
          type="number"
          inputMode="numeric"
          min={1}
          max={100}
          step={1}
          required
          value={samples}
          onChange={(event) => setSamples(event.target.value)}
          aria-describedby="eval-start-hint"
          aria-invalid={!valid || undefined}
        />
      </div>
      <button type="submit" disabled={!valid || starting || props.tests === 0}>
        {starting ? "Starting…" : "Run tests"}
      </button>
      <p id="eval-start-hint" className="hint">
        {props.tests === 0
          ? `Version ${props.version} defines no tests (tests: in the spec): nothing to run.`
          : `Runs each of version ${props.version}'s ${plural(props.tests, "test")} this many ` +
            "times (1 to 100): answers vary, so more samples give narrower intervals."}
      </p>
    </form>
  );
}

function RunsTable(props: {
  app: string;
  runs: EvalRun[];
  more: boolean;
  onCancel: (run: EvalRun) => void;
}) {
  return (
    <>
      <div className="table-wrap" tabIndex={0} role="region" aria-label="Eval runs">
        <table className="eval-runs">
          <caption className="visually-hidden">Eval runs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Version</th>
              <th scope="col">Label</th>
              <th scope="col">Status</th>
              <th scope="col">Answers</th>
              <th scope="col">Pass rate (95% interval)</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {props.runs.map((run) => (
              <RunRow key={run.id} app={props.app} run={run} onCancel={props.onCancel} />
            ))}
          </tbody>
        </table>
      </div>
      {props.more && (
        <p className="hint">
          The {props.runs.length} most recent runs;{" "}
          <code>homeport eval list {props.app} --limit 200</code> lists more.
        </p>
      )}
    </>
  );
}

function RunRow({
  app,
  run,
  onCancel,
}: {
  app: string;
  run: EvalRun;
  onCancel: (run: EvalRun) => void;
}) {
  const path = evalRunPath(app, run.id);
  const started = when(run.created_at);
  return (
    <tr>
      <th scope="row">
        <a
          href={path}
          onClick={(event) => followLink(event, path)}
          aria-label={`Open the run of ${started}`}
        >
          <time dateTime={run.created_at}>{started}</time>
        </a>
      </th>
      <td>
        {run.version}
        {run.draft && <DraftBadge />}
        {run.tests_version !== run.version && (
          <span className="hint"> (tests of {run.tests_version})</span>
        )}
      </td>
      <td className="eval-label">{run.label || <span className="hint">—</span>}</td>
      <td>
        <StatusBadge run={run} />
        {run.error && <span className="eval-error"> {run.error}</span>}
      </td>
      <td className="eval-answers">
        <span>
          {run.done}/{run.total}
        </span>
        {isActive(run) && <RunProgress run={run} label={`Progress of the run of ${started}`} />}
      </td>
      <td>
        {run.summary && run.summary.total > 0 ? (
          <PassRateBar rate={run.summary.pass_rate} low={run.summary.low} high={run.summary.high} />
        ) : (
          <span className="hint">—</span>
        )}
      </td>
      <td className="row-actions">
        {isActive(run) && (
          <button
            type="button"
            className="secondary"
            onClick={() => onCancel(run)}
            aria-label={`Cancel the run of ${started}`}
          >
            Cancel
          </button>
        )}
      </td>
    </tr>
  );
}
