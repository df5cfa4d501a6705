// Keyboard shortcuts: one document listener; screens register their keys with
// `useKeys` (the last registered layer wins). `j`/`k` move focus between the elements of
// the main area marked `data-nav`; Enter then opens the focused link natively.

import { useEffect, useRef } from 'preact/hooks';
import { html } from './ui.js';

export const SHORTCUTS = [
  ['/', 'Focus the lead search'],
  ['j / k', 'Next / previous item in a list'],
  ['Enter', 'Open the selected item'],
  ['n', 'New note (on a lead)'],
  ['c', 'Log a call (on a lead)'],
  ['e', 'Edit the lead name (on a lead)'],
  ['g then l', 'Go to leads'],
  ['g then i', 'Go to the inbox'],
  ['g then s', 'Go to settings'],
  ['?', 'Show this list'],
  ['Esc', 'Close a menu or dialog, cancel an edit'],
];

const layers = [];
let pendingG = 0;

function typingIn(target) {
  if (!target || !target.closest) return false;
  return !!target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]');
}

/** Moves focus `step` items among `[data-nav]` in the main area. */
export function moveFocus(step) {
  const main = document.getElementById('main');
  if (!main) return;
  const items = [...main.querySelectorAll('[data-nav]')];
  if (!items.length) return;
  const current = items.findIndex((el) => el === document.activeElement || el.contains(document.activeElement));
  let next = current === -1 ? (step > 0 ? 0 : items.length - 1) : current + step;
  next = Math.max(0, Math.min(items.length - 1, next));
  items[next].focus();
  items[next].scrollIntoView({ block: 'nearest' });
}

function onKeyDown(e) {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
  if (typingIn(e.target)) return;
  if (document.querySelector('dialog[open]')) return;
  let key = e.key;
  if (pendingG && Date.now() - pendingG < 1200) {
    pendingG = 0;
    key = `g ${key}`;
  } else if (key === 'g') {
    pendingG = Date.now();
    return;
  }
  for (let i = layers.length - 1; i >= 0; i--) {
    const fn = layers[i].current[key];
    if (fn) {
      e.preventDefault();
      fn(e);
      return;
    }
  }
  const inList = !!(e.target.closest && e.target.closest('[data-nav]'));
  if (key === 'j' || (key === 'ArrowDown' && inList)) {
    e.preventDefault();
    moveFocus(1);
  } else if (key === 'k' || (key === 'ArrowUp' && inList)) {
    e.preventDefault();
    moveFocus(-1);
  }
}

let installed = false;
function install() {
  if (installed) return;
  installed = true;
  document.addEventListener('keydown', onKeyDown);
}

/** Registers `keys` (`{ '/': fn, 'g l': fn }`) while the calling component is mounted. */
export function useKeys(keys) {
  const ref = useRef(keys);
  ref.current = keys;
  useEffect(() => {
    install();
    layers.push(ref);
    return () => {
      const i = layers.indexOf(ref);
      if (i !== -1) layers.splice(i, 1);
    };
  }, []);
}

/** The `?` dialog. `dialogRef.current.showModal()` opens it. */
export function HelpDialog({ dialogRef }) {
  return html`<dialog ref=${dialogRef} class="help" aria-labelledby="help-title">
    <h2 id="help-title">Keyboard shortcuts</h2>
    <table>
      <tbody>
        ${SHORTCUTS.map(([k, what]) => html`<tr key=${k}><th scope="row"><kbd>${k}</kbd></th><td>${what}</td></tr>`)}
      </tbody>
    </table>
    <p>In the search bar: <kbd>Ctrl</kbd>+<kbd>Space</kbd> or <kbd>↓</kbd> shows suggestions, <kbd>↓</kbd>/<kbd>↑</kbd> choose one,
      <kbd>Enter</kbd> or <kbd>Tab</kbd> takes it, <kbd>Esc</kbd> closes the list. A click on a column header sorts by it.</p>
    <p>Editing a field: <kbd>Enter</kbd> saves (<kbd>Ctrl</kbd>+<kbd>Enter</kbd> in a text area), <kbd>Esc</kbd> cancels.</p>
    <form method="dialog"><button class="primary" autofocus>Close</button></form>
  </dialog>`;
}
