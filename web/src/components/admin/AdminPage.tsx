import { useMemo, type MouseEvent } from "react";
import type { Credentials } from "../../auth";
import { apiClient } from "../../api/client";
import { usePath } from "../../router";
import { ApiCallsLog } from "./ApiCallsLog";
import { ApiKeysAdmin } from "./ApiKeysAdmin";
import { AuditLog } from "./AuditLog";
import { OAuthProvidersAdmin } from "./OAuthProvidersAdmin";
import { ProvidersAdmin } from "./ProvidersAdmin";
import { RunnersAdmin } from "./RunnersAdmin";
import { TeamsAdmin } from "./teams/TeamsAdmin";
import { UsageAdmin } from "./UsageAdmin";
import { UsersAdmin } from "./UsersAdmin";

const SECTIONS = [
  { path: "/admin/users", label: "Users" },
  { path: "/admin/teams", label: "Teams" },
  { path: "/admin/keys", label: "API keys" },
  { path: "/admin/providers", label: "Providers" },
  { path: "/admin/runners", label: "Runners" },
  { path: "/admin/oauth", label: "OAuth providers" },
  { path: "/admin/usage", label: "Usage" },
  { path: "/admin/audit", label: "Audit log" },
  { path: "/admin/api-calls", label: "API calls" },
] as const;

/** The admin pages (/admin/...): shown only to users with the admin role. */
export function AdminPage({ credentials }: { credentials: Credentials }) {
  const [path, navigate] = usePath();
  const client = useMemo(() => apiClient(credentials), [credentials]);
  const current = SECTIONS.find((section) => path.startsWith(section.path)) ?? SECTIONS[0];

  function follow(event: MouseEvent<HTMLAnchorElement>, to: string) {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate(to);
  }

  return (
    <div className="admin">
      <nav className="admin-nav" aria-label="Admin">
        <ul>
          {SECTIONS.map((section) => (
            <li key={section.path}>
              <a
                href={section.path}
                aria-current={section === current ? "page" : undefined}
                onClick={(event) => follow(event, section.path)}
              >
                {section.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main className="admin-main">
        {current.path === "/admin/users" && <UsersAdmin client={client} />}
        {current.path === "/admin/teams" && <TeamsAdmin client={client} />}
        {current.path === "/admin/keys" && <ApiKeysAdmin client={client} />}
        {current.path === "/admin/providers" && <ProvidersAdmin client={client} />}
        {current.path === "/admin/runners" && <RunnersAdmin client={client} />}
        {current.path === "/admin/usage" && <UsageAdmin client={client} />}
        {current.path === "/admin/audit" && <AuditLog client={client} />}
        {current.path === "/admin/oauth" && <OAuthProvidersAdmin client={client} />}
        {current.path === "/admin/api-calls" && <ApiCallsLog client={client} />}
      </main>
    </div>
  );
}
