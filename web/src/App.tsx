import { useCallback, useEffect, useState } from "react";
import { ApiError, apiClient, call, messageOf, type User } from "./api/client";
import { forgetKey, savedCredentials, type Credentials } from "./auth";
import { ChatPage } from "./components/ChatPage";
import { DeviceApproval } from "./components/DeviceApproval";
import { AdminPage } from "./components/admin/AdminPage";
import { AppsPage } from "./components/apps/AppsPage";
import { ConnectionsPage } from "./components/connections/ConnectionsPage";
import { KnowledgePage } from "./components/knowledge/KnowledgePage";
import { SignIn } from "./components/SignIn";
import { usePath } from "./router";

type Auth =
  | { state: "checking"; credentials: Credentials }
  | { state: "signed-out"; notice?: string }
  | { state: "signed-in"; credentials: Credentials; user: User };

function initialAuth(): Auth {
  const credentials = savedCredentials();
  return credentials ? { state: "checking", credentials } : { state: "signed-out" };
}

/** Who the credentials belong to. */
async function whoAmI(credentials: Credentials): Promise<User> {
  const client = apiClient(credentials);
  if (credentials.kind === "key") return call(client.GET("/api/v1/me"));
  return (await call(client.GET("/api/v1/auth/session"))).user;
}

/** End the browser session (the server clears the cookies); forget a saved key. */
async function endSignIn(credentials: Credentials | null): Promise<void> {
  forgetKey();
  if (credentials?.kind !== "session") return;
  try {
    await call(apiClient(credentials).POST("/api/v1/auth/logout"));
  } catch {
    // Signed out on this side in any case; the session expires on its own.
  }
}

function isAdmin(user: User): boolean {
  return user.roles.includes("admin");
}

/** Which page a path shows: the server answers every non-API path with index.html. */
function pageOf(path: string): "device" | "admin" | "knowledge" | "apps" | "connections" | "chat" {
  if (path === "/device") return "device";
  if (path === "/connections") return "connections";
  if (path === "/admin" || path.startsWith("/admin/")) return "admin";
  if (path === "/knowledge" || path.startsWith("/knowledge/")) return "knowledge";
  if (path === "/apps" || path.startsWith("/apps/")) return "apps";
  return "chat";
}

export function App() {
  const [auth, setAuth] = useState<Auth>(initialAuth);
  const credentials = auth.state === "signed-out" ? null : auth.credentials;
  const [path] = usePath(); // pages move between each other without reloading (the app store)
  const page = pageOf(path);

  const signOut = useCallback(
    (notice?: string) => {
      void endSignIn(credentials).finally(() => setAuth({ state: "signed-out", notice }));
    },
    [credentials],
  );

  const onUnauthorized = useCallback(
    (message: string) => signOut(`Signed out: ${message}`),
    [signOut],
  );

  useEffect(() => {
    if (auth.state !== "checking") return;
    let current = true;
    whoAmI(auth.credentials)
      .then((user) => current && setAuth({ state: "signed-in", credentials: auth.credentials, user }))
      .catch((error: unknown) => {
        if (!current) return;
        if (error instanceof ApiError && error.unauthorized) {
          const what = auth.credentials.kind === "key" ? "saved API key is" : "session is";
          signOut(`Your ${what} no longer accepted: ${error.message}`);
        } else {
          setAuth({ state: "signed-out", notice: messageOf(error) });
        }
      });
    return () => {
      current = false;
    };
  }, [auth, signOut]);

  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">Homeport</span>
        {auth.state === "signed-in" && (
          <nav className="main-nav" aria-label="Main">
            <a href="/" aria-current={page === "chat" ? "page" : undefined}>
              Chat
            </a>
            <a href="/apps" aria-current={page === "apps" ? "page" : undefined}>
              Apps
            </a>
            <a href="/knowledge" aria-current={page === "knowledge" ? "page" : undefined}>
              Knowledge
            </a>
            <a href="/connections" aria-current={page === "connections" ? "page" : undefined}>
              Connections
            </a>
            {isAdmin(auth.user) && (
              <a href="/admin/users" aria-current={page === "admin" ? "page" : undefined}>
                Admin
              </a>
            )}
          </nav>
        )}
        {auth.state === "signed-in" && (
          <div className="account">
            <span aria-label="Signed in as">{auth.user.display_name || auth.user.name}</span>
            <button type="button" className="quiet" onClick={() => signOut()}>
              Sign out
            </button>
          </div>
        )}
      </header>
      {auth.state === "checking" && (
        <main className="centered" aria-busy="true">
          <p>Checking your sign-in…</p>
        </main>
      )}
      {auth.state === "signed-out" && (
        <SignIn
          notice={auth.notice}
          onSignedIn={(signedIn, user) =>
            setAuth({ state: "signed-in", credentials: signedIn, user })
          }
        />
      )}
      {auth.state === "signed-in" && page === "device" && (
        <DeviceApproval credentials={auth.credentials} />
      )}
      {auth.state === "signed-in" && page === "admin" && isAdmin(auth.user) && (
        <AdminPage credentials={auth.credentials} />
      )}
      {auth.state === "signed-in" && page === "admin" && !isAdmin(auth.user) && (
        <main className="centered">
          <div>
            <h1>Admin</h1>
            <p role="alert">Only admins can open this page.</p>
          </div>
        </main>
      )}
      {auth.state === "signed-in" && page === "knowledge" && (
        <KnowledgePage
          credentials={auth.credentials}
          user={auth.user}
          onUnauthorized={onUnauthorized}
        />
      )}
      {auth.state === "signed-in" && page === "apps" && (
        <AppsPage credentials={auth.credentials} user={auth.user} onUnauthorized={onUnauthorized} />
      )}
      {auth.state === "signed-in" && page === "connections" && (
        <ConnectionsPage credentials={auth.credentials} onUnauthorized={onUnauthorized} />
      )}
      {auth.state === "signed-in" && page === "chat" && (
        <ChatPage credentials={auth.credentials} onUnauthorized={onUnauthorized} />
      )}
    </div>
  );
}
