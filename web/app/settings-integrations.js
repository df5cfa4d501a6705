// Settings that reach outside: websites (the chat widget), webhook subscriptions, Slack
// (a website's incoming-webhook URL for its chats, and subscriptions with target `slack`
// for CRM events). A member sees them read-only (`useCanManage`).

import { useState } from 'preact/hooks';
import { api } from './api.js';
import { html, useList, useForm, Field, CopyButton, Loaded, lines, userName, useCanManage } from './settings-ui.js';

export function Websites({ users, sub }) {
  const sites = useList('website/');
  const can = useCanManage();
  if (sub && !can) {
    const site = (sites.items || []).find((s) => s.id === sub);
    return html`<${Loaded} screen="websites" lists=${[sites]}>
      <p><a href="#/settings/websites">← All websites</a></p>
      ${site ? html`<${Snippet} site=${site} />` : html`<p class="form-error" role="alert">This website does not exist (any more).</p>`}
    <//>`;
  }
  if (sub) {
    const site = sub === 'new' ? null : (sites.items || []).find((s) => s.id === sub);
    return html`<${Loaded} screen="websites" lists=${[sites]}>
      <p><a href="#/settings/websites">← All websites</a></p>
      ${sub !== 'new' && !site
        ? html`<p class="form-error" role="alert">This website does not exist (any more).</p>`
        : html`<${WebsiteForm} key=${sub} site=${site} users=${users} saved=${sites.reload} />`}
    <//>`;
  }
  return html`<${Loaded} screen="websites" lists=${[sites]}>
    <p class="muted">Each website is a chat inbox with its own widget.
      ${can && html` <a class="button primary" href="#/settings/websites/new">New website</a>`}</p>
    <ul class="rows">
      ${(sites.items || []).map(
        (s) => html`<li key=${s.id} class="row">
          <a href=${`#/settings/websites/${s.id}`}><strong>${s.name}</strong></a>
          <span class="muted">${s.allowed_origins.length ? s.allowed_origins.join(', ') : 'any origin'}</span>
          <span class="grow"></span>
          <span class="muted">${s.operators.length ? `${s.operators.length} operator${s.operators.length > 1 ? 's' : ''}` : 'every user answers'}</span>
        </li>`,
      )}
    </ul>
    ${sites.items && !sites.items.length && html`<p class="muted">No website yet${can ? ': add one to put the chat widget on your site' : ''}.</p>`}
  <//>`;
}

const snippetOf = (site) => `<script src="${location.origin}/widget.js" data-key="${site.widget_key}" async></script>`;

/** A website's widget snippet, for whoever puts it on the site. */
function Snippet({ site }) {
  const snippet = snippetOf(site);
  return html`<section class="card" aria-labelledby="snippet-title">
    <h3 id="snippet-title">Widget snippet of ${site.name}</h3>
    <p class="muted">Paste it before <code>${'</body>'}</code> on every page of the website.</p>
    <pre class="snippet"><code>${snippet}</code></pre>
    <${CopyButton} text=${snippet} label="Copy snippet" />
  </section>`;
}

/** Secrets from a create's answer, kept until the new website's page shows them. */
const freshSecrets = new Map();

