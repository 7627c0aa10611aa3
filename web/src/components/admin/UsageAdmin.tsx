import { useEffect, useState } from "react";
import { call, messageOf, type ApiClient } from "../../api/client";
import type { components } from "../../api/schema";
import { ErrorMessage } from "../ErrorMessage";
import { AdminTable } from "./AdminTable";

type Row = components["schemas"]["UsageRowOut"];

const DAYS = 14;
const NUMBER = new Intl.NumberFormat();

interface Day {
  day: string;
  requests: number;
  tokens: number;
}

/** The last DAYS days (UTC), oldest first, today included. */
function lastDays(): string[] {
  const today = new Date();
  const days: string[] = [];
  for (let back = DAYS - 1; back >= 0; back--) {
    const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - back));
    days.push(day.toISOString().slice(0, 10));
  }
  return days;
}

/** Usage over the last two weeks: requests and tokens per day (a bar chart), and by model. */
export function UsageAdmin({ client }: { client: ApiClient }) {
  const [days, setDays] = useState<Day[] | null>(null);
  const [models, setModels] = useState<Row[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const range = lastDays();
    const since = `${range[0] ?? ""}T00:00:00Z`;
    const report = (group_by: string[]) =>
      call(client.GET("/api/v1/usage", { params: { query: { group_by, since } } }));
    Promise.all([report(["day"]), report(["model"])])
      .then(([byDay, byModel]) => {
        const counted = new Map(byDay.data.map((row) => [row.day, row]));
        setDays(
          range.map((day) => ({
            day,
            requests: counted.get(day)?.requests ?? 0,
            tokens: counted.get(day)?.total_tokens ?? 0,
          })),
        );
        setModels([...byModel.data].sort((a, b) => b.requests - a.requests));
      })
      .catch((failure: unknown) => setError(messageOf(failure)));
  }, [client]);

  return (
    <section aria-labelledby="usage-title">
      <h1 id="usage-title">Usage</h1>
      <p className="hint">The last {DAYS} days, in UTC, for everyone.</p>
      {error && <ErrorMessage>{error}</ErrorMessage>}
      {days === null && !error && <p aria-busy="true">Loading usage…</p>}
      {days && (
        <div className="charts">
          <BarChart title="Requests per day" days={days} value={(day) => day.requests} />
          <BarChart title="Tokens per day" days={days} value={(day) => day.tokens} />
        </div>
      )}
      {models && (
        <>
          <h2>By model</h2>
          <AdminTable
            label="Usage by model"
            columns={[
              "Model",
              { name: "Requests", number: true },
              { name: "Prompt tokens", number: true },
              { name: "Completion tokens", number: true },
              { name: "Errors", number: true },
              { name: "Average latency", number: true },
            ]}
            items={models}
            empty={`No requests in these ${DAYS} days.`}
            row={(row) => (
              <tr key={row.model ?? "none"}>
                <th scope="row">
                  <code>{row.model ?? "—"}</code>
                </th>
                <td className="number">{NUMBER.format(row.requests)}</td>
                <td className="number">{NUMBER.format(row.prompt_tokens)}</td>
                <td className="number">{NUMBER.format(row.completion_tokens)}</td>
                <td className="number">{NUMBER.format(row.errors)}</td>
                <td className="number">
                  {row.avg_latency_ms == null ? "—" : `${Math.round(row.avg_latency_ms)} ms`}
                </td>
              </tr>
            )}
          />
        </>
      )}
    </section>
  );
}

const WIDTH = 560;
const HEIGHT = 180;
const BOTTOM = 22;
const TOP = 16;

/** A bar per day, drawn with plain SVG; the numbers are also in a visually hidden table. */
function BarChart(props: { title: string; days: Day[]; value: (day: Day) => number }) {
  const values = props.days.map(props.value);
  const max = Math.max(1, ...values);
  const slot = WIDTH / props.days.length;
  const plot = HEIGHT - BOTTOM - TOP;
  const id = props.title.toLowerCase().replace(/\W+/g, "-");

  return (
    <figure className="chart" aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`}>
        {props.title} <span className="hint">(most: {NUMBER.format(Math.max(0, ...values))})</span>
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-labelledby={`${id}-title`}>
        <line x1="0" x2={WIDTH} y1={HEIGHT - BOTTOM} y2={HEIGHT - BOTTOM} className="axis" />
        {props.days.map((day, index) => {
          const value = props.value(day);
          const height = (value / max) * plot;
          const x = index * slot + slot * 0.15;
          return (
            <g key={day.day}>
              <rect
                className="bar"
                x={x}
                y={HEIGHT - BOTTOM - height}
                width={slot * 0.7}
                height={height}
              >
                <title>{`${day.day}: ${NUMBER.format(value)}`}</title>
              </rect>
              {value > 0 && (
                <text x={x + slot * 0.35} y={HEIGHT - BOTTOM - height - 4} className="value">
                  {NUMBER.format(value)}
                </text>
              )}
              {index % 2 === (props.days.length - 1) % 2 && (
                <text x={x + slot * 0.35} y={HEIGHT - 6} className="label">
                  {day.day.slice(5)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <table className="visually-hidden">
        <caption>{props.title}</caption>
        <thead>
          <tr>
            <th scope="col">Day</th>
            <th scope="col">{props.title}</th>
          </tr>
        </thead>
        <tbody>
          {props.days.map((day) => (
            <tr key={day.day}>
              <th scope="row">{day.day}</th>
              <td>{props.value(day)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
