// RangeMap: Leaflet maps of RangeWatch's own GeoJSON (ranges, regions, a sighting), with a legend.
// Works offline: the base is the project's country outlines unless a tile layer is configured.
// Used by the result card (app.js), the species page and the admin ([data-rangemap] elements).
// Names from the server reach the page only as text nodes, never as HTML.
"use strict";

window.RangeMap = (function () {
  // Colour-blind safe pair (ColorBrewer Dark2) for the two things a reader must tell apart.
  const STYLES = {
    native: { color: "#1b7a5e", fillColor: "#1b9e77", fillOpacity: 0.45, weight: 1 },
    alien: { color: "#a94a02", fillColor: "#d95f02", fillOpacity: 0.5, weight: 1 },
    other: { color: "#666", fillColor: "#999", fillOpacity: 0.3, weight: 1, dashArray: "3 3" },
    region: { color: "#2b5f9e", fillColor: "#4a7fc1", fillOpacity: 0.25, weight: 2 },
    verdict: { color: "#2b3f9e", fillOpacity: 0, weight: 2.5, dashArray: "6 4" },
    base: { color: "#b9b2a6", fillColor: "#f4f1ea", fillOpacity: 1, weight: 0.6, interactive: false },
  };
  const LEGEND = {
    native: "Native range",
    alien: "Alien (introduced or invasive)",
    other: "Range of uncertain origin",
    region: "This region",
    verdict: "Region of this answer",
    point: "The sighting",
  };
  // IUCN origin codes and regional statuses, in the two groups the map shows.
  const NATIVE = new Set(["native", "reintroduced"]);
  const ALIEN = new Set(["introduced", "invasive", "assisted_colonisation", "vagrant"]);
  const STATUS_WORDS = { reintroduced: "reintroduced (native)" }; // the others read as they are

  let outlines = null; // one fetch of the base outlines per page, shared by every map on it

  function pageConfig() {
    const node = document.getElementById("rangemap-config");
    return node ? JSON.parse(node.textContent) : {};
  }

  function group(status) {
    if (NATIVE.has(status)) return "native";
    if (ALIEN.has(status)) return "alien";
    return "other";
  }

  function text(value) {
    const span = document.createElement("span");
    span.textContent = value;
    return span;
  }

  function featureLabel(properties) {
    const name = properties.region_name || properties.name || properties.region || "";
    const status = STATUS_WORDS[properties.status] || (properties.status || "").replace(/_/g, " ");
    const sources = (properties.sources || []).map((s) => s.name).filter(Boolean);
    return [name, status, sources.length ? "source: " + sources.join("; ") : ""].filter(Boolean).join(" · ");
  }

  class MapView {
    constructor(element, config) {
      this.config = Object.assign({}, pageConfig(), config || {});
      this.element = element;
      element.replaceChildren(); // the no-JavaScript preview, if any
      element.classList.add("rangemap");
      this.map = L.map(element, { zoomSnap: 0.25, worldCopyJump: true, scrollWheelZoom: false });
      this.map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
      this.map.createPane("base").style.zIndex = 250; // under the ranges, over the map's background
      this.overlays = L.featureGroup().addTo(this.map);
      this.shown = new Set();
      // Top right: at the bottom, the attribution wraps on a phone and would hide the legend's last line.
      this.legend = L.control({ position: "topright" });
      this.legend.onAdd = () => L.DomUtil.create("div", "rm-legend");
      this.legend.addTo(this.map);
      this.map.setView([15, 10], 1);
      this.ready = this.addBase();
    }

    addBase() {
      if (this.config.tileUrl) {
        const attribution = this.config.tileAttribution || "";
        L.tileLayer(this.config.tileUrl, { attribution, maxZoom: 18 }).addTo(this.map);
        return Promise.resolve();
      }
      if (!this.config.outlinesUrl) return Promise.resolve();
      // A map without its outlines still shows the range: a failed fetch only leaves the sea.
      if (!outlines) outlines = getJSON(this.config.outlinesUrl).catch(() => null);
      return outlines.then((geojson) => {
        if (!geojson) return;
        const style = () => Object.assign({ className: "rm-base" }, STYLES.base);
        L.geoJSON(geojson, { pane: "base", style }).addTo(this.map);
        this.map.attributionControl.addAttribution("Natural Earth, US Census Bureau");
      });
    }

    // A FeatureCollection in one role: "range" (coloured by status), "region" or "verdict".
    addGeoJSON(geojson, role) {
      if (!geojson || !(geojson.features || []).length) return null;
      const layer = L.geoJSON(geojson, {
        style: (feature) => {
          const key = role === "range" ? group(feature.properties.status) : role;
          this.shown.add(key);
          return Object.assign({ className: "rm-" + key, legendKey: key }, STYLES[key]);
        },
        onEachFeature: (feature, path) => {
          const label = featureLabel(feature.properties || {});
          if (label) path.bindTooltip(text(label), { sticky: true });
        },
      });
      layer.addTo(this.overlays);
      this.renderLegend();
      return layer;
    }

    addPoint(latitude, longitude, label) {
      const marker = L.circleMarker([latitude, longitude], {
        legendKey: "point", className: "rm-point",
        radius: 7, color: "#fff", weight: 2.5, fillColor: "#c0143c", fillOpacity: 1,
      });
      if (label) marker.bindTooltip(text(label));
      marker.addTo(this.overlays);
      this.shown.add("point");
      this.renderLegend();
      return marker;
    }

    renderLegend() {
      const box = this.legend.getContainer();
      box.replaceChildren();
      for (const key of Object.keys(LEGEND)) {
        if (!this.shown.has(key)) continue;
        const item = L.DomUtil.create("div", "rm-legend-item", box);
        item.dataset.layer = key;
        L.DomUtil.create("i", "rm-swatch rm-swatch-" + key, item);
        item.append(text(LEGEND[key]));
      }
    }

    // The drawing order, whatever order the layers arrived in: native range, alien records over it
    // (a state where a species is alien inside a country where it is native), the answer's regions, the point.
    arrange() {
      const ORDER = { alien: 1, verdict: 2, point: 3 };
      const shapes = [];
      this.overlays.eachLayer((layer) => {
        if (layer.eachLayer) layer.eachLayer((shape) => shapes.push(shape)); // a GeoJSON layer: its features
        else shapes.push(layer);
      });
      shapes.filter((shape) => ORDER[shape.options.legendKey])
        .sort((a, b) => ORDER[a.options.legendKey] - ORDER[b.options.legendKey])
        .forEach((shape) => shape.bringToFront());
    }

    // Everything drawn in view (a lone point at a regional scale), in the drawing order.
    fit(maxZoom = 6) {
      this.arrange();
      const bounds = this.overlays.getBounds();
      if (!bounds.isValid()) return;
      if (bounds.getNorthEast().equals(bounds.getSouthWest())) this.map.setView(bounds.getCenter(), maxZoom);
      else this.map.fitBounds(bounds, { padding: [24, 24], maxZoom });
    }

    remove() { this.map.remove(); }
  }

  function getJSON(url) {
    return fetch(url, { credentials: "omit", headers: { Accept: "application/json" } }).then((r) => {
      if (!r.ok) throw new Error(`${url}: ${r.status}`);
      return r.json();
    });
  }

  // <div data-rangemap='{"config": {...}, "layers": [{"role": "range", "url": "..."}, {"role": ..., "geojson": {...}}]}'>
  function fromElement(element) {
    const spec = JSON.parse(element.dataset.rangemap);
    const map = new MapView(element, spec.config);
    const layers = (spec.layers || []).map((layer) => (layer.url ? getJSON(layer.url) : Promise.resolve(layer.geojson))
      .then((geojson) => map.addGeoJSON(geojson, layer.role)));
    return Promise.all(layers).then(() => { map.fit(spec.maxZoom || 6); element.dataset.ready = "true"; return map; });
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const element of document.querySelectorAll("[data-rangemap]")) {
      fromElement(element).catch((error) => {
        element.dataset.ready = "error";
        element.append(text("The map could not be drawn: " + error.message));
      });
    }
  });

  return { MapView, fromElement, getJSON, group };
})();
