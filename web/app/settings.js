// Settings: one's account, the team, statuses, pipelines, custom fields, API keys (here)
// and websites, webhooks, Slack (settings-integrations.js). `#/settings/<screen>[/<id>]`.
// A member sees what only an admin may change read-only: no create, edit or delete
// controls (`CanManage`), so normal use meets no 403.

import { useState, useEffect, useRef } from 'preact/hooks';
import { api } from './api.js';
import {
  html, useList, useForm, Field, CopyButton, RenameRow, AddForm, Loaded, lines, userName, isAdmin, CanManage, useCanManage,
} from './settings-ui.js';
import { Websites, Webhooks, Slack } from './settings-integrations.js';

if (!document.querySelector('link[href="/app/settings.css"]')) {
  document.head.append(Object.assign(document.createElement('link'), { rel: 'stylesheet', href: '/app/settings.css' }));
}

// [route, title, screen, what only an admin changes there (absent: anyone's)]
const SCREENS = [
  ['account', 'My account', Account],
  ['team', 'Team', Team],
  ['statuses', 'Lead statuses', LeadStatuses, 'lead statuses'],
  ['pipelines', 'Pipelines', Pipelines, 'pipelines and their statuses'],
  ['custom-fields', 'Custom fields', CustomFields, 'custom fields'],
  ['api-keys', 'API keys', ApiKeys],
  ['websites', 'Websites & chat', Websites, 'websites'],
  ['webhooks', 'Webhooks', Webhooks, 'webhooks'],
  ['slack', 'Slack', Slack, 'Slack settings'],
];
/** Old addresses that still lead somewhere. */
const ALIASES = { users: 'team' };

export default function Settings({ route, me, users = [], onMe, onUsersChanged, onSignedOut }) {
  const [first, ...rest] = (route || '').replace(/^\/+/, '').split('/');
  const name = ALIASES[first] || first;
  const screen = SCREENS.find(([n]) => n === name) || SCREENS[0];
  const [key, title, Screen, adminOnly] = screen;
  const admin = isAdmin(me);
  return html`<div class="settings">
    <nav class="settings-nav" aria-label="Settings">
      <h1>Settings</h1>
      <ul>
        ${SCREENS.map(([n, label]) => html`<li key=${n}><a href=${`#/settings/${n}`} aria-current=${n === key ? 'page' : undefined}>${label}</a></li>`)}
      </ul>
    </nav>
    <section class="settings-screen" aria-labelledby="settings-title">
      <h2 id="settings-title">${title}</h2>
      ${adminOnly && !admin && html`<p class="readonly-note" role="note">Only an admin can change the ${adminOnly}; you see them as they are.</p>`}
      <${CanManage.Provider} value=${admin}>
        <${Screen} key=${key} me=${me} users=${users} sub=${rest.map(decodeURIComponent).join('/')}
          onMe=${onMe} onUsersChanged=${onUsersChanged} onSignedOut=${onSignedOut} />
      <//>
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
  const can = useCanManage();
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
                ${can && html`<button type="button" onClick=${() => setEditing(f.id)} aria-label=${`Edit ${f.name}`}>Edit</button>`}
              </li>`,
        )}
      </ul>
      ${can &&
      html`<h3>New ${kind} field</h3>
        <${CustomFieldForm} key=${kind} kind=${kind} done=${fields.reload} />`}
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

// --- Team: everyone in the organization; an admin adds members, changes roles, sets a
// member's password and removes members.

function Team({ me, onMe, onUsersChanged }) {
  const users = useList('user/');
  const admin = useCanManage();
  const [notice, setNotice] = useState('');
  const changed = (message) => {
    setNotice(message || '');
    users.reload();
    if (onUsersChanged) onUsersChanged();
  };
  const list = [...(users.items || [])].sort((a, b) => userName(a).localeCompare(userName(b)));
  return html`<${Loaded} screen="team" lists=${[users]}>
    <p class="muted">
      Everyone who works in this organization. Admins manage the team and the organization's settings; members work the leads.
      ${!admin && ' Only an admin can add or remove members and change roles.'}
    </p>
    <p class="notice" role="status">${notice}</p>
    <table class="table team">
      <thead><tr>
        <th scope="col">Name</th><th scope="col">Email</th><th scope="col">Role</th>
        ${admin && html`<th scope="col"><span class="sr-only">Actions</span></th>`}
      </tr></thead>
      <tbody>
        ${list.map((u) => html`<${MemberRow} key=${u.id} user=${u} me=${me} admin=${admin} onChange=${changed} onMe=${onMe} />`)}
      </tbody>
    </table>
    ${admin && html`<${NewUser} onAdded=${changed} />`}
  <//>`;
}

