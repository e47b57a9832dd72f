// The Train page's live view: curves, decision boundary (or sample grid) and the network
// with each unit's picture, drawn on canvases. Python sends only numbers (dashboard/figures/
// live.py); nothing is fetched. Colours follow the TensorFlow Playground: orange negative /
// class 0 / low, grey zero, blue positive / class 1 / high.
const ORANGE = [245, 147, 34], GREY = [232, 234, 235], BLUE = [8, 119, 189];
const TRAIN = "#1f77b4", TEST = "#ff7f0e", INK = "#31333f", FAINT = "#6e7781", GRID = "#e6e8eb";
const RIGHT = "#1a7f37", WRONG = "#cf222e";
const FONT = '12px "Source Sans Pro", "Source Sans 3", sans-serif';
const TITLE = '600 14px "Source Sans Pro", "Source Sans 3", sans-serif';
const last = new WeakMap();      // root element -> {data, width} last drawn (redrawn on resize)

function bytes(b64) {
  const s = atob(b64), out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function floats(b64) {
  const u = bytes(b64);
  return Array.from(new Float32Array(u.buffer, 0, u.length / 4));
}

function playground(p) {          // p in 0..255 -> [r, g, b]
  const t = p / 255;
  const [a, b, u] = t < 0.5 ? [ORANGE, GREY, t * 2] : [GREY, BLUE, t * 2 - 1];
  return [a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u, a[2] + (b[2] - a[2]) * u];
}
const LUT = Array.from({length: 256}, (_, i) => playground(i));

function canvasFor(panel, height) {
  let c = panel.querySelector("canvas");
  if (!c) { c = document.createElement("canvas"); panel.appendChild(c); }
  const w = Math.max(120, Math.floor(panel.clientWidth)), dpr = window.devicePixelRatio || 1;
  if (c.width !== Math.round(w * dpr) || c.height !== Math.round(height * dpr)) {
    c.width = Math.round(w * dpr); c.height = Math.round(height * dpr);
    c.style.width = w + "px"; c.style.height = height + "px";
  }
  const ctx = c.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, height);
  return [ctx, w];
}

function picture(w, h, values, offset, colour) {   // uint8 values -> an offscreen canvas
  const off = document.createElement("canvas");
  off.width = w; off.height = h;
  const octx = off.getContext("2d"), img = octx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const [r, g, b] = colour(values, offset + i);
    img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
  }
  octx.putImageData(img, 0, 0);
  return off;
}

function title(ctx, text, x, y) {
  ctx.font = TITLE; ctx.fillStyle = INK; ctx.textAlign = "left"; ctx.textBaseline = "alphabetic";
  ctx.fillText(text, x, y);
}

function fmt(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0).replace("e+", "e");
  return String(+v.toPrecision(3));
}

function niceTicks(lo, hi, n) {
  const span = hi - lo || 1, raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * span; v += step)
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function logTicks(lo, hi) {       // lo, hi: log10 of the range; labelled ticks only
  if (hi - lo < 0.8)               // under a decade: evenly spaced values, placed on the log axis
    return niceTicks(Math.pow(10, lo), Math.pow(10, hi), 4).filter(v => v > 0).map(Math.log10);
  const out = [];
  for (let d = Math.floor(lo); d <= Math.ceil(hi); d++)
    for (const m of hi - lo < 1.2 ? [1, 2, 5] : hi - lo < 3 ? [1, 3] : [1]) {
      const v = Math.log10(m) + d;
      if (v >= lo - 1e-9 && v <= hi + 1e-9) out.push(v);
    }
  return out;
}

