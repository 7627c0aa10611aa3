import type { ReactNode } from "react";

/** An error the user should read: announced by screen readers, optionally dismissible. */
export function ErrorMessage(props: { id?: string; children: ReactNode; onDismiss?: () => void }) {
  return (
    <div className="error" role="alert" id={props.id}>
      <p>{props.children}</p>
      {props.onDismiss && (
        <button type="button" className="quiet" onClick={props.onDismiss} aria-label="Dismiss error">
          ×
        </button>
      )}
    </div>
  );
}
