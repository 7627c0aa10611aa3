import { useCallback, useEffect, useState } from "react";
import { ApiError, apiClient, call, messageOf, type User } from "./api/client";
import { forgetKey, savedKey } from "./auth";
import { ChatPage } from "./components/ChatPage";
import { SignIn } from "./components/SignIn";

type Auth =
  | { state: "checking"; key: string }
  | { state: "signed-out"; notice?: string }
  | { state: "signed-in"; key: string; user: User };

function initialAuth(): Auth {
  const key = savedKey();
  return key ? { state: "checking", key } : { state: "signed-out" };
}

export function App() {
  const [auth, setAuth] = useState<Auth>(initialAuth);

  const signOut = useCallback((notice?: string) => {
    forgetKey();
    setAuth({ state: "signed-out", notice });
  }, []);

  const onUnauthorized = useCallback(
    (message: string) => signOut(`Signed out: ${message}`),
    [signOut],
  );

  useEffect(() => {
    if (auth.state !== "checking") return;
    let current = true;
    call(apiClient(auth.key).GET("/api/v1/me"))
      .then((user) => current && setAuth({ state: "signed-in", key: auth.key, user }))
      .catch((error: unknown) => {
        if (!current) return;
        if (error instanceof ApiError && error.unauthorized) {
          signOut(`Your saved API key is no longer accepted: ${error.message}`);
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
          <div className="account">
            <span aria-label="Signed in as">{auth.user.name}</span>
            <button type="button" className="quiet" onClick={() => signOut()}>
              Sign out
            </button>
          </div>
        )}
      </header>
      {auth.state === "checking" && (
        <main className="centered" aria-busy="true">
          <p>Checking your API key…</p>
        </main>
      )}
      {auth.state === "signed-out" && (
        <SignIn
          notice={auth.notice}
          onSignedIn={(key, user) => setAuth({ state: "signed-in", key, user })}
        />
      )}
      {auth.state === "signed-in" && (
        <ChatPage apiKey={auth.key} onUnauthorized={onUnauthorized} />
      )}
    </div>
  );
}