// One line chart: series [{y: [...], colour, name}], x shared; opts {log, lo, hi, label, mark}
function lineChart(ctx, box, xs, series, opts) {
  const {x, y, w, h} = box, L = 46, B = 22, T = 24;
  const px = x + L, pw = w - L - 8, py = y + T, ph = h - T - B;
  title(ctx, opts.title, x + 4, y + 15);
  let values = [];
  for (const s of series) values = values.concat(s.y.filter(v => v !== null && isFinite(v) &&
                                                              (!opts.log || v > 0)));
  const tf = v => opts.log ? Math.log10(v) : v;
  let lo = opts.lo ?? Math.min(...values.map(tf)), hi = opts.hi ?? Math.max(...values.map(tf));
  if (!values.length) { lo = 0; hi = 1; }
  if (hi - lo < 1e-9) { hi += opts.log ? 0.5 : Math.abs(hi) * 0.1 + 1e-3; lo -= opts.log ? 0.5 : 0; }
  if (!opts.log && opts.lo === undefined) lo = Math.min(0, lo);
  const x0 = xs[0] ?? 0, x1 = Math.max(xs[xs.length - 1] ?? 1, x0 + 1);
  const sx = v => px + (v - x0) / (x1 - x0) * pw, sy = v => py + ph - (v - lo) / (hi - lo) * ph;
  ctx.font = FONT; ctx.lineWidth = 1;
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (const t of opts.log ? logTicks(lo, hi) : niceTicks(lo, hi, 4)) {
    ctx.strokeStyle = GRID; ctx.beginPath(); ctx.moveTo(px, sy(t)); ctx.lineTo(px + pw, sy(t)); ctx.stroke();
    ctx.fillStyle = FAINT; ctx.fillText(opts.log ? fmt(Math.pow(10, t)) : fmt(t) + (opts.unit || ""), px - 5, sy(t));
  }
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (const t of niceTicks(x0, x1, 5).filter(t => Number.isInteger(t)))
    ctx.fillText(String(t), sx(t), py + ph + 5);
  ctx.strokeStyle = "#b9bec5"; ctx.beginPath(); ctx.moveTo(px, py); ctx.lineTo(px, py + ph);
  ctx.lineTo(px + pw, py + ph); ctx.stroke();
  if (opts.mark !== null && opts.mark !== undefined) {
    ctx.setLineDash([4, 3]); ctx.strokeStyle = "#57606a"; ctx.beginPath();
    ctx.moveTo(sx(opts.mark), py); ctx.lineTo(sx(opts.mark), py + ph); ctx.stroke(); ctx.setLineDash([]);
  }
  ctx.save(); ctx.beginPath(); ctx.rect(px, py - 2, pw + 2, ph + 4); ctx.clip();
  for (const s of series) {
    ctx.strokeStyle = s.colour; ctx.lineWidth = 1.6; ctx.beginPath();
    let down = false;
    s.y.forEach((v, i) => {
      if (v === null || !isFinite(v) || (opts.log && v <= 0)) { down = false; return; }
      const X = sx(xs[i]), Y = sy(tf(v));
      if (down) ctx.lineTo(X, Y); else { ctx.moveTo(X, Y); down = true; }
    });
    ctx.stroke();
    if (xs.length === 1 && isFinite(s.y[0])) {
      ctx.fillStyle = s.colour; ctx.beginPath(); ctx.arc(sx(xs[0]), sy(tf(s.y[0])), 3, 0, 7); ctx.fill();
    }
  }
  ctx.restore();
  ctx.textAlign = "left"; ctx.textBaseline = "middle"; ctx.font = FONT;   // legend, top right
  let lx = x + w - 8;
  for (const s of [...series].reverse()) {
    lx -= ctx.measureText(s.name).width; ctx.fillStyle = INK; ctx.fillText(s.name, lx, y + 11);
    lx -= 20; ctx.strokeStyle = s.colour; ctx.lineWidth = 2; ctx.beginPath();
    ctx.moveTo(lx, y + 11); ctx.lineTo(lx + 16, y + 11); ctx.stroke(); lx -= 10;
  }
}

function drawCurves(panel, raw, height) {
  const [ctx, w] = canvasFor(panel, height);
  const c = {...raw};
  for (const k of ["epochs", "train_loss", "test_loss", "train_acc", "test_acc"]) c[k] = floats(raw[k]);
  const half = Math.floor(height / 2);
  const loss = [{y: c.train_loss, colour: TRAIN, name: "train"}, {y: c.test_loss, colour: TEST, name: "test"}]
    .filter(s => s.y.some(v => isFinite(v)));
  const acc = [{y: c.train_acc, colour: TRAIN, name: "train"}, {y: c.test_acc, colour: TEST, name: "test"}]
    .filter(s => s.y.some(v => isFinite(v)));
  lineChart(ctx, {x: 0, y: 0, w, h: half}, c.epochs, loss,
            {title: c.log ? "Loss (log scale)" : "Loss", log: c.log, mark: c.mark});
  lineChart(ctx, {x: 0, y: half, w, h: height - half}, c.epochs, acc,
            {title: "Accuracy", lo: 0, hi: 100, unit: "%", mark: c.mark});
  if (c.epochs.length === 1) {
    ctx.font = FONT; ctx.fillStyle = FAINT; ctx.textAlign = "center";
    ctx.fillText("Epoch 0: before training. Train to draw the curves.", w / 2 + 20, half / 2 + 12);
  }
}

const CLASS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
               "#7f7f7f", "#bcbd22", "#17becf"];