const roleName = (role) => (role === 'admin' ? 'an admin' : 'a member');

function MemberRow({ user, me, admin, onChange, onMe }) {
  const self = user.id === me.id;
  const name = userName(user);
  const [resetting, setResetting] = useState(false);
  const resetButton = useRef();
  const form = useForm();
  const setRole = async (e) => {
    const select = e.target;
    const role = select.value;
    if (self && role !== 'admin' && !confirm('Make yourself a member? You can then no longer manage the team or the settings.')) {
      select.value = user.role;
      return;
    }
    const stored = await form.run(() => api.put(`user/${user.id}`, { role }));
    if (!stored) {
      select.value = user.role;
      return;
    }
    onChange(`${name} is now ${roleName(role)}.`);
    if (self && onMe) onMe();
  };
  const remove = async () => {
    const question =
      `Remove ${name} (${user.email}) from the team?\n\n` +
      'They lose access at once: their sessions and API keys end. ' +
      'Their leads, notes, activities and other data stay.';
    if (!confirm(question)) return;
    if (await form.run(() => api.del(`user/${user.id}`))) onChange(`${name} was removed from the team; their data stays.`);
  };
  const closeReset = (message) => {
    setResetting(false);
    if (message) onChange(message);
    setTimeout(() => resetButton.current && resetButton.current.focus());
  };
  return html`
    <tr>
      <td>${name}${self && html` <span class="muted">(you)</span>`}</td>
      <td>${user.email}</td>
      <td>
        ${admin
          ? html`<${Field} as="select" id=${`role-${user.id}`} label=${`Role of ${name}`} hideLabel value=${user.role}
              disabled=${form.busy} onChange=${setRole}>
              <option value="admin">Admin</option><option value="member">Member</option>
            <//>`
          : user.role === 'admin' ? 'Admin' : 'Member'}
      </td>
      ${admin &&
      html`<td class="row-actions">
        ${!self &&
        html`<button type="button" ref=${resetButton} aria-expanded=${resetting ? 'true' : 'false'} aria-label=${`Reset the password of ${name}`}
            onClick=${() => setResetting(!resetting)}>Reset password</button>
          <button type="button" class="danger" disabled=${form.busy} aria-label=${`Remove ${name}`} onClick=${remove}>Remove</button>`}
        ${form.alert()}
      </td>`}
    </tr>
    ${resetting && html`<tr class="subrow"><td colspan="4"><${ResetMemberPassword} user=${user} name=${name} close=${closeReset} /></td></tr>`}
  `;
}

/** An admin sets a member's password (refused, 403, for an account that is also elsewhere). */
function ResetMemberPassword({ user, name, close }) {
  const [password, setPassword] = useState('');
  const form = useForm();
  const id = `reset-${user.id}`;
  useEffect(() => document.getElementById(id)?.focus(), []);
  const submit = async (e) => {
    e.preventDefault();
    if (await form.run(() => api.post(`user/${user.id}/password/`, { password }))) {
      close(`${name}'s password is set: give it to them in person or through a password manager.`);
    }
  };
  return html`<form class="inline add" onSubmit=${submit} onKeyDown=${(e) => e.key === 'Escape' && close()}
      aria-label=${`New password for ${name}`}>
    <${Field} id=${id} label=${`New password for ${name}`} type="password" autocomplete="new-password" required
      value=${password} onInput=${(e) => setPassword(e.target.value)} error=${form.err('password')} />
    <button type="submit" class="primary" disabled=${form.busy || !password}>Set password</button>
    <button type="button" onClick=${() => close()}>Cancel</button>
    ${form.alert()}
  </form>`;
}

