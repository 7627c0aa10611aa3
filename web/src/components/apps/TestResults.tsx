/** How many tests the app's assistants define (`tests:` in the spec). */
function testCount(spec: Record<string, unknown>): number {
  const assistants = Array.isArray(spec.assistants) ? (spec.assistants as unknown[]) : [];
  return assistants.reduce<number>((total, assistant) => {
    const tests =
      typeof assistant === "object" && assistant !== null && "tests" in assistant
        ? assistant.tests
        : null;
    return total + (Array.isArray(tests) ? tests.length : 0);
  }, 0);
}

/** Where the app's eval runs will show. There is no API for them yet, so nothing is shown but
 *  what the spec defines. */
export function TestResults({ spec }: { spec: Record<string, unknown> }) {
  const count = testCount(spec);
  return (
    <section className="app-part" aria-labelledby="tests-title">
      <h2 id="tests-title">Test results</h2>
      <p>No eval runs yet.</p>
      {count > 0 && (
        <p className="hint">
          This version defines {count === 1 ? "1 test" : `${count} tests`} (<code>tests:</code> in
          the spec); their results will show here once they have run.
        </p>
      )}
    </section>
  );
}
