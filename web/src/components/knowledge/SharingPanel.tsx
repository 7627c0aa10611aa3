import { useCallback, useState, type FormEvent } from "react";
import { ApiError, call, type ApiClient } from "../../api/client";
import { ErrorMessage } from "../ErrorMessage";
import { useAdminList } from "../admin/useAdminList";
import type { Grant, GrantPermission, SubjectType } from "./types";

const RESOURCE_TYPE = "knowledge";

const SUBJECTS: Record<SubjectType, string> = {
  user: "User",
  team: "Team",
  org: "Organization",
};

const PERMISSIONS: Record<GrantPermission, string> = {
  use: "Use: ask questions",
  edit: "Edit: also add and remove documents, and share",
};

/** A knowledge base's grants, when the caller may change them (its owner, an admin, or
 *  someone it is shared with for editing); `grants` is null otherwise, and while loading. */
export function useGrants(client: ApiClient, kbId: string) {
  const path = { resource_type: RESOURCE_TYPE, resource_id: kbId };
  const fetchGrants = useCallback(async (): Promise<Grant[] | "denied"> => {
    const params = { path: { resource_type: RESOURCE_TYPE, resource_id: kbId } };
    try {
      return await call(client.GET("/api/v1/sharing/{resource_type}/{resource_id}", { params }));
    } catch (failure) {
      // 403: shared with the caller for use only; 404: not theirs to see (or to manage).
      if (failure instanceof ApiError && [403, 404].includes(failure.status)) return "denied";
      throw failure;
    }
  }, [client, kbId]);
  const { data, error, setError, notice, act } = useAdminList(fetchGrants);

  function share(subjectType: SubjectType, subject: string, permission: GrantPermission) {
    const body = { subject_type: subjectType, subject, permission };
    return act(
      () =>
        call(
          client.POST("/api/v1/sharing/{resource_type}/{resource_id}", { params: { path }, body }),
        ),
      `Shared with ${subject} (${permission}).`,
    );
  }

  function revoke(grant: Grant) {
    if (!window.confirm(`Stop sharing with ${grant.subject_name}?`)) return;
    const grantPath = { ...path, grant_id: grant.id };
    void act(
      () =>
        call(
          client.DELETE("/api/v1/sharing/{resource_type}/{resource_id}/{grant_id}", {
            params: { path: grantPath },
          }),
        ),
      `No longer shared with ${grant.subject_name}.`,
    );
  }

  const grants = data === null || data === "denied" ? null : data;
  return { grants, error, setError, notice, share, revoke };
}

export type Sharing = ReturnType<typeof useGrants>;

/** Who the knowledge base is shared with (Revoke), and a form to share it with a user, a
 *  team or an organization. */
export function SharingPanel({ sharing }: { sharing: Sharing }) {
  const { grants } = sharing;
  return (
    <>
      {sharing.error && (
        <ErrorMessage onDismiss={() => sharing.setError(null)}>{sharing.error}</ErrorMessage>
      )}
      {sharing.notice && (
        <p role="status" className="notice">
          {sharing.notice}
        </p>
      )}
      {grants === null || grants.length === 0 ? (
        <p className="hint">Not shared with anyone.</p>
      ) : (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Sharing table">
          <table>
            <caption className="visually-hidden">Shared with</caption>
            <thead>
              <tr>
                <th scope="col">Shared with</th>
                <th scope="col">Kind</th>
                <th scope="col">Permission</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {grants.map((grant) => (
                <tr key={grant.id}>
                  <th scope="row">{grant.subject_name}</th>
                  <td>{SUBJECTS[grant.subject_type]}</td>
                  <td>{grant.permission === "edit" ? "Edit" : "Use"}</td>
                  <td className="row-actions">
                    <button
                      type="button"
                      className="danger"
                      aria-label={`Stop sharing with ${grant.subject_name}`}
                      onClick={() => sharing.revoke(grant)}
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ShareForm onShare={sharing.share} />
    </>
  );
}

function ShareForm(props: {
  onShare: (type: SubjectType, subject: string, permission: GrantPermission) => Promise<boolean>;
}) {
  const [subjectType, setSubjectType] = useState<SubjectType>("user");
  const [subject, setSubject] = useState("");
  const [permission, setPermission] = useState<GrantPermission>("use");
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!subject.trim()) return;
    setBusy(true);
    const shared = await props.onShare(subjectType, subject.trim(), permission);
    setBusy(false);
    if (shared) setSubject("");
  }

  const placeholder =
    subjectType === "team" ? "organization/team" : subjectType === "org" ? "default" : "name";
  return (
    <form className="admin-form" onSubmit={submit} aria-labelledby="kb-share-title">
      <h3 id="kb-share-title">Share</h3>
      <div className="fields">
        <div>
          <label htmlFor="kb-share-type">With a</label>
          <select
            id="kb-share-type"
            value={subjectType}
            onChange={(event) => setSubjectType(event.target.value as SubjectType)}
          >
            {Object.entries(SUBJECTS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="kb-share-subject">{SUBJECTS[subjectType]} name</label>
          <input
            id="kb-share-subject"
            required
            autoComplete="off"
            placeholder={placeholder}
            value={subject}
            onChange={(event) => setSubject(event.target.value)}
          />
        </div>
        <div>
          <label htmlFor="kb-share-permission">Permission</label>
          <select
            id="kb-share-permission"
            value={permission}
            onChange={(event) => setPermission(event.target.value as GrantPermission)}
          >
            {Object.entries(PERMISSIONS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
      </div>
      <button type="submit" disabled={busy || !subject.trim()}>
        {busy ? "Sharing…" : "Share"}
      </button>
    </form>
  );
}