function NewUser({ onAdded }) {
  const empty = { first_name: '', last_name: '', email: '', role: 'member', password: '' };
  const [user, setUser] = useState(empty);
  const form = useForm();
  const set = (k) => (e) => setUser({ ...user, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    const email = user.email.trim();
    const created = await form.run(() => api.post('user/', { ...user, email }));
    if (!created) return;
    setUser(empty);
    onAdded(`${userName(created)} (${created.email}) is now ${roleName(created.role)}.`);
  };
  return html`<form class="card grid-form" onSubmit=${submit} aria-labelledby="nu-title">
    <h3 id="nu-title">Add a member</h3>
    <${Field} id="nu-email" label="Email" type="email" autocomplete="off" required value=${user.email} onInput=${set('email')}
      error=${form.err('email')}
      hint="An email that already has a Rapport account (in another organization) joins as it is: it keeps its own password and name, and the password and name below are not used." />
    <${Field} id="nu-first" label="First name" value=${user.first_name} onInput=${set('first_name')} error=${form.err('first_name')} />
    <${Field} id="nu-last" label="Last name" value=${user.last_name} onInput=${set('last_name')} error=${form.err('last_name')} />
    <${Field} as="select" id="nu-role" label="Role" value=${user.role} onChange=${set('role')} error=${form.err('role')}
      hint="Admins manage the team and the settings; members work the leads.">
      <option value="member">Member</option><option value="admin">Admin</option>
    <//>
    <${Field} id="nu-password" label="Password" type="password" autocomplete="new-password" required value=${user.password}
      onInput=${set('password')} error=${form.err('password')}
      hint="Their first password: give it to them in person or through a password manager." />
    ${form.alert()}
    <div class="actions"><button type="submit" class="primary" disabled=${form.busy}>Add member</button></div>
  </form>`;
}

// --- My account: one's name and password.

function Account({ me, onMe, onUsersChanged, onSignedOut }) {
  return html`<div data-screen="account" data-ready>
    <${NameForm} me=${me} onMe=${onMe} onUsersChanged=${onUsersChanged} />
    <${PasswordForm} email=${me.email} onSignedOut=${onSignedOut} />
  </div>`;
}

function NameForm({ me, onMe, onUsersChanged }) {
  const [names, setNames] = useState({ first_name: me.first_name || '', last_name: me.last_name || '' });
  const [notice, setNotice] = useState('');
  const form = useForm();
  const set = (k) => (e) => {
    setNotice('');
    setNames({ ...names, [k]: e.target.value });
  };
  const unchanged = names.first_name.trim() === (me.first_name || '') && names.last_name.trim() === (me.last_name || '');
  const submit = async (e) => {
    e.preventDefault();
    const body = { first_name: names.first_name.trim(), last_name: names.last_name.trim() };
    if (!(await form.run(() => api.put(`user/${me.id}`, body)))) return;
    setNotice('Your name is saved.');
    if (onMe) onMe();
    if (onUsersChanged) onUsersChanged();
  };
  return html`<form class="card grid-form" onSubmit=${submit} aria-labelledby="acct-name-title">
    <h3 id="acct-name-title">Your name</h3>
    <p class="muted">You sign in as <strong>${me.email}</strong>. Your name is what your team sees on your notes, calls and changes.</p>
    <${Field} id="acct-first" label="First name" autocomplete="given-name" value=${names.first_name} onInput=${set('first_name')}
      error=${form.err('first_name')} />
    <${Field} id="acct-last" label="Last name" autocomplete="family-name" value=${names.last_name} onInput=${set('last_name')}
      error=${form.err('last_name')} />
    ${form.alert()}
    <p class="notice" role="status">${notice}</p>
    <div class="actions"><button type="submit" class="primary" disabled=${form.busy || unchanged}>Save name</button></div>
  </form>`;
}

function PasswordForm({ email, onSignedOut }) {
  const [v, setV] = useState({ current: '', password: '', confirm: '' });
  const [mismatch, setMismatch] = useState('');
  const form = useForm();
  const set = (k) => (e) => {
    setMismatch('');
    setV({ ...v, [k]: e.target.value });
  };
  const submit = async (e) => {
    e.preventDefault();
    if (v.password !== v.confirm) {
      setMismatch('does not match the new password');
      document.getElementById('acct-confirm').focus();
      return;
    }
    const ok = await form.run(() => api.post('me/password/', { current_password: v.current, password: v.password }));
    if (ok && onSignedOut) onSignedOut('Your password has changed: log in with the new one.');
  };
  return html`<form class="card grid-form" onSubmit=${submit} aria-labelledby="acct-password-title">
    <h3 id="acct-password-title">Change your password</h3>
    <p class="muted">Every session of yours ends, here and elsewhere: you log in again with the new password.</p>
    <input type="email" autocomplete="username" hidden readonly value=${email} />
    <${Field} id="acct-current" label="Current password" type="password" autocomplete="current-password" required value=${v.current}
      onInput=${set('current')} error=${form.err('current_password')} />
    <${Field} id="acct-password" label="New password" type="password" autocomplete="new-password" required value=${v.password}
      onInput=${set('password')} error=${form.err('password')} />
    <${Field} id="acct-confirm" label="Confirm the new password" type="password" autocomplete="new-password" required value=${v.confirm}
      onInput=${set('confirm')} error=${mismatch} />
    ${form.alert()}
    <div class="actions"><button type="submit" class="primary" disabled=${form.busy}>Change password</button></div>
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
