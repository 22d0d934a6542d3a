// A two-alternative forced-choice form that works offline from a folder: no library, no
// network (unless the study was exported with a POST URL). Everything it shows comes from
// the JSON block in the page and is inserted as text, never as HTML.
(function () {
  "use strict";

  // --- SHA-256 and HMAC (FIPS 180-4, RFC 2104): crypto.subtle is not available on every
  // file:// page, and the answers must be signed wherever the form is opened.
  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);

  function rotr(x, n) { return (x >>> n) | (x << (32 - n)); }

  function sha256(bytes) {
    var H = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                             0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    var len = bytes.length;
    var total = Math.ceil((len + 9) / 64) * 64;
    var m = new Uint8Array(total);
    m.set(bytes);
    m[len] = 0x80;
    var dv = new DataView(m.buffer);
    dv.setUint32(total - 8, Math.floor(len / 0x20000000));
    dv.setUint32(total - 4, (len * 8) >>> 0);
    var w = new Uint32Array(64);
    for (var off = 0; off < total; off += 64) {
      var i;
      for (i = 0; i < 16; i++) w[i] = dv.getUint32(off + 4 * i);
      for (i = 16; i < 64; i++) {
        var s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        var s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
      }
      var a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
      for (i = 0; i < 64; i++) {
        var S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        var ch = (e & f) ^ (~e & g);
        var t1 = (h + S1 + ch + K[i] + w[i]) >>> 0;
        var S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        var maj = (a & b) ^ (a & c) ^ (b & c);
        var t2 = (S0 + maj) >>> 0;
        h = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      H[0] = (H[0] + a) >>> 0; H[1] = (H[1] + b) >>> 0; H[2] = (H[2] + c) >>> 0; H[3] = (H[3] + d) >>> 0;
      H[4] = (H[4] + e) >>> 0; H[5] = (H[5] + f) >>> 0; H[6] = (H[6] + g) >>> 0; H[7] = (H[7] + h) >>> 0;
    }
    var out = new Uint8Array(32);
    var odv = new DataView(out.buffer);
    for (var j = 0; j < 8; j++) odv.setUint32(4 * j, H[j]);
    return out;
  }

  function hexToBytes(hex) {
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }

  function bytesToHex(bytes) {
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return s;
  }

  function asciiBytes(text) {
    var out = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0x7f;
    return out;
  }

  function hmacSha256(keyHex, text) {
    var key = hexToBytes(keyHex);
    if (key.length > 64) key = sha256(key);
    var block = new Uint8Array(64);
    block.set(key);
    var msg = asciiBytes(text);
    var inner = new Uint8Array(64 + msg.length);
    var outer = new Uint8Array(64 + 32);
    for (var i = 0; i < 64; i++) { inner[i] = block[i] ^ 0x36; outer[i] = block[i] ^ 0x5c; }
    inner.set(msg, 64);
    outer.set(sha256(inner), 64);
    return bytesToHex(sha256(outer));
  }

  // --- The study ---------------------------------------------------------------------------
  var D = JSON.parse(document.getElementById("study-data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var storageKey = "gcbench-study-" + D.token;
  var state = { index: 0, answers: [], started: null };
  var current = null; // {shownAt, flips, mode, showing, ready}
  var enableTimer = null;

  function loadSaved() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(storageKey) || "null");
      if (saved && Array.isArray(saved.answers) && saved.answers.length <= D.trials.length) {
        state.answers = saved.answers;
        state.index = saved.answers.length;
        state.started = saved.started || null;
      }
    } catch (err) { /* storage unavailable or corrupt: start afresh */ }
  }

  function save() {
    try {
      window.localStorage.setItem(storageKey, JSON.stringify({ answers: state.answers, started: state.started }));
    } catch (err) { /* private windows may refuse storage; answers stay in memory */ }
  }

  function show(sectionId) {
    ["intro", "trial", "done"].forEach(function (id) { $(id).hidden = id !== sectionId; });
    document.body.setAttribute("data-screen", sectionId);
  }

  function fitNative(img) {
    // One image pixel per device pixel: no browser rescaling blurs or sharpens the crops.
    var dpr = window.devicePixelRatio || 1;
    if (img.naturalWidth) {
      img.style.width = (img.naturalWidth / dpr) + "px";
      img.style.height = (img.naturalHeight / dpr) + "px";
    }
  }

  function loadImage(img, src) {
    return new Promise(function (resolve) {
      img.onload = function () { fitNative(img); resolve(true); };
      img.onerror = function () { resolve(false); };
      img.src = src;
    });
  }

  function preload(trial) {
    if (!trial) return;
    [trial.left, trial.right, trial.reference].forEach(function (src) {
      if (src) { var im = new Image(); im.src = src; }
    });
  }

  function setChoiceEnabled(on) {
    $("choose-left").disabled = !on;
    $("choose-right").disabled = !on;
    $("wait").textContent = on ? "" : "Please look at both images first\u2026";
  }

  function setMode(mode) {
    if (!current) return;
    current.mode = mode;
    var stage = $("stage");
    stage.className = mode === "flip" ? "flip" : "side-by-side";
    $("panel-left").hidden = mode === "flip" && current.showing !== "left";
    $("panel-right").hidden = mode === "flip" && current.showing !== "right";
    $("flip-label").textContent = mode === "flip" ? ("Showing: " + (current.showing === "left" ? "Left" : "Right")) : "";
    $("side-by-side").disabled = mode !== "flip";
  }

  function flip() {
    if (!current || !current.ready) return;
    if (current.mode !== "flip") {
      current.showing = "left";
    } else {
      current.showing = current.showing === "left" ? "right" : "left";
    }
    current.flips += 1;
    setMode("flip");
  }

  function updateProgress() {
    var n = D.trials.length;
    $("progress-text").textContent = "Comparison " + Math.min(state.index + 1, n) + " of " + n;
    $("progress").max = n;
    $("progress").value = state.index;
    $("trial").setAttribute("data-index", String(state.index));
  }

  function startTrial() {
    if (state.index >= D.trials.length) { finish(); return; }
    var t = D.trials[state.index];
    current = { trial: t.id, shownAt: null, flips: 0, mode: "side-by-side", showing: "left", ready: false };
    $("trial").setAttribute("data-trial", t.id);
    updateProgress();
    setChoiceEnabled(false);
    $("panel-ref").hidden = !t.reference;
    var loads = [loadImage($("img-left"), t.left), loadImage($("img-right"), t.right)];
    if (t.reference) loads.push(loadImage($("img-ref"), t.reference));
    setMode("side-by-side");
    $("stage").setAttribute("aria-busy", "true");
    var mine = current;
    Promise.all(loads).then(function (ok) {
      if (mine !== current) return;
      $("stage").setAttribute("aria-busy", "false");
      if (ok.indexOf(false) >= 0) {
        $("wait").textContent = "An image could not be loaded. Keep this page beside its img folder and reload.";
        return;
      }
      current.ready = true;
      current.shownAt = performance.now();
      clearTimeout(enableTimer);
      enableTimer = setTimeout(function () { if (mine === current) setChoiceEnabled(true); }, D.min_view_ms);
      preload(D.trials[state.index + 1]);
    });
  }

  function choose(side) {
    if (!current || !current.ready) return;
    var elapsed = performance.now() - current.shownAt;
    if (elapsed < D.min_view_ms) return;
    state.answers.push({ trial: current.trial, choice: side, rt_ms: Math.round(elapsed), flips: current.flips });
    state.index += 1;
    current = null;
    save();
    startTrial();
  }

  function canonical(answers) {
    var lines = ["gcbench-study-answers/1", "study=" + D.study, "participant=" + D.participant, "token=" + D.token];
    answers.forEach(function (a) {
      lines.push("trial=" + a.trial + "," + a.choice + "," + a.rt_ms + "," + a.flips);
    });
    return lines.join("\n");
  }

  function answersText() {
    var doc = {
      format: "gcbench-study-answers", version: 1,
      study: D.study, participant: D.participant, token: D.token,
      started: state.started, finished: new Date().toISOString(),
      complete: state.answers.length === D.trials.length,
      client: { user_agent: navigator.userAgent, device_pixel_ratio: window.devicePixelRatio || 1,
                screen: [window.screen.width, window.screen.height] },
      trials: state.answers,
      signature: hmacSha256(D.key, canonical(state.answers))
    };
    return JSON.stringify(doc, null, 1);
  }

  function download() {
    var blob = new Blob([answersText()], { type: "application/json" });
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "answers-" + D.participant + ".json";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    $("download-status").textContent = "Saved as " + a.download + ". Please send this file to the person running the study.";
  }

  function post() {
    if (!D.post_url) return;
    $("post-status").textContent = "Sending your answers\u2026";
    fetch(D.post_url, { method: "POST", mode: "cors", credentials: "omit", headers: { "Content-Type": "text/plain" },
                        body: answersText() })
      .then(function (r) {
        $("post-status").textContent = r.ok ? "Your answers were sent." :
          "Sending failed (" + r.status + "); please download the file instead.";
      })
      .catch(function () { $("post-status").textContent = "Sending failed; please download the file instead."; });
  }

  function finish() {
    current = null;
    $("progress").value = D.trials.length;
    show("done");
    post();
    $("download").focus();
  }

  function start() {
    if (!state.started) state.started = new Date().toISOString();
    save();
    show("trial");
    startTrial();
  }

  // --- Wiring ------------------------------------------------------------------------------
  $("title").textContent = D.title;
  $("instructions").textContent = D.instructions;
  $("question").textContent = D.question;
  $("panel-ref").hidden = true;
  loadSaved();
  if (state.index > 0) {
    $("start").textContent = state.index >= D.trials.length ? "Show my answers" : "Continue (" + state.index + " of " + D.trials.length + " done)";
  }
  $("start").addEventListener("click", function () { this.blur(); start(); });
  $("choose-left").addEventListener("click", function () { this.blur(); choose("left"); });
  $("choose-right").addEventListener("click", function () { this.blur(); choose("right"); });
  $("flip").addEventListener("click", function () { this.blur(); flip(); });
  $("side-by-side").addEventListener("click", function () { this.blur(); setMode("side-by-side"); });
  $("img-left").addEventListener("click", function () { if (current && current.mode === "flip") flip(); });
  $("img-right").addEventListener("click", function () { if (current && current.mode === "flip") flip(); });
  $("download").addEventListener("click", function () { this.blur(); download(); });

  document.addEventListener("keydown", function (e) {
    if (e.repeat || e.ctrlKey || e.metaKey || e.altKey) return;
    var screen = document.body.getAttribute("data-screen");
    var handled = true;
    if (screen === "intro" && e.key === "Enter") start();
    else if (screen === "trial" && (e.key === "ArrowLeft" || e.key === "1")) choose("left");
    else if (screen === "trial" && (e.key === "ArrowRight" || e.key === "2")) choose("right");
    else if (screen === "trial" && (e.key === " " || e.key === "f" || e.key === "F")) flip();
    else if (screen === "trial" && (e.key === "s" || e.key === "S")) setMode("side-by-side");
    else if (screen === "done" && e.key === "Enter") download();
    else handled = false;
    if (handled) e.preventDefault();
  });
  show("intro");
  $("start").focus();
})();
