// Settings: statuses, pipelines, custom fields, users, API keys (here) and websites,
// webhooks, Slack (settings-integrations.js). `#/settings/<screen>[/<id>]`.

import { useState } from 'preact/hooks';
import { api } from './api.js';
import { html, useList, useForm, Field, CopyButton, RenameRow, AddForm, Loaded, lines, userName } from './settings-ui.js';
import { Websites, Webhooks, Slack } from './settings-integrations.js';

if (!document.querySelector('link[href="/app/settings.css"]')) {
  document.head.append(Object.assign(document.createElement('link'), { rel: 'stylesheet', href: '/app/settings.css' }));
}

const SCREENS = [
  ['statuses', 'Lead statuses', LeadStatuses],
  ['pipelines', 'Pipelines', Pipelines],
  ['custom-fields', 'Custom fields', CustomFields],
  ['users', 'Users', Users],
  ['api-keys', 'API keys', ApiKeys],
  ['websites', 'Websites & chat', Websites],
  ['webhooks', 'Webhooks', Webhooks],
  ['slack', 'Slack', Slack],
];

export default function Settings({ route, me, users = [] }) {
  const [name, ...rest] = (route || '').replace(/^\/+/, '').split('/');
  const screen = SCREENS.find(([n]) => n === name) || SCREENS[0];
  const [key, title, Screen] = screen;
  return html`<div class="settings">
    <nav class="settings-nav" aria-label="Settings">
      <h1>Settings</h1>
      <ul>
        ${SCREENS.map(([n, label]) => html`<li key=${n}><a href=${`#/settings/${n}`} aria-current=${n === key ? 'page' : undefined}>${label}</a></li>`)}
      </ul>
    </nav>
    <section class="settings-screen" aria-labelledby="settings-title">
      <h2 id="settings-title">${title}</h2>
      <${Screen} key=${key} me=${me} users=${users} sub=${rest.map(decodeURIComponent).join('/')} />
    </section>
  </div>`;
}

function LeadStatuses() {
  const statuses = useList('status/lead/');
  return html`<${Loaded} screen="statuses" lists=${[statuses]}>
    <p class="muted">The stages a lead goes through. Renaming keeps the leads in their status.</p>
    <ul class="rows">
      ${(statuses.items || []).map(
        (s) => html`<${RenameRow} key=${s.id} path="status/lead/" item=${s} what="lead status" onChange=${statuses.reload} />`,
      )}
    </ul>
    <${AddForm} path="status/lead/" label="New lead status" button="Add lead status" onAdded=${statuses.reload} />
  <//>`;
}

const STATUS_TYPES = ['active', 'won', 'lost'];
/** A status's place in its pipeline (new ones, not yet in `statuses`, last). */
const order = (p, s) => ((i) => (i === -1 ? 1e9 : i))((p.statuses || []).findIndex((x) => x.id === s.id));

function Pipelines() {
  const pipelines = useList('pipeline/');
  const statuses = useList('status/opportunity/');
  const reload = () => {
    pipelines.reload();
    statuses.reload();
  };
  return html`<${Loaded} screen="pipelines" lists=${[pipelines, statuses]}>
    <p class="muted">Each pipeline has its opportunity statuses: active ones, then won and lost.</p>
    ${(pipelines.items || []).map(
      (p) => html`<section class="card" key=${p.id} aria-label=${`Pipeline ${p.name}`}>
        <ul class="rows">
          <${RenameRow} path="pipeline/" item=${p} field="name" what="pipeline" onChange=${reload} />
        </ul>
        <h3>Opportunity statuses</h3>
        <ul class="rows">
          ${(statuses.items || [])
            .filter((s) => s.pipeline_id === p.id)
            .sort((a, b) => order(p, a) - order(p, b))
            .map(
              (s) => html`<${RenameRow} key=${s.id} path="status/opportunity/" item=${s} what="opportunity status" onChange=${reload}>
                <span class=${`pill ${s.status_type}`}>${s.status_type}</span>
              <//>`,
            )}
        </ul>
        <${NewOpportunityStatus} pipeline=${p} onAdded=${reload} />
      </section>`,
    )}
    <${AddForm} path="pipeline/" field="name" label="New pipeline" button="Add pipeline" onAdded=${reload} />
  <//>`;
}

