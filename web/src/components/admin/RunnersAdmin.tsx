import { useCallback, useState, type ReactNode } from "react";
import { call, type ApiClient } from "../../api/client";
import { ActionFeedback } from "./AdminTable";
import { ModelCatalogue } from "./runners/ModelCatalogue";
import { RunnerCard } from "./runners/RunnerCard";
import { CreateRunnerToken, NewRunnerToken, RunnerTokens } from "./runners/RunnerTokens";
import { SchedulerDecisions } from "./runners/SchedulerDecisions";
import type { CatalogueModel, Instance, RunnerToken, RunnersData } from "./runners/types";
import { useAdminList } from "./useAdminList";

const REFRESH_MS = 2000;
const DECISIONS = 50;

/** Runners and what runs on them: the machines (memory, GPUs, instances), the model
 *  catalogue, runner tokens and the scheduler's latest decisions; refreshed while open. */
export function RunnersAdmin({ client }: { client: ApiClient }) {
  const fetchAll = useCallback(async (): Promise<RunnersData> => {
    const query = { limit: DECISIONS };
    const [runners, models, tokens, decisions] = await Promise.all([
      call(client.GET("/api/v1/runners")),
      call(client.GET("/api/v1/models")),
      call(client.GET("/api/v1/runner-tokens")),
      call(client.GET("/api/v1/scheduler/decisions", { params: { query } })),
    ]);
    return { runners, models, tokens, decisions };
  }, [client]);
  const { data, error, setError, notice, act } = useAdminList(fetchAll, {
    refreshMs: REFRESH_MS,
  });
  const [created, setCreated] = useState<{ token: RunnerToken; secret: string } | null>(null);

  function unload(instance: Instance) {
    const path = { instance_id: instance.id };
    void act(
      () => call(client.DELETE("/api/v1/instances/{instance_id}", { params: { path } })),
      `Unloading ${instance.model} from ${instance.runner}.`,
    );
  }

  function warm(model: CatalogueModel) {
    void act(
      () => call(client.POST("/api/v1/instances", { body: { model: model.name } })),
      `Warming ${model.name}.`,
    );
  }

  function pin(model: CatalogueModel, minInstances: number) {
    const path = { name: model.name };
    return act(
      () =>
        call(
          client.POST("/api/v1/models/{name}/pin", {
            params: { path },
            body: { min_instances: minInstances },
          }),
        ),
      minInstances ? `${model.name} is kept warm (${minInstances}).` : `${model.name} is unpinned.`,
    );
  }

  function remove(model: CatalogueModel) {
    const path = { name: model.name };
    void act(
      () => call(client.DELETE("/api/v1/models/{name}", { params: { path } })),
      `Deleted ${model.name}.`,
    );
  }

  function createToken(name: string) {
    return act(async () => {
      const token = await call(client.POST("/api/v1/runner-tokens", { body: { name } }));
      setCreated({ token, secret: token.token ?? "" });
    }, `Created a token for ${name}.`);
  }

  function revoke(token: RunnerToken) {
    const path = { name: token.name };
    void act(
      () => call(client.DELETE("/api/v1/runner-tokens/{name}", { params: { path } })),
      `Revoked the token of ${token.name}.`,
    );
  }

  return (
    <section aria-labelledby="runners-title">
      <h1 id="runners-title">Runners</h1>
      <p className="hint">Refreshed every {REFRESH_MS / 1000} seconds while this page is open.</p>
      <ActionFeedback error={error} notice={notice} onDismiss={() => setError(null)} />
      {data === null ? (
        <p aria-busy="true">Loading runners…</p>
      ) : (
        <>
          <Part id="runners-connected" title="Connected runners">
            {data.runners.length === 0 ? (
              <p className="hint">No runner is connected.</p>
            ) : (
              <div className="runner-cards">
                {data.runners.map((runner) => (
                  <RunnerCard key={runner.id} runner={runner} onUnload={unload} />
                ))}
              </div>
            )}
          </Part>
          <Part id="runners-catalogue" title="Model catalogue">
            <ModelCatalogue models={data.models} onWarm={warm} onPin={pin} onDelete={remove} />
          </Part>
          <Part id="runners-tokens" title="Runner tokens">
            <CreateRunnerToken onCreate={createToken} />
            {created && (
              <NewRunnerToken
                token={created.token}
                secret={created.secret}
                onDone={() => setCreated(null)}
              />
            )}
            <RunnerTokens tokens={data.tokens} onRevoke={revoke} />
          </Part>
          <Part id="runners-decisions" title="Scheduler decisions">
            <SchedulerDecisions decisions={data.decisions} />
          </Part>
        </>
      )}
    </section>
  );
}

/** One part of the page: a titled section. */
function Part(props: { id: string; title: string; children: ReactNode }) {
  return (
    <section className="admin-part" aria-labelledby={props.id}>
      <h2 id={props.id}>{props.title}</h2>
      {props.children}
    </section>
  );
}
