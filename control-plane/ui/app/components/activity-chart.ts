/// <reference lib="dom" />
/**
 * Events per hour per source over the last days, as a small SVG line chart (one line per source, decision 0180):
 * data from GET /organizations/{id}/events/hourly (OpenSearch aggregations, decision 0181). The SVG scales to its
 * container's width (viewBox), so it never overflows a narrow screen.
 */
import { api } from '../api-client.ts';
import { describeError } from '../logic/error-message.ts';
import type { HourlyActivity } from '../logic/api-types.ts';
import { html, useEffect, useState } from './html.ts';

const WIDTH = 720;
const HEIGHT = 180;
const PAD = { left: 40, right: 8, top: 8, bottom: 22 };
const COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563'];

/** The polyline points of one source's counts in the chart's coordinates; pure. */
export function linePoints(counts: readonly number[], max: number): string {
  const w = WIDTH - PAD.left - PAD.right;
  const h = HEIGHT - PAD.top - PAD.bottom;
  const step = counts.length > 1 ? w / (counts.length - 1) : 0;
  return counts.map((c, i) => `${(PAD.left + i * step).toFixed(1)},${(PAD.top + h - (max > 0 ? (c / max) * h : 0)).toFixed(1)}`).join(' ');
}

export function ActivityChartView({ activity }: { activity: HourlyActivity }) {
  const max = Math.max(1, ...activity.sources.flatMap((s) => s.counts));
  const days = Math.round(activity.hours / 24);
  const from = Date.parse(activity.from);
  const dayTicks = Array.from({ length: days + 1 }, (_, d) => d);
  const x = (hour: number) => PAD.left + (hour / Math.max(1, activity.hours - 1)) * (WIDTH - PAD.left - PAD.right);
  const label = `Events per hour per source over the last ${days} days; peak ${max} per hour`;
  return html`<figure class="activity-chart" data-testid="activity-chart">
    <svg viewBox=${`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label=${label} preserveAspectRatio="none" class="activity-svg">
      <line x1=${PAD.left} y1=${HEIGHT - PAD.bottom} x2=${WIDTH - PAD.right} y2=${HEIGHT - PAD.bottom} class="axis" />
      <text x=${PAD.left - 4} y=${PAD.top + 10} text-anchor="end" class="tick">${max}</text>
      <text x=${PAD.left - 4} y=${HEIGHT - PAD.bottom} text-anchor="end" class="tick">0</text>
      ${dayTicks.map((d) => {
        const hour = Math.min(activity.hours - 1, d * 24);
        const day = new Date(from + hour * 3_600_000).toISOString().slice(5, 10);
        // The end labels anchor inwards so the SVG's edge never cuts them.
        const anchor = d === 0 ? 'start' : d === days ? 'end' : 'middle';
        return html`<text x=${x(hour)} y=${HEIGHT - 6} text-anchor=${anchor} class="tick">${day}</text>`;
      })}
      ${activity.sources.map(
        (s, i) =>
          html`<polyline points=${linePoints(s.counts, max)} fill="none" stroke=${COLOURS[i % COLOURS.length]} stroke-width="1.5" data-dataset=${s.dataset} />`,
      )}
    </svg>
    <figcaption>
      <ul class="chart-legend">
        ${activity.sources.map(
          (s, i) =>
            html`<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill=${COLOURS[i % COLOURS.length]} /></svg> ${s.dataset}: ${s.total}</li>`,
        )}
      </ul>
      ${activity.sources.length === 0 ? html`<p class="muted">No events in the last ${days} days.</p>` : null}
    </figcaption>
  </figure>`;
}

export function ActivityChart({ orgId }: { orgId: string }) {
  const [state, setState] = useState<{ activity?: HourlyActivity; error?: string }>({});
  useEffect(() => {
    let live = true;
    api.hourlyActivity(orgId).then(
      (activity) => live && setState({ activity }),
      (error: unknown) => live && setState({ error: describeError(error) }),
    );
    return () => {
      live = false;
    };
  }, [orgId]);
  if (state.error) return html`<p class="muted">${state.error}</p>`;
  if (!state.activity) return html`<p class="muted">Loading activity…</p>`;
  return html`<${ActivityChartView} activity=${state.activity} />`;
}