function drawPlane(panel, raw, epoch, height) {
  const [ctx, w] = canvasFor(panel, height);
  const p = {...raw, x: floats(raw.x), y: floats(raw.y), c: bytes(raw.c), test: bytes(raw.test)};
  const T = 24, side = Math.max(60, Math.min(w - 28, height - T - 22));
  const x = 22, y = T;
  title(ctx, `Decision boundary at epoch ${epoch}`, 4, 15);
  const field = bytes(p.field), n = p.w * p.h, rgb = field.length === 3 * n;
  const off = picture(p.w, p.h, field, 0, rgb ? (v, i) => [v[3 * i], v[3 * i + 1], v[3 * i + 2]]
                                               : (v, i) => LUT[v[i]]);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, x, y, side, side);
  const [x0, x1, y0, y1] = p.extent;
  const sx = v => x + (v - x0) / (x1 - x0) * side, sy = v => y + side - (v - y0) / (y1 - y0) * side;
  const big = p.x.length <= 16 ? 6 : 3.2;
  const colours = p.binary ? ["#f59322", "#0877bd"] : CLASS;
  for (let i = 0; i < p.x.length; i++) {
    const X = sx(p.x[i]), Y = sy(p.y[i]);
    ctx.fillStyle = colours[p.c[i] % colours.length];
    ctx.strokeStyle = p.test[i] ? "#222" : "#fff"; ctx.lineWidth = 1;
    ctx.beginPath();
    if (p.test[i]) { ctx.moveTo(X, Y - big - 1); ctx.lineTo(X + big + 1, Y); ctx.lineTo(X, Y + big + 1); ctx.lineTo(X - big - 1, Y); ctx.closePath(); }
    else ctx.arc(X, Y, big, 0, 7);
    ctx.fill(); ctx.stroke();
  }
  ctx.strokeStyle = "#b9bec5"; ctx.strokeRect(x, y, side, side);
  ctx.font = FONT; ctx.fillStyle = FAINT; ctx.textAlign = "center"; ctx.textBaseline = "top";
  ctx.fillText("x1", x + side / 2, y + side + 4);
  ctx.save(); ctx.translate(x - 12, y + side / 2); ctx.rotate(-Math.PI / 2); ctx.fillText("x2", 0, -4); ctx.restore();
  ctx.textAlign = "left";
  ctx.fillText(p.any_test ? "train ●  test ◆" : "the data ●", x + side + 6 > w - 70 ? x : x + side + 6, y + side + 4);
}

function drawNet(panel, raw, epoch, height) {
  const [ctx, w] = canvasFor(panel, height);
  const net = {...raw, weights: raw.weights.map(floats)};
  title(ctx, `The network at epoch ${epoch}`, 4, 15);
  const layers = net.shown.length, T = 30, B = 18;
  ctx.font = FONT;
  const left = 6 + Math.max(...net.inputs.map(n => ctx.measureText(n).width)), right = 8;
  const most = Math.max(...net.shown);
  const s = Math.max(10, Math.min(34, (height - T - B) / (most * 1.22), (w - left - right) / (layers * 2.2)));
  const colX = i => left + s / 2 + i * (w - left - right - s) / Math.max(layers - 1, 1);
  const unitY = (i, j) => {
    const n = net.shown[i], gap = Math.min(s * 1.22, (height - T - B - s) / Math.max(n - 1, 1));
    return T + (height - T - B - (n - 1) * gap - s) / 2 + j * gap + s / 2;
  };
  for (let l = 0; l + 1 < layers; l++) {          // the weights, under the units
    const W = net.weights[l], nout = net.shown[l + 1];
    for (let i = 0; i < net.shown[l]; i++)
      for (let j = 0; j < net.shown[l + 1]; j++) {
        const v = W[i * nout + j], a = Math.min(1, Math.abs(v) / (net.max_weight || 1));
        ctx.strokeStyle = v >= 0 ? `rgba(8,119,189,${0.15 + 0.7 * a})` : `rgba(245,147,34,${0.15 + 0.7 * a})`;
        ctx.lineWidth = 0.4 + 3.2 * a;
        ctx.beginPath(); ctx.moveTo(colX(l) + s / 2, unitY(l, i)); ctx.lineTo(colX(l + 1) - s / 2, unitY(l + 1, j)); ctx.stroke();
      }
  }
  const g = net.grid, pics = net.pictures.map(b => b && bytes(b));
  ctx.imageSmoothingEnabled = false;
  for (let l = 0; l < layers; l++) {
    for (let j = 0; j < net.shown[l]; j++) {
      const X = colX(l) - s / 2, Y = unitY(l, j) - s / 2;
      if (pics[l]) ctx.drawImage(picture(g, g, pics[l], j * g * g, (v, i) => LUT[v[i]]), X, Y, s, s);
      else { ctx.fillStyle = "#f0f2f4"; ctx.fillRect(X, Y, s, s); }
      ctx.strokeStyle = "#8c959f"; ctx.lineWidth = 1; ctx.strokeRect(X, Y, s, s);
    }
    ctx.font = FONT; ctx.fillStyle = FAINT; ctx.textBaseline = "top";
    ctx.textAlign = l === 0 ? "left" : l === layers - 1 ? "right" : "center";
    const more = net.sizes[l] - net.shown[l];
    const lx = l === 0 ? colX(l) - s / 2 : l === layers - 1 ? colX(l) + s / 2 : colX(l);
    ctx.fillText(net.labels[l] + (more > 0 ? ` (+${more})` : ""), lx, height - B + 3);
  }
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  net.inputs.forEach((name, j) => { if (j < net.shown[0]) ctx.fillText(name, colX(0) - s / 2 - 3, unitY(0, j)); });
}

