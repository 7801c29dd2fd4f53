// Security-key ceremonies (standard WebAuthn, no framework).
//
// A form carrying data-options is enhanced: on submit the script asks the server for the
// ceremony's options, lets the browser talk to the key, then submits the form with the key's
// answer in its hidden "ceremony" and "credential" fields. The server does every check.
// Forms: #key-form (login: passwordless or second factor, plus conditional UI on the
// username field) and #enrol-form (enrolment).
'use strict';

(function () {
  function toBuffer(b64u) {
    const b64 = b64u.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i += 1) bytes[i] = bin.charCodeAt(i);
    return bytes.buffer;
  }

  function toB64u(buffer) {
    const bytes = new Uint8Array(buffer);
    let bin = '';
    for (let i = 0; i < bytes.length; i += 1) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function creationOptions(pk) {
    pk.challenge = toBuffer(pk.challenge);
    pk.user.id = toBuffer(pk.user.id);
    (pk.excludeCredentials || []).forEach((c) => { c.id = toBuffer(c.id); });
    return pk;
  }

  function requestOptions(pk) {
    pk.challenge = toBuffer(pk.challenge);
    (pk.allowCredentials || []).forEach((c) => { c.id = toBuffer(c.id); });
    return pk;
  }

  function registrationJson(cred) {
    const r = cred.response;
    return {
      id: cred.id,
      rawId: toB64u(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: toB64u(r.attestationObject),
        clientDataJSON: toB64u(r.clientDataJSON),
        transports: typeof r.getTransports === 'function' ? r.getTransports() : [],
      },
      extensions: cred.getClientExtensionResults(),
    };
  }

  function assertionJson(cred) {
    const r = cred.response;
    return {
      id: cred.id,
      rawId: toB64u(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: toB64u(r.authenticatorData),
        clientDataJSON: toB64u(r.clientDataJSON),
        signature: toB64u(r.signature),
        userHandle: r.userHandle ? toB64u(r.userHandle) : null,
      },
      extensions: cred.getClientExtensionResults(),
    };
  }

  // What the browser reports, said as what to try next. A cancel, a timeout and an unknown
  // key all come back as NotAllowedError.
  function messageFor(form, err) {
    const d = form.dataset;
    switch (err && err.name) {
      case 'NotAllowedError':
      case 'AbortError':
        return d.msgNotAllowed;
      case 'InvalidStateError':
        return d.msgInvalidState;
      case 'SecurityError':
        return d.msgSecurity;
      case 'NotSupportedError':
        return d.msgUnsupported;
      default:
        return (err && err.serverMessage) || d.msgGeneric;
    }
  }

  function ui(form) {
    const status = form.querySelector('.key-status');
    const alert = form.querySelector('.key-error');
    const button = form.querySelector('button[type=submit]');
    return {
      waiting() {
        alert.hidden = true;
        alert.textContent = '';
        status.textContent = form.dataset.msgPrompt;
        button.disabled = true;
      },
      failed(message) {
        status.textContent = '';
        alert.textContent = message;
        alert.hidden = false;
        button.disabled = false;
        button.focus();
      },
    };
  }

  async function fetchOptions(form, extra) {
    const body = new URLSearchParams(new FormData(form));
    Object.entries(extra || {}).forEach(([k, v]) => body.set(k, v));
    body.delete('credential');
    const rsp = await fetch(form.dataset.options, {
      method: 'POST',
      body,
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    });
    const json = await rsp.json().catch(() => ({}));
    if (!rsp.ok) {
      const e = new Error(json.error || 'server');
      e.name = 'ServerError';
      e.serverMessage = json.message;
      throw e;
    }
    return json;
  }

  function submitWith(form, ceremony, credential) {
    form.elements.ceremony.value = ceremony;
    form.elements.credential.value = JSON.stringify(credential);
    form.submit();
  }

  function supported() {
    return typeof window.PublicKeyCredential === 'function' && navigator.credentials;
  }

  function enhanceLogin(form) {
    const view = ui(form);
    let conditional = null;

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!supported()) {
        view.failed(form.dataset.msgUnsupported);
        return;
      }
      if (conditional) conditional.abort();
      view.waiting();
      try {
        const o = await fetchOptions(form, { mode: form.dataset.mode });
        const cred = await navigator.credentials.get({ publicKey: requestOptions(o.options.publicKey) });
        submitWith(form, o.ceremony, assertionJson(cred));
      } catch (err) {
        view.failed(messageFor(form, err));
      }
    });

    // Conditional UI: the browser offers the person's keys in the username field's suggestions.
    if (form.dataset.mode !== 'passwordless' || !supported()) return;
    const probe = window.PublicKeyCredential.isConditionalMediationAvailable;
    if (typeof probe !== 'function' || !document.getElementById('username')) return;
    probe.call(window.PublicKeyCredential).then(async (available) => {
      if (!available) return;
      conditional = new AbortController();
      try {
        const o = await fetchOptions(form, { mode: 'conditional' });
        const cred = await navigator.credentials.get({
          publicKey: requestOptions(o.options.publicKey),
          mediation: 'conditional',
          signal: conditional.signal,
        });
        submitWith(form, o.ceremony, assertionJson(cred));
      } catch (err) {
        // Aborted for the button, or dismissed: the page stays as it is.
      }
    }).catch(() => {});
  }

  function enhanceEnrol(form) {
    const view = ui(form);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!supported()) {
        view.failed(form.dataset.msgUnsupported);
        return;
      }
      view.waiting();
      try {
        const o = await fetchOptions(form);
        const cred = await navigator.credentials.create({ publicKey: creationOptions(o.options.publicKey) });
        submitWith(form, o.ceremony, registrationJson(cred));
      } catch (err) {
        view.failed(messageFor(form, err));
      }
    });
  }

  function start() {
    const login = document.getElementById('key-form');
    if (login) enhanceLogin(login);
    const enrol = document.getElementById('enrol-form');
    if (enrol) enhanceEnrol(enrol);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
