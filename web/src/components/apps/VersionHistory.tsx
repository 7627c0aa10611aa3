import type { AppVersion } from "../../api/client";
import { DraftBadge } from "../evals/Bars";

/** Every version, newest first: the current one marked (and an eval's drafts, which never
 *  become current), its label, the git commit it was applied from, when, and the model each
 *  assistant used. */
export function VersionHistory({ versions }: { versions: AppVersion[] }) {
  return (
    <section className="app-part" aria-labelledby="history-title">
      <h2 id="history-title">Version history</h2>
      <div className="table-wrap" tabIndex={0} role="region" aria-label="Version history table">
        <table>
          <caption className="visually-hidden">Versions, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Label</th>
              <th scope="col">Commit</th>
              <th scope="col">Applied</th>
              <th scope="col">Models</th>
            </tr>
          </thead>
          <tbody>
            {versions.map((version) => (
              <tr key={version.number} aria-current={version.current ? "true" : undefined}>
                <th scope="row">
                  {version.number}
                  {version.current && <span className="badge ok version-current">Current</span>}
                  {version.draft && <DraftBadge />}
                </th>
                <td>{version.label || <span className="hint">—</span>}</td>
                <td>
                  <Commit git={version.git} />
                </td>
                <td>
                  <time dateTime={version.created_at}>
                    {new Date(version.created_at).toLocaleString()}
                  </time>
                </td>
                <td>
                  {version.models.map((model, index) => (
                    <code key={`${index}-${model}`} className="version-model">
                      {model}
                    </code>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function text(value: unknown): string | null {
  return typeof value === "string" && value ? value : null;
}

function Commit({ git }: { git: Record<string, unknown> }) {
  const commit = text(git.commit);
  const branch = text(git.branch);
  const remote = text(git.remote);
  if (!commit && !branch) return <span className="hint">—</span>;
  const where = [remote, branch].filter(Boolean).join(" ");
  return (
    <span title={[commit, where].filter(Boolean).join(" ") || undefined}>
      {commit && <code>{commit.slice(0, 10)}</code>}
      {branch && <span className="hint"> on {branch}</span>}
    </span>
  );
}