function drawGrid(panel, gd, epoch, height) {
  const [ctx, w] = canvasFor(panel, height);
  const k = gd.labels.length, [h, iw] = gd.shape;
  title(ctx, `Test samples at epoch ${epoch}: label → guess (${gd.wrong} of ${k} wrong)`, 4, 15);
  const cols = gd.cols, rows = Math.ceil(k / cols), T = 26;
  const cell = Math.min((w - 8) / cols, (height - T) / rows), band = 14, side = cell - band;
  const px = bytes(gd.pixels);
  ctx.imageSmoothingEnabled = false;
  for (let i = 0; i < k; i++) {
    const r = Math.floor(i / cols), c = i % cols, X = 4 + c * cell + (cell - side) / 2, Y = T + r * cell;
    ctx.drawImage(picture(iw, h, px, i * h * iw, (v, q) => { const t = 255 - v[q]; return [t, t, t]; }), X, Y, side, side);
    const ok = gd.labels[i] === gd.guesses[i];
    ctx.strokeStyle = ok ? RIGHT : WRONG; ctx.lineWidth = ok ? 1 : 2; ctx.strokeRect(X, Y, side, side);
    ctx.font = "11px sans-serif"; ctx.fillStyle = ok ? RIGHT : WRONG; ctx.textAlign = "center"; ctx.textBaseline = "top";
    const name = gd.names[gd.labels[i]], guess = gd.names[gd.guesses[i]];
    ctx.fillText(ok ? `${name} ✓` : `${name}→${guess}`, X + side / 2, Y + side + 1, cell);
  }
}

function draw(root, data) {
  const t0 = performance.now();
  const height = data.height || 340;
  const panels = {net: data.net, plane: data.plane, grid: data.grid, curves: data.curves};
  for (const [name, part] of Object.entries(panels)) {
    const panel = root.querySelector(`.nnlive-${name}`);
    panel.style.display = part ? "" : "none";
  }
  if (data.net) drawNet(root.querySelector(".nnlive-net"), data.net, data.epoch, height);
  if (data.plane) drawPlane(root.querySelector(".nnlive-plane"), data.plane, data.epoch, height);
  if (data.grid) drawGrid(root.querySelector(".nnlive-grid"), data.grid, data.epoch, height);
  drawCurves(root.querySelector(".nnlive-curves"), data.curves, height);
  root.setAttribute("data-live-epoch", String(data.epoch));
  root.setAttribute("data-live-frame", String((+root.getAttribute("data-live-frame") || 0) + 1));
  root.setAttribute("data-live-ms", (performance.now() - t0).toFixed(1));    // drawing time
}

export default function (component) {
  const {data, parentElement} = component;
  let root = parentElement.querySelector(".nnlive");
  if (!root) {
    root = document.createElement("div");
    root.className = "nnlive";
    for (const name of ["net", "plane", "grid", "curves"]) {
      const panel = document.createElement("div");
      panel.className = `nnlive-panel nnlive-${name}`;
      root.appendChild(panel);
    }
    parentElement.appendChild(root);
  }
  if (!data) return;
  const seen = last.get(root);
  last.set(root, {data, width: root.clientWidth});
  draw(root, data);
  if (!seen) {                     // redraw when the page's width changes (once per root)
    new ResizeObserver(() => {
      const now = last.get(root);
      if (now && now.width !== root.clientWidth) {
        now.width = root.clientWidth;
        draw(root, now.data);
      }
    }).observe(root);
  }
}
