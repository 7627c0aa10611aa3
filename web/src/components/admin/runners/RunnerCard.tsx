import { InstanceList } from "./InstanceList";
import { MemoryMeter } from "./MemoryMeter";
import { formatAge, formatBytes, formatTime } from "./format";
import type { Instance, Runner } from "./types";

/** One connected runner: its machine, its memory (for models, and per GPU), its instances. */
export function RunnerCard(props: { runner: Runner; onUnload: (instance: Instance) => void }) {
  const { runner } = props;
  const titleId = `runner-${runner.id}`;
  const engines = Object.entries(runner.engines);
  return (
    <article className="runner-card" aria-labelledby={titleId}>
      <header>
        <h3 id={titleId}>{runner.name}</h3>
        <span className="hint">
          {runner.hostname} · {runner.platform}
        </span>
      </header>
      <dl className="runner-facts">
        <div>
          <dt>CPUs</dt>
          <dd>{runner.cpu_count}</dd>
        </div>
        <div>
          <dt>RAM</dt>
          <dd>{formatBytes(runner.memory_total)}</dd>
        </div>
        <div>
          <dt>Last seen</dt>
          <dd title={`Connected ${formatTime(runner.connected_at)}`}>
            {formatAge(runner.last_seen_seconds)}
          </dd>
        </div>
        <div>
          <dt>Version</dt>
          <dd>{runner.version}</dd>
        </div>
        <div className="wide">
          <dt>Engines</dt>
          <dd>
            {engines.length === 0
              ? "none"
              : engines.map(([name, version]) => (
                  <code key={name} className="engine">
                    {name} {version}
                  </code>
                ))}
          </dd>
        </div>
      </dl>
      <MemoryMeter label="Memory for models" used={runner.used} total={runner.capacity} />
      {runner.gpus.map((gpu) => (
        <MemoryMeter
          key={gpu.uuid ?? gpu.index}
          label={`GPU ${gpu.index}: ${gpu.name}`}
          used={gpu.memory_used}
          total={gpu.memory_total}
        />
      ))}
      <h4>Instances</h4>
      <InstanceList instances={runner.instances} onUnload={props.onUnload} />
    </article>
  );
}
