import { formatTime } from "./format";
import type { Decision } from "./types";

/** What the scheduler decided lately (loads, evictions, queueing, drops), newest first. */
export function SchedulerDecisions({ decisions }: { decisions: Decision[] }) {
  if (decisions.length === 0) return <p className="hint">No decisions yet.</p>;
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Scheduler decisions table">
      <table>
        <caption className="visually-hidden">Scheduler decisions, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Action</th>
            <th scope="col">Model</th>
            <th scope="col">Runner</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          {decisions.map((decision, index) => (
            <tr key={`${decision.at}-${decision.action}-${index}`}>
              <td>{formatTime(decision.at)}</td>
              <th scope="row">
                <code>{decision.action}</code>
              </th>
              <td>{decision.model ?? "—"}</td>
              <td>{decision.runner ?? "—"}</td>
              <td className="details">{decision.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
