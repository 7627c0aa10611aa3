import type { ReactNode } from "react";
import { ErrorMessage } from "../ErrorMessage";

/** What an action on an admin page did: its error (announced, dismissible), else its notice. */
export function ActionFeedback(props: {
  error: string | null;
  notice?: string | null;
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

/** A column heading; `number` right-aligns it over a column of numbers. */
export type Column = string | { name: string; number: true };

/** An admin page's list: "Loading …" until it is there, a hint when it is empty, else a table
 *  named `caption` (by default `label`) in a region named "`label` table" (scrollable on its
 *  own on a narrow screen) with one `row` per item; the first cell of a row should be its
 *  `<th scope="row">`. `loading` says what is loading (by default `label`, lowercased). */
export function AdminTable<T>(props: {
  label: string;
  caption?: string;
  loading?: string;
  columns: Column[];
  items: T[] | null;
  empty: string;
  row: (item: T, index: number) => ReactNode;
}) {
  if (props.items === null) {
    return <p aria-busy="true">Loading {props.loading ?? props.label.toLowerCase()}…</p>;
  }
  if (props.items.length === 0) return <p className="hint">{props.empty}</p>;
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label={`${props.label} table`}>
      <table>
        <caption className="visually-hidden">{props.caption ?? props.label}</caption>
        <thead>
          <tr>
            {props.columns.map((column) =>
              typeof column === "string" ? (
                <th key={column} scope="col">
                  {column}
                </th>
              ) : (
                <th key={column.name} scope="col" className="number">
                  {column.name}
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{props.items.map((item, index) => props.row(item, index))}</tbody>
      </table>
    </div>
  );
}

/** A row's button that deletes, removes or revokes something: `label` names it and what it
 *  acts on ("Revoke ci"); with `confirm`, the browser asks that question first and nothing
 *  happens unless the answer is yes. */
export function DeleteButton(props: {
  label: string;
  confirm?: string;
  disabled?: boolean;
  onDelete: () => void;
  children: ReactNode;
}) {
  function click() {
    if (props.confirm && !window.confirm(props.confirm)) return;
    props.onDelete();
  }

  return (
    <button
      type="button"
      className="danger"
      aria-label={props.label}
      disabled={props.disabled}
      onClick={click}
    >
      {props.children}
    </button>
  );
}
