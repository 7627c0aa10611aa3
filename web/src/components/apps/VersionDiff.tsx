import { useEffect, useState } from "react";
import { call, messageOf, type ApiClient, type AppVersion } from "../../api/client";
import { ErrorMessage } from "../ErrorMessage";

interface Props {
  client: ApiClient;
  name: string;
  /** Newest first, as the history lists them. */
  versions: AppVersion[];
}

/** What changed between two versions (by default the last change), as a unified diff of
 *  their specs (`GET /api/v1/apps/{name}/diff`). */
export function VersionDiff({ client, name, versions }: Props) {
  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);
  const older = from ?? versions[1]?.number ?? null;
  const newer = to ?? versions[0]?.number ?? null;
  const key = `${older}-${newer}`;
  const [diff, setDiff] = useState<{ key: string; text: string } | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (older === null || newer === null || older === newer) return;
    let current = true;
    setError(null);
    const params = { path: { name }, query: { from: older, to: newer } };
    call(client.GET("/api/v1/apps/{name}/diff", { params }))
      .then((body) => current && setDiff({ key: `${older}-${newer}`, text: body.diff ?? "" }))
      .catch((failure: unknown) => current && setError(messageOf(failure)));
    return () => {
      current = false;
    };
  }, [client, name, older, newer]);

  return (
    <section className="app-part" aria-labelledby="diff-title">
      <h2 id="diff-title">Compare versions</h2>
      {versions.length < 2 ? (
        <p className="hint">Only one version so far: there is nothing to compare yet.</p>
      ) : (
        <>
          <div className="diff-pickers">
            <VersionSelect
              id="diff-from"
              label="From version"
              versions={versions}
              value={older}
              onChange={setFrom}
            />
            <VersionSelect
              id="diff-to"
              label="To version"
              versions={versions}
              value={newer}
              onChange={setTo}
            />
          </div>
          {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
          {older === newer ? (
            <p className="hint">Pick two different versions.</p>
          ) : diff?.key !== key ? (
            !error && <p aria-busy="true">Loading the changes…</p>
          ) : diff.text.trim() === "" ? (
            <p className="hint">The two versions' specs are the same.</p>
          ) : (
            <DiffText
              text={diff.text}
              label={`Changes from version ${older} to version ${newer}`}
            />
          )}
        </>
      )}
    </section>
  );
}

function VersionSelect(props: {
  id: string;
  label: string;
  versions: AppVersion[];
  value: number | null;
  onChange: (number: number) => void;
}) {
  return (
    <div>
      <label htmlFor={props.id}>{props.label}</label>
      <select
        id={props.id}
        value={props.value ?? ""}
        onChange={(event) => props.onChange(Number(event.target.value))}
      >
        {props.versions.map((version) => (
          <option key={version.number} value={version.number}>
            {version.number}
            {version.current ? " (current)" : ""}
            {version.label ? ` · ${version.label}` : ""}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A unified diff, its added and removed lines marked (and coloured). */
function DiffText({ text, label }: { text: string; label: string }) {
  const lines = text.replace(/\n$/, "").split("\n");
  return (
    <pre className="code-block diff" tabIndex={0} aria-label={label}>
      <code>
        {lines.map((line, index) => {
          const key = `${index}`;
          if (line.startsWith("+++") || line.startsWith("---")) {
            return <span key={key} className="diff-file">{`${line}\n`}</span>;
          }
          if (line.startsWith("@@")) {
            return <span key={key} className="diff-hunk">{`${line}\n`}</span>;
          }
          if (line.startsWith("+")) return <ins key={key}>{`${line}\n`}</ins>;
          if (line.startsWith("-")) return <del key={key}>{`${line}\n`}</del>;
          return <span key={key}>{`${line}\n`}</span>;
        })}
      </code>
    </pre>
  );
}
