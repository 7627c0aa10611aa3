import type { EvalRun } from "../../api/client";
import { PassRateBar } from "./Bars";
import {
  percent,
  points,
  pValue,
  significantlyWorse,
  type CaseDifference,
  type EvalComparison,
} from "./model";

type Case = EvalRun["cases"][number];

interface Props {
  cases: Case[];
  comparison?: EvalComparison | null;
  /** Names the table (its region and caption). */
  label: string;
}

/** Each case's pass rate with its 95% interval; with a comparison, the baseline's rate, the
 *  difference, its Holm-adjusted p and whether it is significantly worse. */
export function CaseTable({ cases, comparison, label }: Props) {
  const against = new Map((comparison?.cases ?? []).map((c) => [c.name, c]));
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label={label}>
      <table className="eval-cases">
        <caption className="visually-hidden">{label}</caption>
        <thead>
          <tr>
            <th scope="col">Case</th>
            <th scope="col">Pass rate (95% interval)</th>
            <th scope="col" className="number">
              Passed
            </th>
            {comparison && (
              <>
                <th scope="col" className="number">
                  Version {comparison.baseline_version}
                </th>
                <th scope="col" className="number">
                  Difference
                </th>
                <th scope="col" className="number">
                  Adjusted p
                </th>
              </>
            )}
          </tr>
        </thead>
        <tbody>
          {cases.map((row) => {
            const difference = against.get(row.name);
            const worse = difference !== undefined && significantlyWorse(difference);
            return (
              <tr key={row.name} className={worse ? "worse" : undefined}>
                <th scope="row">
                  <span className="case-name">{row.name}</span>
                  {worse && <span className="badge error worse-badge">Significantly worse</span>}
                </th>
                <td>
                  {row.total > 0 ? (
                    <PassRateBar rate={row.pass_rate} low={row.low} high={row.high} />
                  ) : (
                    <span className="hint">No answers</span>
                  )}
                </td>
                <td className="number">
                  {row.passed}/{row.total}
                </td>
                {comparison && <ComparisonCells difference={difference} />}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function ComparisonCells({ difference }: { difference: CaseDifference | undefined }) {
  if (!difference) {
    return (
      <td className="number hint" colSpan={3}>
        Not in the baseline
      </td>
    );
  }
  const baseRate = difference.base_total ? difference.base_passed / difference.base_total : 0;
  return (
    <>
      <td className="number">
        {percent(baseRate)}{" "}
        <span className="hint">
          ({difference.base_passed}/{difference.base_total})
        </span>
      </td>
      <td className="number">{points(difference.difference)}</td>
      <td className="number">
        {pValue(difference.p_adjusted)}
        {difference.significant && <span className="visually-hidden"> (significant)</span>}
      </td>
    </>
  );
}
