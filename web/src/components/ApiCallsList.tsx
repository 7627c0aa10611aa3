import type { ApiCall } from "../api/client";

/** The APIs an app's assistant called for an answer, under it, styled like its sources:
 *  `api.operation → status`, with the error when a call failed. */
export function ApiCallsList({ calls }: { calls: ApiCall[] }) {
  if (calls.length === 0) return null;
  return (
    <section className="sources api-calls" aria-label="API calls">
      <h2 className="sources-title">API calls</h2>
      <ul className="sources-list">
        {calls.map((apiCall, index) => (
          <ApiCallItem key={index} apiCall={apiCall} />
        ))}
      </ul>
    </section>
  );
}

function failed(apiCall: ApiCall): boolean {
  return apiCall.error !== null || apiCall.status === null || apiCall.status >= 400;
}

function ApiCallItem({ apiCall }: { apiCall: ApiCall }) {
  const bad = failed(apiCall);
  return (
    <li className={bad ? "cited api-call-failed" : "cited"}>
      <code className="source-name">
        {apiCall.api}.{apiCall.operation}
      </code>
      <span aria-hidden="true">→</span>
      <span className="visually-hidden">{bad ? "failed:" : "answered"}</span>
      <span className="api-call-status">{apiCall.status ?? "no answer"}</span>
      {apiCall.error && <span className="api-call-error">{apiCall.error}</span>}
    </li>
  );
}
