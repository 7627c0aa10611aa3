import { useState } from "react";

/** The app's spec as applied, read-only (apps change through `homeport apply -f`). */
export function SpecYaml({ name, yaml }: { name: string; yaml: string }) {
  const [copied, setCopied] = useState<string | null>(null);

  async function copy() {
    try {
      await navigator.clipboard.writeText(yaml);
      setCopied("Copied.");
    } catch {
      setCopied("Could not copy: select the text and copy it.");
    }
  }

  return (
    <section className="app-part" aria-labelledby="spec-title">
      <div className="app-part-head">
        <h2 id="spec-title">Spec</h2>
        <button type="button" className="secondary" onClick={() => void copy()}>
          Copy YAML
        </button>
        <span role="status" className="hint">
          {copied}
        </span>
      </div>
      <p className="hint">
        Read-only: change the file in git and apply it with{" "}
        <code>homeport apply -f {name}.yaml</code>.
      </p>
      <pre className="code-block spec-yaml" tabIndex={0} aria-label={`YAML of ${name}`}>
        <code>{yaml}</code>
      </pre>
    </section>
  );
}