function WebsiteForm({ site, users, saved }) {
  const [v, setV] = useState(() => ({
    name: site ? site.name : '',
    greeting: site ? site.greeting || '' : '',
    origins: site ? site.allowed_origins.join('\n') : '',
    operators: site ? site.operators : [],
    slack: site ? site.slack_webhook_url || '' : '',
    delay: site ? String(site.notify_delay_seconds) : '180',
  }));
  const [notice, setNotice] = useState('');
  // The identity secret is shown once, in the answer to a create or a rotation.
  const [secret, setSecret] = useState(() => {
    const fresh = site && freshSecrets.get(site.id);
    if (fresh) freshSecrets.delete(site.id);
    return fresh || '';
  });
  const rotate = async () => {
    if (!confirm('Make a new identity secret? Hashes your server signs with the old one stop verifying at once.')) return;
    const rotated = await form.run(() => api.post(`website/${site.id}/rotate_secret/`, {}));
    if (rotated) setSecret(rotated.identity_secret);
  };
  const form = useForm();
  const set = (k) => (e) => setV({ ...v, [k]: e.target.value });
  const toggle = (id) => (e) =>
    setV({ ...v, operators: e.target.checked ? [...v.operators, id] : v.operators.filter((o) => o !== id) });
  const submit = async (e) => {
    e.preventDefault();
    setNotice('');
    const body = {
      name: v.name.trim(),
      greeting: v.greeting,
      allowed_origins: lines(v.origins),
      operators: v.operators,
      slack_webhook_url: v.slack.trim() || null,
      notify_delay_seconds: v.delay === '' ? 180 : Number(v.delay),
    };
    const stored = await form.run(() => (site ? api.put(`website/${site.id}`, body) : api.post('website/', body)));
    if (!stored) return;
    await saved();
    if (site) setNotice('Saved.');
    else {
      freshSecrets.set(stored.id, stored.identity_secret);
      location.hash = `#/settings/websites/${stored.id}`;
    }
  };
  const remove = async () => {
    if (!confirm(`Delete the website "${site.name}"? Its widget stops working.`)) return;
    if (await form.run(() => api.del(`website/${site.id}`))) {
      await saved();
      location.hash = '#/settings/websites';
    }
  };
  const snippet = site && snippetOf(site);
  return html`<div>
    ${site &&
    html`<section class="card" aria-labelledby="snippet-title">
      <h3 id="snippet-title">Widget snippet</h3>
      <p class="muted">Paste it before <code>${'</body>'}</code> on every page of the website.</p>
      <pre class="snippet"><code>${snippet}</code></pre>
      <${CopyButton} text=${snippet} label="Copy snippet" />
      <h3>Identity verification</h3>
      <p class="muted">To mark a visitor's email as verified, your server signs it: HMAC-SHA256 of the email with this secret, passed as${' '}
        <code>identify({ email, hash })</code>.</p>
      ${secret
        ? html`<p><code>${secret}</code> <${CopyButton} text=${secret} label="Copy secret" /></p>
            <p class="muted">Copy it now: it is not shown again.</p>`
        : html`<p class="muted">The secret was shown once, when it was made.</p>`}
      <p><button type="button" onClick=${rotate} disabled=${form.busy}>Rotate secret</button></p>
    </section>`}
    <form class="card grid-form" onSubmit=${submit}>
      <h3>${site ? `Edit ${site.name}` : 'New website'}</h3>
      <${Field} id="ws-name" label="Name" required value=${v.name} onInput=${set('name')} error=${form.err('name')}
        hint="Shown to operators and in the widget's header." />
      <${Field} as="textarea" id="ws-greeting" label="Greeting" rows="2" value=${v.greeting} onInput=${set('greeting')}
        error=${form.err('greeting')} hint="The first words the widget shows." />
      <${Field} as="textarea" id="ws-origins" label="Allowed origins" rows="3" value=${v.origins} onInput=${set('origins')}
        error=${form.err('allowed_origins')} placeholder="https://www.example.com" hint="One per line. Empty: any site may use the widget." />
      <fieldset class="field">
        <legend>Operators</legend>
        <small class="hint">Who answers this inbox and gets notified. None checked: every user.</small>
        ${users.map(
          (u) => html`<label class="check" key=${u.id}><input type="checkbox" checked=${v.operators.includes(u.id)} onChange=${toggle(u.id)} />
            ${userName(u)}</label>`,
        )}
        ${form.err('operators') && html`<small class="field-error">${form.err('operators')}</small>`}
      </fieldset>
      <${Field} id="ws-slack" label="Slack webhook URL" type="url" value=${v.slack} onInput=${set('slack')} error=${form.err('slack_webhook_url')}
        placeholder="https://hooks.slack.com/services/…" hint="Every visitor message is posted there. Empty: none." />
      <${Field} id="ws-delay" label="Email operators after (seconds unread)" type="number" min="0" max="86400" value=${v.delay}
        onInput=${set('delay')} error=${form.err('notify_delay_seconds')} />
      ${form.alert()}
      <p class="notice" role="status">${notice}</p>
      <div class="actions">
        <button type="submit" class="primary" disabled=${form.busy}>${site ? 'Save website' : 'Create website'}</button>
        ${site && html`<button type="button" class="danger" onClick=${remove}>Delete website</button>`}
      </div>
    </form>
  </div>`;
}

