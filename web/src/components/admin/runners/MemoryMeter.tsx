import { formatBytes, percent } from "./format";

/** A labelled bar for memory in use: a `meter` for assistive technology, with the numbers as
 *  text beside it. */
export function MemoryMeter(props: { label: string; used: number; total: number }) {
  const { label, used, total } = props;
  const share = percent(used, total);
  const text = `${formatBytes(used)} of ${formatBytes(total)}`;
  const level = share >= 90 ? "high" : share >= 70 ? "medium" : "low";
  return (
    <div className="memory-meter">
      <div className="memory-meter-label">
        <span title={label}>{label}</span>
        <span className="hint">{text}</span>
      </div>
      <div
        className="meter-track"
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={Math.max(total, 1)}
        aria-valuenow={Math.min(used, Math.max(total, 1))}
        aria-valuetext={`${text} used (${Math.round(share)}%)`}
      >
        <div className={`meter-fill ${level}`} style={{ width: `${share}%` }} />
      </div>
    </div>
  );
}
