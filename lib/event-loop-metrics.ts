import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Middleware, ServiceBroker } from "moleculer";

/** Prometheus `process_eventloop_delay_seconds{quantile="0.5"|"0.99"|"max"}` (Grafana's event-loop panel). */
export const EVENT_LOOP_DELAY = "process.eventloop.delay.seconds";
const UPDATE_MS = 5000;

/**
 * Moleculer 0.15 exports no event-loop lag; this measures it with perf_hooks on every node
 * (metrics enabled) and publishes the last window's quantiles.
 */
export function EventLoopMetricsMiddleware(): Middleware {
  let histogram: ReturnType<typeof monitorEventLoopDelay> | undefined;
  let timer: NodeJS.Timeout | undefined;
  return {
    name: "EventLoopMetrics",
    async started(broker: ServiceBroker) {
      if (!broker.isMetricsEnabled()) return;
      if (!broker.metrics.hasMetric(EVENT_LOOP_DELAY)) {
        broker.metrics.register({ type: "gauge", name: EVENT_LOOP_DELAY, labelNames: ["quantile"], unit: "seconds", description: "Event-loop delay over the last 5 s" });
      }
      histogram = monitorEventLoopDelay({ resolution: 10 });
      histogram.enable();
      const publish = () => {
        if (!histogram || histogram.count === 0) return;
        const s = (ns: number) => ns / 1e9;
        broker.metrics.set(EVENT_LOOP_DELAY, s(histogram.percentile(50)), { quantile: "0.5" });
        broker.metrics.set(EVENT_LOOP_DELAY, s(histogram.percentile(99)), { quantile: "0.99" });
        broker.metrics.set(EVENT_LOOP_DELAY, s(histogram.max), { quantile: "max" });
        histogram.reset();
      };
      timer = setInterval(publish, UPDATE_MS);
      timer.unref();
      setTimeout(publish, 1000).unref(); // a first value soon after start
    },
    async stopped() {
      if (timer) clearInterval(timer);
      histogram?.disable();
      histogram = undefined;
    },
  } as Middleware;
}
