import type { ReactNode } from "react";
import { ErrorMessage } from "../ErrorMessage";

/** What an action on an admin page did: its error (announced, dismissible), else its notice. */
export function ActionFeedback(props: {
  error: string | null;
  notice: string | null;
  onDismiss: () => void;
}) {
  return (
    <>
      {props.error && <ErrorMessage onDismiss={props.onDismiss}>{props.error}</ErrorMessage>}
      {props.notice && (
        <p role="status" className="notice">
          {props.notice}
        </p>
      )}
    </>
  );
}

/** An admin page's list: "Loading…" until it is there, a hint when it is empty, else a table
 *  named `label` (scrollable on its own on a narrow screen) with one `row` per item; the
 *  first cell of a row should be its `<th scope="row">`. */
export function AdminTable<T>(props: {
  label: string;
  columns: string[];
  items: T[] | null;
  empty: string;
  row: (item: T) => ReactNode;
}) {
  if (props.items === null) return <p aria-busy="true">Loading {props.label.toLowerCase()}…</p>;
  if (props.items.length === 0) return <p className="hint">{props.empty}</p>;
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label={`${props.label} table`}>
      <table>
        <caption className="visually-hidden">{props.label}</caption>
        <thead>
          <tr>
            {props.columns.map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{props.items.map(props.row)}</tbody>
      </table>
    </div>
  );
}