const OBJECTS = [
  ['lead', 'Lead'],
  ['contact', 'Contact'],
  ['opportunity', 'Opportunity'],
  ['task.lead', 'Task'],
  ['activity.note', 'Note'],
  ['activity.call', 'Call'],
  ['activity.email', 'Email'],
  ['activity.sms', 'SMS'],
  ['activity.meeting', 'Meeting'],
  ['activity.lead_status_change', 'Lead status change'],
  ['conversation', 'Chat conversation'],
  ['message', 'Chat message'],
];
const ACTIONS = ['created', 'updated', 'deleted'];
const eventKey = (e) => `${e.object_type}/${e.action}`;

function Subscriptions({ target, screen }) {
  const hooks = useList('webhook/');
  const can = useCanManage();
  const [editing, setEditing] = useState(null);
  const mine = (hooks.items || []).filter((w) => (w.target || 'webhook') === target);
  const done = () => {
    setEditing(null);
    hooks.reload();
  };
  return html`<${Loaded} screen=${screen} lists=${[hooks]}>
    <ul class="rows">
      ${mine.map((w) =>
        editing === w.id
          ? html`<li key=${w.id}><${SubscriptionForm} hook=${w} target=${target} done=${done} /></li>`
          : html`<li key=${w.id} class="row">
              <code class="url">${w.url}</code>
              <span class=${`pill ${w.status}`}>${w.status}</span>
              <span class="muted">${w.events.map((e) => `${e.object_type} ${e.action}`).join(', ')}</span>
              ${w.paused_reason && html`<span class="form-error">${w.paused_reason}</span>`}
              ${w.failing_since && html`<span class="form-error">failing since ${new Date(w.failing_since).toLocaleString()}</span>`}
              <span class="grow"></span>
              ${can && html`<button type="button" onClick=${() => setEditing(w.id)} aria-label=${`Edit ${w.url}`}>Edit</button>`}
            </li>`,
      )}
    </ul>
    ${hooks.items && !mine.length && html`<p class="muted">None yet.</p>`}
    ${can && html`<${SubscriptionForm} key=${target} target=${target} done=${hooks.reload} />`}
  <//>`;
}

