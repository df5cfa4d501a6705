// The organization's configuration the screens share: lead and opportunity statuses and
// lead custom fields, fetched once and refetched when a realtime event says they changed.

import { api } from './api.js';

const cache = new Map();
const sources = {
  leadStatuses: 'status/lead/?_limit=200',
  opportunityStatuses: 'status/opportunity/?_limit=200',
  leadFields: 'custom_field/lead/?_limit=200',
  contactFields: 'custom_field/contact/?_limit=200',
};

/** A promise of the list (`data`) named `name`. */
export function meta(name) {
  if (!cache.has(name)) {
    const p = api.get(sources[name]).then((answer) => answer.data || []);
    p.catch(() => cache.delete(name));
    cache.set(name, p);
  }
  return cache.get(name);
}

const byObjectType = {
  'status.lead': 'leadStatuses',
  'status.opportunity': 'opportunityStatuses',
  'custom_field.lead': 'leadFields',
  'custom_field.contact': 'contactFields',
};

/** Forgets a list when an event changes it. */
export function watchMeta(realtime) {
  realtime.on('event', (event) => {
    const name = event && byObjectType[event.object_type];
    if (name) cache.delete(name);
  });
}

/** Forgets everything (another user may sign in next). */
export function clearMeta() {
  cache.clear();
}
