// Dead letters: grouped by reason, select rows or all matching, redrive / purge after a dry-run count (operators).
import { html, useEffect, useState } from '/vendor/htm-preact.js';
import { get, post, qs, usePoll } from './api.js';
import { Cli, Empty, ErrorBox, FilterInput, Link, fmtTime, sh, useQuery } from './ui.js';

export function DeadLetters({ session }) {
  const [q, setQ] = useQuery();
  const reasons = (q.reasons || '').split(',').filter(Boolean);
  const filter = { reasons: reasons.join(','), target: q.target || '', type: q.type || '' };
  const key = JSON.stringify(filter);
  const res = usePoll(() => get(`/api/dlq${qs(filter)}`), 5000, [key]);
  const [selected, setSelected] = useState(new Set());
  const [all, setAll] = useState(false);
  const [confirm, setConfirm] = useState(null); // { action, count, body, cli }
  const [result, setResult] = useState(null);
  const [actionError, setActionError] = useState(null);
  useEffect(() => {
    setSelected(new Set());
    setAll(false);
    setConfirm(null);
  }, [key]);
  const operator = session && session.role === 'operator';
  const data = res.data || {};
  const rows = data.deadLetters || [];
  const counts = Object.entries(data.countsByReason || {}).sort((a, b) => b[1] - a[1]);
  const total = data.total ?? rows.length;
  const set = (k) => (v) => setQ({ ...q, [k]: v });
  const toggleReason = (r) => setQ({ ...q, reasons: reasons.includes(r) ? reasons.filter((x) => x !== r).join(',') : [...reasons, r].join(',') });
  const toggle = (id) => {
    const s = new Set(selected);
    if (s.has(id)) s.delete(id);
    else s.add(id);
    setSelected(s);
    setAll(false);
  };
  const apiFilter = { reasons, target: filter.target, commandType: filter.type };
  const filterFlags = [reasons.length && `--reason ${reasons.join(',')}`, filter.target && `--target ${sh(filter.target)}`, filter.type && `--type ${sh(filter.type)}`].filter(Boolean).join(' ');
  const cliFor = (action) => (all ? `nexusctl dlq ${action} ${filterFlags || '--all'} --yes` : `nexusctl dlq ${action} ${[...selected].map(sh).join(' ')}`);
  const prepare = async (action) => {
    setResult(null);
    setActionError(null);
    const body = all ? { filter: apiFilter } : { ids: [...selected] };
    try {
      const dry = await post(`/api/dlq/${action}`, { ...body, dryRun: true });
      setConfirm({ action, count: dry.matched ?? 0, truncated: dry.truncated, body, cli: cliFor(action) });
    } catch (err) {
      setActionError(err);
    }
  };
  const run = async () => {
    const c = confirm;
    setConfirm({ ...c, busy: true });
    try {
      const r = await post(`/api/dlq/${c.action}`, { ...c.body, dryRun: false });
      setResult({ action: c.action, ...r });
      setConfirm(null);
      setSelected(new Set());
      setAll(false);
      res.reload();
    } catch (err) {
      setActionError(err);
      setConfirm(null);
    }
  };
  const chosen = all ? total : selected.size;
  return html`<section data-testid="page-dlq">
    <h1>Dead letters <span class="muted small">${res.data ? `${total} matching` : ''}</span></h1>
    <div class="card">
      <h2>By reason <span class="muted small">click to filter</span></h2>
      ${counts.length ? html`<div class="chips" data-testid="reasons">${counts.map(([r, n]) => html`<button type="button" class=${`chip ${reasons.includes(r) ? 'on' : ''}`} onClick=${() => toggleReason(r)} data-testid=${`reason-${r}`} aria-pressed=${reasons.includes(r)}>${r} <strong>${n}</strong></button>`)}</div>` : html`<p class="muted">No dead letters${reasons.length ? ' with these reasons' : ''}.</p>`}
    </div>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <${FilterInput} label="Target" value=${filter.target} onCommit=${set('target')} testid="filter-target" />
      <${FilterInput} label="Type" value=${filter.type} onCommit=${set('type')} testid="filter-type" />
      ${reasons.length > 0 && html`<button type="button" class="link" onClick=${() => setQ({ ...q, reasons: '' })}>clear reasons</button>`}
    </form>
    <${Cli} cmd=${`nexusctl dlq list ${filterFlags}`.trim()} />
    <${ErrorBox} error=${res.error} />
    ${operator && rows.length > 0 && html`<div class="toolbar" data-testid="dlq-actions">
      <label class="check"><input type="checkbox" checked=${all} onChange=${(e) => { setAll(e.target.checked); setSelected(new Set()); }} data-testid="select-all-matching" /> all ${total} matching</label>
      <span class="muted">${chosen} selected</span>
      <button type="button" class="primary" disabled=${!chosen} onClick=${() => prepare('redrive')} data-testid="redrive">Redrive…</button>
      <button type="button" class="danger" disabled=${!chosen} onClick=${() => prepare('purge')} data-testid="purge">Purge…</button>
    </div>`}
    ${confirm && html`<div class="confirm card" role="dialog" aria-modal="false" data-testid="confirm">
      <p><strong>${confirm.action === 'redrive' ? 'Redrive' : 'Purge'} ${confirm.count} dead letter${confirm.count === 1 ? '' : 's'}?</strong>
        ${confirm.action === 'redrive' ? ' Each is sent again as a new command (redrive_of links them).' : ' They are deleted for good.'}
        ${confirm.truncated ? html` <span class="notice warn">more than the server acts on in one call: repeat to finish</span>` : ''}</p>
      <${Cli} cmd=${confirm.cli} />
      <div class="actions">
        <button type="button" class=${confirm.action === 'purge' ? 'danger' : 'primary'} onClick=${run} disabled=${confirm.busy || !confirm.count} data-testid="confirm-yes">${confirm.action === 'redrive' ? 'Redrive' : 'Purge'} ${confirm.count}</button>
        <button type="button" onClick=${() => setConfirm(null)} data-testid="confirm-no">Cancel</button>
      </div>
    </div>`}
    ${result && html`<div class="notice ok" data-testid="dlq-result">${result.action === 'redrive' ? `Redriven ${result.redriven ?? 0} of ${result.matched ?? 0}` : `Purged ${result.purged ?? 0} of ${result.matched ?? 0}`}${result.truncated ? ' (more remain: repeat)' : ''}.
      ${(result.commandIds || []).slice(0, 5).map((id) => html` <${Link} href=${`/commands/${encodeURIComponent(id)}`}><code>${id}</code></${Link}>`)}</div>`}
    <${ErrorBox} error=${actionError} />
    ${res.data && !rows.length && html`<${Empty}>The dead letter queue is empty${reasons.length || filter.target || filter.type ? ' for these filters' : ''}.</${Empty}>`}
    ${rows.length > 0 && html`<table data-testid="dlq-table">
      <thead><tr>${operator && html`<th class="sel"></th>`}<th>ID</th><th>Reason</th><th>Command</th><th>Type</th><th>Target</th><th class="num">Attempts</th><th>Dead at</th><th>Error</th></tr></thead>
      <tbody>${rows.map((d) => html`<tr data-testid="dlq-row" data-id=${d.id} class=${all || selected.has(d.id) ? 'selected' : ''}>
        ${operator && html`<td class="sel"><input type="checkbox" checked=${all || selected.has(d.id)} disabled=${all} onChange=${() => toggle(d.id)} data-testid="dlq-select" aria-label=${`select ${d.id}`} /></td>`}
        <td><code>${d.id}</code></td>
        <td><span class="badge st-dead">${d.reason}</span></td>
        <td>${d.commandId ? html`<${Link} href=${`/commands/${encodeURIComponent(d.commandId)}`}><code>${d.commandId}</code></${Link}>` : '—'}</td>
        <td>${d.commandType || '—'}</td>
        <td>${d.target ? html`<code>${d.target}</code>` : '—'}</td>
        <td class="num">${d.attempts ?? 0}</td>
        <td>${fmtTime(d.deadAtUnixMs)}</td>
        <td class="note">${d.error || ''}</td>
      </tr>`)}</tbody>
    </table>`}
    ${data.nextPageToken && html`<p class="muted small">Showing the first ${rows.length} of ${total}; "all matching" acts on every one.</p>`}
  </section>`;
}