function NewOpportunityStatus({ pipeline, onAdded }) {
  const [type, setType] = useState('active');
  return html`<${AddForm} path="status/opportunity/" label=${`New status in ${pipeline.name}`} button="Add status"
      extra=${{ pipeline_id: pipeline.id, status_type: type }} onAdded=${onAdded}>
    <${Field} as="select" id=${`type-${pipeline.id}`} label="Type" value=${type} onChange=${(e) => setType(e.target.value)}>
      ${STATUS_TYPES.map((t) => html`<option key=${t} value=${t}>${t}</option>`)}
    <//>
  <//>`;
}

const FIELD_KINDS = ['lead', 'contact', 'opportunity'];
const FIELD_TYPES = ['text', 'number', 'date', 'datetime', 'choices', 'user'];

function CustomFields({ sub }) {
  const kind = FIELD_KINDS.includes(sub) ? sub : 'lead';
  const fields = useList(`custom_field/${kind}/`);
  const [editing, setEditing] = useState(null);
  return html`<div>
    <div class="tabs" role="group" aria-label="Object">
      ${FIELD_KINDS.map(
        (k) => html`<a key=${k} class="tab" href=${`#/settings/custom-fields/${k}`} aria-current=${k === kind ? 'page' : undefined}>
          ${k[0].toUpperCase() + k.slice(1)} fields</a>`,
      )}
    </div>
    <${Loaded} screen="custom-fields" lists=${[fields]}>
      ${fields.items && fields.items.length === 0 && html`<p class="muted">No ${kind} fields yet.</p>`}
      <ul class="rows">
        ${(fields.items || []).map((f) =>
          editing === f.id
            ? html`<li key=${f.id}><${CustomFieldForm} kind=${kind} field=${f} done=${() => { setEditing(null); fields.reload(); }} /></li>`
            : html`<li key=${f.id} class="row">
                <strong>${f.name}</strong>
                <span class="pill">${f.type}${f.accepts_multiple_values ? ', multiple' : ''}</span>
                ${f.choices && f.choices.length > 0 && html`<span class="muted">${f.choices.join(' · ')}</span>`}
                <span class="grow"></span>
                <button type="button" onClick=${() => setEditing(f.id)}>Edit</button>
              </li>`,
        )}
      </ul>
      <h3>New ${kind} field</h3>
      <${CustomFieldForm} key=${kind} kind=${kind} done=${fields.reload} />
    <//>
  </div>`;
}

function CustomFieldForm({ kind, field, done }) {
  const [name, setName] = useState(field ? field.name : '');
  const [type, setType] = useState(field ? field.type : 'text');
  const [choices, setChoices] = useState(field && field.choices ? field.choices.join('\n') : '');
  const [multiple, setMultiple] = useState(field ? !!field.accepts_multiple_values : false);
  const [description, setDescription] = useState(field ? field.description || '' : '');
  const form = useForm();
  const path = `custom_field/${kind}/`;
  const id = field ? field.id : `new-${kind}`;
  const submit = async (e) => {
    e.preventDefault();
    const body = { name: name.trim(), accepts_multiple_values: multiple, description };
    if (type === 'choices') body.choices = lines(choices);
    if (!field) body.type = type;
    const ok = await form.run(() => (field ? api.put(`${path}${field.id}`, body) : api.post(path, body)));
    if (!ok) return;
    if (!field) {
      setName('');
      setChoices('');
      setDescription('');
    }
    done();
  };
  const remove = async () => {
    if (confirm(`Delete the field "${field.name}" and its values on every ${kind}?`) && (await form.run(() => api.del(`${path}${field.id}`)))) done();
  };
  return html`<form class="card grid-form" onSubmit=${submit}>
    <${Field} id=${`${id}-name`} label="Name" value=${name} onInput=${(e) => setName(e.target.value)} error=${form.err('name')} required />
    <${Field} as="select" id=${`${id}-type`} label="Type" value=${type} disabled=${!!field} onChange=${(e) => setType(e.target.value)}
      error=${form.err('type')} hint=${field ? 'The type cannot change.' : undefined}>
      ${FIELD_TYPES.map((t) => html`<option key=${t} value=${t}>${t}</option>`)}
    <//>
    ${type === 'choices' &&
    html`<${Field} as="textarea" id=${`${id}-choices`} label="Choices" hint="One per line." rows="4" value=${choices}
      onInput=${(e) => setChoices(e.target.value)} error=${form.err('choices')} />`}
    <label class="check"><input type="checkbox" checked=${multiple} onChange=${(e) => setMultiple(e.target.checked)} /> Accepts multiple values</label>
    <${Field} id=${`${id}-description`} label="Description" value=${description} onInput=${(e) => setDescription(e.target.value)}
      error=${form.err('description')} />
    ${form.alert()}
    <div class="actions">
      <button type="submit" class="primary" disabled=${form.busy}>${field ? 'Save field' : 'Add field'}</button>
      ${field && html`<button type="button" onClick=${() => done()}>Cancel</button>
        <button type="button" class="danger" onClick=${remove}>Delete</button>`}
    </div>
  </form>`;
}