function SubscriptionForm({ hook, target, done }) {
  const [url, setUrl] = useState(hook ? hook.url : '');
  const [events, setEvents] = useState(() => new Set(hook ? hook.events.map(eventKey) : ['lead/created']));
  const [status, setStatus] = useState(hook ? hook.status : 'active');
  const [secret, setSecret] = useState('');
  const form = useForm();
  const id = hook ? hook.id : `new-${target}`;
  const flip = (k) => (e) => {
    const next = new Set(events);
    e.target.checked ? next.add(k) : next.delete(k);
    setEvents(next);
  };
  const submit = async (e) => {
    e.preventDefault();
    const body = {
      url: url.trim(),
      events: [...events].map((k) => ({ object_type: k.split('/')[0], action: k.split('/')[1] })),
    };
    if (hook) body.status = status;
    else body.target = target;
    const stored = await form.run(() => (hook ? api.put(`webhook/${hook.id}`, body) : api.post('webhook/', body)));
    if (!stored) return;
    if (!hook) {
      setUrl('');
      // Slack checks no signature: the key would only confuse.
      if (stored.signature_key && target !== 'slack') setSecret(stored.signature_key);
    }
    done();
  };
  const remove = async () => {
    if (confirm(`Delete the subscription to ${hook.url}?`) && (await form.run(() => api.del(`webhook/${hook.id}`)))) done();
  };
  const slack = target === 'slack';
  return html`<form class="card grid-form" onSubmit=${submit}>
    <h3>${hook ? 'Edit subscription' : slack ? 'Send CRM events to Slack' : 'New webhook'}</h3>
    <${Field} id=${`${id}-url`} label=${slack ? 'Slack webhook URL' : 'URL'} type="url" required value=${url}
      onInput=${(e) => setUrl(e.target.value)} error=${form.err('url')}
      placeholder=${slack ? 'https://hooks.slack.com/services/…' : 'https://example.com/rapport-events'} />
    <fieldset class="field events">
      <legend>Events</legend>
      <table>
        <thead><tr><th scope="col"><span class="sr-only">Object</span></th>${ACTIONS.map((a) => html`<th scope="col" key=${a}>${a}</th>`)}</tr></thead>
        <tbody>
          ${OBJECTS.map(
            ([type, label]) => html`<tr key=${type}><th scope="row">${label}</th>
              ${ACTIONS.map(
                (a) => html`<td key=${a}><input type="checkbox" aria-label=${`${label} ${a}`} checked=${events.has(`${type}/${a}`)}
                  onChange=${flip(`${type}/${a}`)} /></td>`,
              )}</tr>`,
          )}
        </tbody>
      </table>
      ${form.err('events') && html`<small class="field-error">${form.err('events')}</small>`}
    </fieldset>
    ${hook &&
    html`<${Field} as="select" id=${`${id}-status`} label="Status" value=${status} onChange=${(e) => setStatus(e.target.value)} error=${form.err('status')}>
      <option value="active">active</option><option value="paused">paused</option>
    <//>`}
    ${form.alert()}
    ${secret &&
    html`<div class="created" role="status"><p>Signing key (shown once): <code>${secret}</code> <${CopyButton} text=${secret} /></p>
      <p class="muted small">Each delivery carries <code>close-sig-hash</code>, an HMAC-SHA256 with this key.</p></div>`}
    <div class="actions">
      <button type="submit" class="primary" disabled=${form.busy || !events.size}>${hook ? 'Save' : 'Subscribe'}</button>
      ${hook && html`<button type="button" onClick=${() => done()}>Cancel</button>
        <button type="button" class="danger" onClick=${remove}>Delete</button>`}
    </div>
  </form>`;
}

export function Webhooks() {
  return html`<p class="muted">Rapport POSTs each chosen event to the URL, signed, and retries for 3 days.</p>
    <${Subscriptions} target="webhook" screen="webhooks" />`;
}

export function Slack() {
  const sites = useList('website/');
  return html`<div>
    <h3>Chats to Slack</h3>
    <p class="muted">A website's visitor messages go to its Slack incoming webhook.</p>
    <${Loaded} screen="slack-sites" lists=${[sites]}>
      ${(sites.items || []).map((s) => html`<${SiteSlack} key=${s.id} site=${s} />`)}
      ${sites.items && !sites.items.length && html`<p class="muted">No website yet.</p>`}
    <//>
    <h3>CRM events to Slack</h3>
    <${Subscriptions} target="slack" screen="slack" />
  </div>`;
}

function SiteSlack({ site }) {
  const can = useCanManage();
  const [url, setUrl] = useState(site.slack_webhook_url || '');
  const [notice, setNotice] = useState('');
  const form = useForm();
  if (!can) {
    return html`<p class="row"><strong>${site.name}</strong>
      ${site.slack_webhook_url ? html`<code class="url">${site.slack_webhook_url}</code>` : html`<span class="muted">no Slack webhook</span>`}</p>`;
  }
  const submit = async (e) => {
    e.preventDefault();
    setNotice('');
    if (await form.run(() => api.put(`website/${site.id}`, { slack_webhook_url: url.trim() || null }))) setNotice('Saved.');
  };
  return html`<form class="inline add" onSubmit=${submit}>
    <${Field} id=${`slack-${site.id}`} label=${`Slack webhook URL of ${site.name}`} type="url" value=${url}
      onInput=${(e) => setUrl(e.target.value)} error=${form.err('slack_webhook_url')} placeholder="https://hooks.slack.com/services/…" />
    <button type="submit" disabled=${form.busy}>Save</button>
    <span role="status" class="notice">${notice}</span>
    ${form.alert()}
  </form>`;
}
