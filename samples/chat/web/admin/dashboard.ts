import { atmosphere } from '@atmosphere/client';

/** What the server sends over `/admin/live` (`DashboardSnapshot` in src/dashboard.ts). */
interface Snapshot {
  at: number;
  connections: Record<string, number>;
  dashboards: number;
  connectionsTotal: number;
  messagesBroadcast: number;
  messagesPerSecond: number;
  messagesDelivered: number;
  deliveriesPerSecond: number;
  aiRunsActive: number;
  aiPrompts: number;
  aiTokens: number;
  aiTokensPerSecond: number;
  aiCostUsd: number;
  roomsActive: number;
  roomMembers: number;
  tokenToPaint: Percentiles | null;
  tokenToReceive: Percentiles | null;
}

/** Percentiles in ms, from a histogram's buckets (`Percentiles` in src/quantiles.ts). */
interface Percentiles {
  samples: number;
  p50: number;
  p90: number;
  p99: number;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const status = $<HTMLParagraphElement>('status');
const number = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });
const money = new Intl.NumberFormat('en', { maximumFractionDigits: 4 });
const millis = new Intl.NumberFormat('en', { maximumFractionDigits: 1, useGrouping: false });

function show(id: string, value: number, format = number): void {
  $(id).textContent = format.format(value);
}

/** One row of the token-to-screen table (`paint`, `receive`): its percentiles, or dashes before any report. */
function showPercentiles(row: string, percentiles: Percentiles | null): void {
  for (const key of ['samples', 'p50', 'p90', 'p99'] as const)
    $(`${row}-${key}`).textContent =
      percentiles === null ? '–' : (key === 'samples' ? number : millis).format(percentiles[key]);
}

function render(snapshot: Snapshot): void {
  const transports = Object.entries(snapshot.connections).sort(([a], [b]) => a.localeCompare(b));
  show(
    'connections',
    transports.reduce((total, [, count]) => total + count, 0),
  );
  show('messages-rate', snapshot.messagesPerSecond);
  show('deliveries-rate', snapshot.deliveriesPerSecond);
  show('ai-runs', snapshot.aiRunsActive);
  show('ai-tokens-rate', snapshot.aiTokensPerSecond);
  show('rooms', snapshot.roomsActive);
  show('connections-total', snapshot.connectionsTotal);
  show('messages-total', snapshot.messagesBroadcast);
  show('deliveries-total', snapshot.messagesDelivered);
  show('ai-prompts', snapshot.aiPrompts);
  show('ai-tokens', snapshot.aiTokens);
  show('ai-cost', snapshot.aiCostUsd, money);
  show('room-members', snapshot.roomMembers);
  show('dashboards', snapshot.dashboards);
  showPercentiles('paint', snapshot.tokenToPaint);
  showPercentiles('receive', snapshot.tokenToReceive);
  const rows = transports.map(([transport, count]) => {
    const row = document.createElement('tr');
    row.dataset['transport'] = transport;
    const name = document.createElement('td');
    name.textContent = transport;
    const value = document.createElement('td');
    value.textContent = number.format(count);
    row.append(name, value);
    return row;
  });
  if (rows.length === 0) {
    const row = document.createElement('tr');
    row.textContent = 'no chat client connected';
    rows.push(row);
  }
  $('transports').replaceChildren(...rows);
  const updated = $<HTMLTimeElement>('updated');
  updated.dateTime = new Date(snapshot.at).toISOString();
  updated.textContent = new Date(snapshot.at).toLocaleTimeString();
}

function isSnapshot(value: unknown): value is Snapshot {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Snapshot).at === 'number' &&
    typeof (value as Snapshot).connections === 'object'
  );
}

function connect(): void {
  $('login').hidden = true;
  $('board').hidden = false;
  status.textContent = 'Connecting…';
  const subscription = atmosphere.subscribe({ url: '/admin/live' });
  subscription.on('open', () => {
    status.textContent = `Live (${subscription.transport})`;
    status.className = 'status open';
  });
  subscription.on('reconnect', () => {
    status.textContent = 'Reconnecting…';
    status.className = 'status';
  });
  subscription.on('close', () => {
    status.textContent = 'Disconnected';
    status.className = 'status';
  });
  subscription.on('message', (message) => {
    let data: unknown;
    try {
      data = message.json();
    } catch {
      return;
    }
    if (isSnapshot(data)) render(data);
  });
}

async function login(token: string): Promise<boolean> {
  const response = await fetch('/admin/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  return response.ok;
}

async function start(): Promise<void> {
  // The start script prints `/admin/#token=…`: the fragment never reaches a server or a log; trade it for the
  // cookie and take it out of the address bar.
  const fromLink = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromLink) {
    history.replaceState(null, '', location.pathname);
    await login(fromLink);
  }
  const session = (await (await fetch('/admin/session')).json()) as { operator?: unknown };
  if (session.operator === true) {
    connect();
    return;
  }
  status.textContent = 'Log in to see the dashboard.';
  const form = $<HTMLFormElement>('login');
  form.hidden = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $<HTMLInputElement>('token').value;
    login(token).then(
      (ok) => {
        if (ok) connect();
        else $('login-error').textContent = 'Wrong token.';
      },
      () => {
        $('login-error').textContent = 'The server could not be reached.';
      },
    );
  });
}

void start();
