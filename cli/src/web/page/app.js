// The status page: fetches /status.json (README: "Status JSON"), draws a card per site
// coloured by its health, the certificate expiry countdowns, the deferred work and the
// rollouts, then fetches again every refresh_interval_seconds without reloading. Text from
// the document goes into the page as text only (textContent), never as markup.
"use strict";

let latest = null;
let timer = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// "in 364d 3h", "in 5h 12m", "in 12m 30s"; "expired 2d 1h ago".
function countdown(notAfter, now) {
  const at = Date.parse(notAfter);
  if (Number.isNaN(at)) return notAfter;
  let left = Math.round((at - now) / 1000);
  const expired = left < 0;
  left = Math.abs(left);
  const d = Math.floor(left / 86400);
  const h = Math.floor((left % 86400) / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = left % 60;
  const text = d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m ${s}s`;
  return expired ? `expired ${text} ago` : `in ${text}`;
}

function expiryClass(cert, now) {
  const at = Date.parse(cert.not_after);
  if (at <= now) return "expired";
  if (cert.renew_from && Date.parse(cert.renew_from) <= now) return "soon";
  return "";
}

function versions(cluster) {
  const known = cluster.pools.filter((p) => p.kubernetes_version);
  if (known.length === 0) return "unknown";
  if (known.every((p) => p.kubernetes_version === known[0].kubernetes_version)) {
    return known[0].kubernetes_version;
  }
  return known.map((p) => `${p.name} ${p.kubernetes_version}`).join(", ");
}

function healthWord(site) {
  return site.refresh.state === "unreachable" ? "unreachable" : site.health;
}

function siteCard(site, now) {
  const word = healthWord(site);
  const card = el("article", {
    class: `site ${site.health}`,
    "data-site": site.name,
    "data-health": word,
  });
  card.append(el("h3", {}, site.name));
  card.append(el("span", { class: `badge ${site.health}` }, word));
  if (site.refresh.state === "unreachable") {
    card.append(el("p", { class: "muted" }, `${site.refresh.reason}; values as last recorded`));
  }
  for (const cluster of site.clusters) {
    const dl = el("dl");
    const row = (term, value, attrs) => dl.append(el("dt", {}, term), el("dd", attrs || {}, value));
    row("version", versions(cluster));
    const nodes = cluster.nodes ? `${cluster.nodes.ready}/${cluster.nodes.total} Ready` : "unknown";
    row("nodes", nodes);
    const cert = cluster.soonest_certificate;
    if (cert) {
      row("certificate", `${cert.name}, `);
      dl.lastChild.append(el("span", { "data-countdown": cert.not_after }, countdown(cert.not_after, now)));
    }
    if (cluster.arc) {
      row("Arc", cluster.arc.connectivity_status);
      if (cluster.arc.identity_certificate) {
        const id = cluster.arc.identity_certificate;
        row("Arc identity", "");
        dl.lastChild.append(el("span", { "data-countdown": id.not_after }, countdown(id.not_after, now)));
      }
    }
    card.append(el("div", { class: "cluster" }, el("strong", {}, cluster.name), dl));
  }
  const drift = site.drift === null ? "not refreshed" : `${site.drift.count} drifted`;
  card.append(
    el("p", { class: "counts" },
      `${site.resources} resources · ${site.deferred.length} deferred · ${drift}`),
  );
  if (site.reasons.length > 0) {
    card.append(el("ul", { class: "reasons" }, ...site.reasons.map((r) => el("li", {}, r))));
  }
  return card;
}

const ROLLOUT_HEALTH = { running: "attention", halted: "failing", completed: "ok" };

function rolloutCard(r) {
  const card = el("article", {
    class: `site ${ROLLOUT_HEALTH[r.status] || ""}`,
    "data-rollout": r.name,
    "data-status": r.status,
  });
  card.append(el("h3", {}, `rollout ${r.name}`));
  card.append(el("span", { class: `badge ${ROLLOUT_HEALTH[r.status] || ""}` }, r.status));
  card.append(el("p", {}, `stage ${r.stage}, batch ${r.batch} · ${r.sites_done.length} site(s) done, ` +
    `${r.sites_failed.length} failed · as of ${r.updated_at}`));
  if (r.halted_because) card.append(el("p", { class: "error" }, `halted: ${r.halted_because}`));
  if (r.sites_failed.length > 0) {
    card.append(el("ul", { class: "reasons" },
      ...r.sites_failed.map((f) => el("li", {}, `${f.site}: ${f.reason}`))));
  }
  return card;
}

function render(doc) {
  const now = Date.now();
  const counts = { ok: 0, attention: 0, failing: 0 };
  for (const site of doc.sites) counts[site.health] += 1;
  document.getElementById("summary").textContent =
    `Workspace ${doc.workspace} · ${doc.sites.length} sites: ${counts.ok} ok, ` +
    `${counts.attention} need attention, ${counts.failing} failing · gathered ${doc.gathered_at}` +
    (doc.refreshed ? "" : " from state only (offline)");
  const last = doc.last_apply;
  document.getElementById("last-apply").textContent = last
    ? `Last ${last.operation}: ${last.outcome} at ${last.finished_at} ` +
      `(${last.changes_made} made, ${last.changes_failed} failed, fleetform ${last.fleetform_version})`
    : "No apply recorded yet.";

  document.getElementById("sites").replaceChildren(...doc.sites.map((s) => siteCard(s, now)));

  const certs = [];
  for (const site of doc.sites) {
    for (const cluster of site.clusters) {
      if (cluster.soonest_certificate) certs.push([site, cluster.name, cluster.soonest_certificate]);
      if (cluster.arc && cluster.arc.identity_certificate) {
        certs.push([site, cluster.name, cluster.arc.identity_certificate]);
      }
    }
  }
  certs.sort((a, b) => Date.parse(a[2].not_after) - Date.parse(b[2].not_after));
  document.querySelector("#expiry tbody").replaceChildren(
    ...certs.map(([site, cluster, cert]) => el("tr", {},
      el("td", {}, site.name), el("td", {}, cluster), el("td", {}, cert.name),
      el("td", { class: expiryClass(cert, now), "data-countdown": cert.not_after },
        countdown(cert.not_after, now)),
      el("td", {}, cert.not_after))),
  );
  if (certs.length === 0) {
    document.querySelector("#expiry tbody").append(el("tr", {}, el("td", { colspan: "5" }, "No certificates recorded.")));
  }

  const deferred = [];
  for (const site of doc.sites) {
    for (const d of site.deferred) {
      const since = d.since ? ` since ${d.since}` : "";
      const reason = d.reason ? ` (${d.reason})` : "";
      deferred.push(el("li", {}, `${site.name}: ${d.address}: ${d.action}${since}${reason}`));
    }
  }
  if (deferred.length === 0) deferred.push(el("li", { class: "muted" }, "Nothing waits for a site."));
  document.getElementById("deferred").replaceChildren(...deferred);

  const rollouts = doc.rollouts || [];
  document.getElementById("rollouts-section").hidden = rollouts.length === 0;
  document.getElementById("rollouts").replaceChildren(...rollouts.map(rolloutCard));
}

function tick() {
  const now = Date.now();
  for (const node of document.querySelectorAll("[data-countdown]")) {
    node.textContent = countdown(node.getAttribute("data-countdown"), now);
  }
}

async function load() {
  let delay = latest ? latest.refresh_interval_seconds || 30 : 30;
  try {
    const response = await fetch("/status.json", { cache: "no-store" });
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    latest = await response.json();
    render(latest);
    delay = latest.refresh_interval_seconds || 30;
  } catch (e) {
    document.getElementById("summary").textContent = `Cannot fetch the status: ${e.message}; retrying.`;
    document.getElementById("summary").className = "error";
    delay = 5;
  }
  clearTimeout(timer);
  timer = setTimeout(load, delay * 1000);
}

load();
setInterval(tick, 1000);
