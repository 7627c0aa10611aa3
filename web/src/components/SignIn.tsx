import { useEffect, useState } from "react";
import { SESSION, type Credentials } from "../auth";
import { apiClient, call, type AuthOptions, type User } from "../api/client";
import { ApiKeyForm } from "./ApiKeyForm";
import { ErrorMessage } from "./ErrorMessage";
import { PasswordForm } from "./PasswordForm";
import { RegisterForm } from "./RegisterForm";

interface Props {
  notice?: string;
  onSignedIn: (credentials: Credentials, user: User) => void;
}

type Mode = "password" | "register" | "key";

/** The sign-in page: name and password, a new account (when registration is open), single
 *  sign-on providers, and an API key as the fallback. */
export function SignIn({ notice, onSignedIn }: Props) {
  const [mode, setMode] = useState<Mode>("password");
  const [options, setOptions] = useState<AuthOptions | null>(null);

  useEffect(() => {
    let current = true;
    call(apiClient(SESSION).GET("/api/v1/auth/options"))
      .then((found) => current && setOptions(found))
      .catch(() => current && setOptions({ registration: "closed", sso: [] }));
    return () => {
      current = false;
    };
  }, []);

  const open = options?.registration === "open";
  const withSession = (user: User) => onSignedIn(SESSION, user);

  return (
    <main className="centered">
      <div className="card sign-in">
        {notice && mode === "password" && <ErrorMessage>{notice}</ErrorMessage>}
        {mode === "password" && <PasswordForm onSignedIn={withSession} />}
        {mode === "register" && <RegisterForm onSignedIn={withSession} />}
        {mode === "key" && <ApiKeyForm onSignedIn={(key, user) => onSignedIn(key, user)} />}
        {mode !== "key" && options && options.sso.length > 0 && (
          <div className="sso" aria-label="Single sign-on">
            {options.sso.map((provider) => (
              <a key={provider.name} className="button secondary" href={provider.login_url}>
                {provider.label}
              </a>
            ))}
          </div>
        )}
        <nav className="sign-in-modes" aria-label="Other ways to sign in">
          {mode !== "password" && (
            <button type="button" className="link" onClick={() => setMode("password")}>
              Sign in with a password
            </button>
          )}
          {mode !== "register" && open && (
            <button type="button" className="link" onClick={() => setMode("register")}>
              Create an account
            </button>
          )}
          {mode !== "key" && (
            <button type="button" className="link" onClick={() => setMode("key")}>
              Use an API key instead
            </button>
          )}
        </nav>
      </div>
    </main>
  );
}