function Users({ me }) {
  const users = useList('user/');
  const admin = me.role === 'admin' || (me.organizations || []).some((o) => o.id === me.organization_id && o.role === 'admin');
  return html`<${Loaded} screen="users" lists=${[users]}>
    <table class="table">
      <thead><tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Role</th></tr></thead>
      <tbody>
        ${(users.items || []).map(
          (u) => html`<tr key=${u.id}><td>${userName(u)}${u.id === me.id ? ' (you)' : ''}</td><td>${u.email}</td><td>${u.role}</td></tr>`,
        )}
      </tbody>
    </table>
    ${admin ? html`<${NewUser} onAdded=${users.reload} />` : html`<p class="muted">Only an admin can add users.</p>`}
  <//>`;
}

function NewUser({ onAdded }) {
  const empty = { first_name: '', last_name: '', email: '', role: 'member', password: '' };
  const [user, setUser] = useState(empty);
  const [added, setAdded] = useState('');
  const form = useForm();
  const set = (k) => (e) => setUser({ ...user, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    const created = await form.run(() => api.post('user/', { ...user, email: user.email.trim() }));
    if (!created) return;
    setAdded(`${user.email} can now log in with the password you chose.`);
    setUser(empty);
    onAdded();
  };
  return html`<form class="card grid-form" onSubmit=${submit}>
    <h3>Add a user</h3>
    <${Field} id="nu-first" label="First name" value=${user.first_name} onInput=${set('first_name')} error=${form.err('first_name')} />
    <${Field} id="nu-last" label="Last name" value=${user.last_name} onInput=${set('last_name')} error=${form.err('last_name')} />
    <${Field} id="nu-email" label="Email" type="email" required value=${user.email} onInput=${set('email')} error=${form.err('email')} />
    <${Field} as="select" id="nu-role" label="Role" value=${user.role} onChange=${set('role')} error=${form.err('role')}>
      <option value="member">Member</option><option value="admin">Admin</option>
    <//>
    <${Field} id="nu-password" label="Password" type="password" autocomplete="new-password" required value=${user.password}
      onInput=${set('password')} error=${form.err('password')} hint="Give it to them in person or through a password manager." />
    ${form.alert()}
    <p class="notice" role="status">${added}</p>
    <div class="actions"><button type="submit" class="primary" disabled=${form.busy}>Add user</button></div>
  </form>`;
}

function ApiKeys() {
  const keys = useList('api_key/');
  const [name, setName] = useState('');
  const [created, setCreated] = useState(null);
  const form = useForm();
  const create = async (e) => {
    e.preventDefault();
    const key = await form.run(() => api.post('api_key/', { name: name.trim() }));
    if (!key) return;
    setCreated(key);
    setName('');
    keys.reload();
  };
  const remove = async (k) => {
    if (confirm(`Delete the API key "${k.name}"? Programs using it stop working.`) && (await form.run(() => api.del(`api_key/${k.id}`)))) keys.reload();
  };
  return html`<${Loaded} screen="api-keys" lists=${[keys]}>
    <p class="muted">Your keys for the REST API: HTTP Basic with the key as user name and an empty password.</p>
    ${created &&
    html`<div class="card created" role="status">
      <p><strong>Your new key "${created.name}".</strong> Copy it now: it is not shown again.</p>
      <p><code>${created.key}</code> <${CopyButton} text=${created.key} label="Copy key" /></p>
      <button type="button" onClick=${() => setCreated(null)}>Done</button>
    </div>`}
    <table class="table">
      <thead><tr><th scope="col">Name</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>
        ${(keys.items || []).map(
          (k) => html`<tr key=${k.id}><td>${k.name}</td><td>${new Date(k.date_created).toLocaleString()}</td>
            <td><button type="button" class="danger" onClick=${() => remove(k)} aria-label=${`Delete key ${k.name}`}>Delete</button></td></tr>`,
        )}
      </tbody>
    </table>
    <form class="inline add" onSubmit=${create}>
      <${Field} id="key-name" label="New key's name" value=${name} onInput=${(e) => setName(e.target.value)} error=${form.err('name')}
        placeholder="e.g. Zapier" />
      <button type="submit" class="primary" disabled=${form.busy || !name.trim()}>Create key</button>
      ${form.alert()}
    </form>
  <//>`;
}
