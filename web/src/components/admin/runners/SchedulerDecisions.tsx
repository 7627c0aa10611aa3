import { AdminTable } from "../AdminTable";
import { formatTime } from "./format";
import type { Decision } from "./types";

/** What the scheduler decided lately (loads, evictions, queueing, drops), newest first. */
export function SchedulerDecisions({ decisions }: { decisions: Decision[] }) {
  return (
    <AdminTable
      label="Scheduler decisions"
      caption="Scheduler decisions, newest first"
      columns={["When", "Action", "Model", "Runner", "Detail"]}
      items={decisions}
      empty="No decisions yet."
      row={(decision, index) => (
        <tr key={`${decision.at}-${decision.action}-${index}`}>
          <td>{formatTime(decision.at)}</td>
          <th scope="row">
            <code>{decision.action}</code>
          </th>
          <td>{decision.model ?? "—"}</td>
          <td>{decision.runner ?? "—"}</td>
          <td className="details">{decision.detail}</td>
        </tr>
      )}
    />
  );
}
